"""One-box benchmark: what `handover run` costs a small machine over months, idle and busy.

    python -m bench.onebox                          # 1,000,000 events (~20 min), idle 30 s
    python -m bench.onebox --events 100000 --idle-seconds 20   # a quicker look

Two measurements, each against a baseline run in the same invocation:

1. **Idle.** `handover run` (embedded broker, SQLite ledger, a form source, a file target) with
   nothing arriving: CPU of the whole process tree (Handover and its broker) over
   `--idle-seconds`, and the time from a form's POST to its line in the outbox after the idle
   spell. Baseline: the same with `kafka.idle_fetch_poll_s = 0` (consumers keep fetching, as
   before). Goal: under 0.02 of a core, latency kept.
2. **Months in minutes.** `--events` small forms, closed loop, through the same setup; the
   resident memory of the whole tree is sampled every second (a thread of its own) until every
   event is delivered. With broker rotation (`kafka.embedded_max_rss_mb`, the shipped default)
   against the baseline without it (`--baseline-events` of them, 0 to skip). Goal: the tree under
   300 MB (10^6 bytes) after 1,000,000 events.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import closed_loop
from services.common.config import KafkaConfig

ROOT = Path(__file__).resolve().parent.parent
GOAL_IDLE_CORES = 0.02
GOAL_RSS_MB = 300.0

CONFIG = """\
data_dir = "{data_dir}"
[server]
port = {port}
[ledger]
url = "sqlite:///{data_dir}/handover.db"
[logging]
level = "warning"
format = "json"
[kafka]
idle_fetch_poll_s = {poll}
embedded_max_rss_mb = {max_rss}
[web]
admin_password = "bench"
[sources.website]
kind = "form"
rate_limit_per_minute = 0
client_rate_limit_per_minute = 0
[targets.crm]
kind = "file"
[[flows]]
name = "Contact form to CRM"
on = "contact.submitted"
[[flows.actions]]
target = "crm"
action = "upsert_contact"
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree(root: int) -> list[int]:
    """The process and its children (the embedded broker)."""
    pids = [root]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == root:
                    pids.append(int(entry.name))
            except (OSError, ValueError):
                continue
    return pids


def cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of these processes."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            f = _stat(pid)
            total += (int(f[11]) + int(f[12])) / tick
        except OSError:
            continue
    return total


def rss_mb(pids: list[int]) -> float:
    """Resident memory of these processes, MB."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total / 1e6


class Box:
    """One `handover run` subprocess in its own data dir."""

    def __init__(self, root: Path, name: str, poll: float, max_rss: int) -> None:
        self.dir = root / name
        self.dir.mkdir()
        self.port = _free_port()
        (self.dir / "handover.toml").write_text(CONFIG.format(data_dir=self.dir, port=self.port, poll=poll,
                                                              max_rss=max_rss))
        self.outbox = self.dir / "outbox" / "crm.jsonl"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start and wait until ready."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "run", "--config", str(self.dir / "handover.toml")],
            cwd=ROOT, stdout=open(self.dir / "run.log", "wb"), stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"handover run did not get ready; see {self.dir}/run.log")

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)

    def delivered(self) -> int:
        """Lines in the outbox."""
        if not self.outbox.exists():
            return 0
        with self.outbox.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))

    def post(self, n: int) -> None:
        """One form."""
        body = json.dumps({"email": f"idle-{n}@example.com", "name": "Ann"}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/hooks/website", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 202, r.status

    def metric(self, name: str) -> float:
        """A sample from /metrics (0 when absent)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name):
                    return float(line.rsplit(" ", 1)[1])
        return 0.0


def measure_idle(box: Box, idle_s: float) -> dict[str, float]:
    """CPU of the idle tree, then one form's latency to the outbox after the idle spell."""
    assert box.proc is not None
    box.post(0)
    while box.delivered() < 1:
        time.sleep(0.01)
    time.sleep(5)  # let the consumers settle into idleness before counting
    pids = tree(box.proc.pid)
    before, t0 = cpu_s(pids), time.monotonic()
    time.sleep(idle_s)
    cores = (cpu_s(pids) - before) / (time.monotonic() - t0)
    t1 = time.perf_counter()
    box.post(1)
    while box.delivered() < 2:
        time.sleep(0.002)
    return {"idle_cores": round(cores, 4), "first_after_idle_ms": round((time.perf_counter() - t1) * 1000, 1)}


class PeakSampler(threading.Thread):
    """The tree's resident size every `every_s` seconds, in a thread of its own (so a busy load
    loop cannot hide a peak between its own samples); `peak` is the largest seen."""

    def __init__(self, root: int, every_s: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.root, self.every_s, self.peak = root, every_s, 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every_s):
            self.peak = max(self.peak, rss_mb(tree(self.root)))

    def stop(self) -> float:
        """Stop sampling; the peak."""
        self.done.set()
        self.join()
        return self.peak


def measure_long(box: Box, events: int, concurrency: int) -> dict[str, float]:
    """Send `events` forms; sample the tree's RSS every second until all are delivered."""
    assert box.proc is not None
    counter = iter(range(10**12))

    def make() -> bytes:
        body = b'{"email":"c%d@example.com","name":"Ann"}' % next(counter)
        return (b"POST /hooks/website HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    sampler = PeakSampler(box.proc.pid)
    sampler.start()
    peak, t0 = 0.0, time.monotonic()
    sent = 0  # accepted (2xx): what must reach the outbox
    rate_guess = 1000.0
    while sent < events:
        # A duration-bounded closed loop of about `chunk` requests; repeated until enough were accepted.
        chunk = min(events - sent, 20000)
        began = time.monotonic()
        r = asyncio.run(closed_loop("127.0.0.1", box.port, make, concurrency, chunk / rate_guess, warmup_s=0.0))
        rate_guess = max(50.0, r.requests / max(0.1, time.monotonic() - began))
        sent += r.statuses.get("202", 0)
        mb = rss_mb(tree(box.proc.pid))
        peak = max(peak, mb)
        if r.non_2xx or r.errors:
            print(f"  {r.non_2xx} non-2xx ({r.statuses}), {r.errors} connection errors", file=sys.stderr)
        print(f"  {sent:>9} accepted  {box.delivered():>9} delivered  tree {mb:7.1f} MB", file=sys.stderr)
    while box.delivered() < sent:
        mb = rss_mb(tree(box.proc.pid))
        peak = max(peak, mb)
        time.sleep(2)
    wall = time.monotonic() - t0
    final = rss_mb(tree(box.proc.pid))
    peak = max(peak, sampler.stop())
    db = sum(p.stat().st_size for p in box.dir.glob("handover.db*"))
    return {"events": sent, "wall_s": round(wall, 1), "events_per_s": round(sent / wall, 1),
            "peak_tree_mb": round(max(peak, final), 1), "final_tree_mb": round(final, 1),
            "rotations": box.metric('handover_embedded_broker_restarts_total{reason="rotation"}'),
            "ledger_mb": round(db / 1e6, 1), "ledger_bytes_per_event": round(db / max(1, sent))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--baseline-events", type=int, default=None,
                        help="events for the no-rotation baseline (default: --events; 0 skips it)")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="handover-onebox-"))
    results: dict[str, dict[str, float]] = {}
    limit = KafkaConfig().embedded_max_rss_mb  # the shipped default
    rotating = f"long, rotation at {limit} MiB"
    runs = [("idle", 5.0, limit, "idle"), ("idle (always fetching)", 0.0, limit, "idle"),
            (rotating, 5.0, limit, "long")]
    baseline = args.events if args.baseline_events is None else args.baseline_events
    if baseline:
        runs.append(("long, no rotation (baseline)", 5.0, 0, "long"))
    for i, (name, poll, max_rss, kind) in enumerate(runs):
        box = Box(root, f"run{i}", poll, max_rss)
        box.start()
        try:
            print(f"{name}: pid {box.proc.pid if box.proc else '?'}", file=sys.stderr)
            results[name] = (measure_idle(box, args.idle_seconds) if kind == "idle"
                             else measure_long(box, args.events if max_rss else baseline, args.concurrency))
        finally:
            box.stop()
    print(f"\nHandover one-box benchmark - {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
          f"Python {platform.python_version()}")
    for name, figures in results.items():
        print(f"{name:34} " + "  ".join(f"{k} {v}" for k, v in figures.items()))
    idle, busy = results["idle"], results["idle (always fetching)"]
    print(f"idle CPU: {idle['idle_cores']} of a core vs {busy['idle_cores']} always fetching "
          f"({idle['idle_cores'] / max(busy['idle_cores'], 1e-9):.2f}x; goal < {GOAL_IDLE_CORES}: "
          f"{'met' if idle['idle_cores'] < GOAL_IDLE_CORES else 'NOT met'}); first event after idle "
          f"{idle['first_after_idle_ms']} ms vs {busy['first_after_idle_ms']} ms")
    long = results[rotating]
    line = (f"tree peak {long['peak_tree_mb']} MB after {int(long['events'])} events (goal < {GOAL_RSS_MB:.0f} MB: "
            f"{'met' if long['peak_tree_mb'] < GOAL_RSS_MB else 'NOT met'}), {int(long['rotations'])} rotations")
    if "long, no rotation (baseline)" in results:
        base = results["long, no rotation (baseline)"]
        line += (f"; without rotation {base['peak_tree_mb']} MB after {int(base['events'])} "
                 f"({long['peak_tree_mb'] / base['peak_tree_mb']:.2f}x); throughput "
                 f"{long['events_per_s'] / base['events_per_s']:.2f}x of the baseline")
    print(line)
    if not args.keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"kept {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
