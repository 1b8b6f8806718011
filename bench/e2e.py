"""End-to-end benchmark: signed webhook in -> action delivered at a local HTTP target.

Everything on this machine: the embedded broker (Tansu), Handover as one `handover run`
subprocess against it (gateway, sync, recorder, web), a local aiohttp target in its own process
(the `http` connector delivers to it) and the load generator. Latency is measured from just before the
request is sent to the arrival of the action at the target.

    python bench/e2e.py                      # 300 events/s for 60 s, then step the rate up
    python bench/e2e.py --duration 10 --step-duration 8 --no-max   # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._common import CpuShares  # noqa: E402
from services.common.config import KafkaConfig  # noqa: E402
from services.common.embedded_broker import EmbeddedBroker, free_port  # noqa: E402
from tests.gateway import signing  # noqa: E402

SECRET = "shpss_bench"
CONFIG = """
data_dir = "{data_dir}"
[server]
port = {port}
[ledger]
url = "sqlite:///{data_dir}/ledger.db"
[logging]
level = "warning"
format = "json"
[kafka]
bootstrap_servers = "{bootstrap}"
idempotence = false
session_timeout_ms = 6000
heartbeat_interval_ms = 1000
fetch_max_wait_ms = {fetch_max_wait_ms}
partitions = {partitions}
[sources.shop]
kind = "shopify"
secret = "{secret}"
rate_limit_per_minute = 10000000
[targets.bench]
kind = "http"
url = "{target}/effects"
[[flows]]
name = "orders"
on = "order.created"
[[flows.actions]]
target = "bench"
action = "send"
"""


def serve_target(port: int) -> None:
    """The target, in its own process (so the load generator's work never delays an arrival's
    timestamp): notes when each Idempotency-Key first arrives, answers 201 at once, and hands
    the arrivals out on GET /arrivals?after=N (time.perf_counter is one clock for every process
    on Linux: CLOCK_MONOTONIC)."""
    arrived: dict[str, float] = {}
    order: list[str] = []

    async def receive(request: web.Request) -> web.Response:
        now = time.perf_counter()
        await request.read()
        key = request.headers.get("Idempotency-Key", "")
        if key not in arrived:
            arrived[key] = now
            order.append(key)
        return web.json_response({"id": "ok"}, status=201)

    async def arrivals(request: web.Request) -> web.Response:
        after = int(request.query.get("after", "0"))
        return web.json_response([[k, arrived[k]] for k in order[after:]])

    app = web.Application()
    app.router.add_post("/effects", receive)
    app.router.add_get("/arrivals", arrivals)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


class Target:
    """The target process, and the arrivals read from it so far."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.port = free_port()
        self.proc = multiprocessing.get_context("spawn").Process(target=serve_target, args=(self.port,), daemon=True)
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Start the process and wait until it answers."""
        self.proc.start()
        self.http = aiohttp.ClientSession()
        for _ in range(400):
            try:
                await self.refresh()
                return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        raise SystemExit("the target process did not start")

    async def refresh(self) -> None:
        """Fetch the arrivals not seen yet."""
        assert self.http is not None
        async with self.http.get(f"http://127.0.0.1:{self.port}/arrivals",
                                 params={"after": str(len(self.arrived))}) as r:
            for key, at in await r.json():
                self.arrived[key] = at

    async def stop(self) -> None:
        """Stop the process."""
        if self.http is not None:
            await self.http.close()
        self.proc.terminate()
        self.proc.join(10)


class Load:
    """Signed Shopify orders at a fixed rate; remembers each one's send time and event id."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))
        self.template = json.loads(signing.fixture("shopify/orders_create.json"))
        self.sent: dict[str, float] = {}  # idempotency key at the target -> send time
        self.answered: dict[str, float] = {}  # idempotency key -> seconds until the gateway's 202
        self.errors = 0
        self.n = 0

    async def one(self) -> None:
        """Send one order."""
        self.n += 1
        doc = dict(self.template, id=10**12 + self.n, name=f"#B{self.n}-{uuid.uuid4().hex[:6]}")
        body = json.dumps(doc).encode()
        d = uuid.uuid4().hex
        headers = {"Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
                   "X-Shopify-Webhook-Id": d, "X-Shopify-Event-Id": d, **signing.shopify(SECRET, body)}
        t = time.perf_counter()
        try:
            async with self.http.post(self.url, data=body, headers=headers) as r:
                data = await r.json()
                if r.status != 202:
                    self.errors += 1
                    return
        except (aiohttp.ClientError, TimeoutError):
            self.errors += 1
            return
        answered = time.perf_counter() - t
        for eid in data["event_ids"]:
            self.sent[f"{eid}:orders:send"] = t
            self.answered[f"{eid}:orders:send"] = answered

    async def run(self, rate: float, seconds: float) -> list[str]:
        """Send at `rate`/s for `seconds`; the keys sent."""
        before = set(self.sent)
        start = time.perf_counter()
        tasks = []
        total = int(rate * seconds)
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.one()))
        await asyncio.gather(*tasks)
        return [k for k in self.sent if k not in before]


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) in ms."""
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def settle(target: Target, keys: list[str], within_s: float) -> None:
    """Poll until every key arrived or `within_s` passed."""
    deadline = time.perf_counter() + within_s
    await target.refresh()
    while time.perf_counter() < deadline and not all(k in target.arrived for k in keys):
        await asyncio.sleep(0.05)  # polling another process
        await target.refresh()


async def measure(load: Load, target: Target, rate: float, seconds: float, cpu: CpuShares) -> dict[str, Any]:
    """One run at a fixed rate: latency percentiles, how much arrived, CPU per process while sending."""
    cpu.start()
    keys = await load.run(rate, seconds)
    shares = cpu.shares()
    await settle(target, keys, max(10.0, seconds))
    lat = [target.arrived[k] - load.sent[k] for k in keys if k in target.arrived]
    gw = [load.answered[k] for k in keys]
    if seconds >= 30:  # how latency develops over a long run: p99 per 10 s of sending
        t0 = min(load.sent[k] for k in keys)
        windows: dict[int, list[float]] = {}
        for k in keys:
            if k in target.arrived:
                windows.setdefault(int((load.sent[k] - t0) // 10), []).append(target.arrived[k] - load.sent[k])
        print("p99 per 10 s window (ms):", " ".join(f"{pct(v, 99):.0f}" for _, v in sorted(windows.items())))
    return {
        "gw_p99": pct(gw, 99) if gw else float("nan"),
        "rate": rate, "sent": len(keys), "arrived": len(lat), "errors": load.errors,
        "p50": pct(lat, 50) if lat else float("nan"), "p95": pct(lat, 95) if lat else float("nan"),
        "p99": pct(lat, 99) if lat else float("nan"), "mean": 1000 * statistics.fmean(lat) if lat else float("nan"),
        "cpu": shares,
    }


def start_handover(command: str, config: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """`handover <command>` against the configured broker, its output in `log_path`."""
    with open(log_path, "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "services.cli", command, "--config", str(config)], cwd=REPO,
                                env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=log, stderr=subprocess.STDOUT)


async def main() -> None:
    """Start everything, measure, print Markdown rows."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=300)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--step-duration", type=float, default=20)
    ap.add_argument("--steps", default="50,100,150,200,300,400,600,800")
    ap.add_argument("--processes", choices=("run", "split"), default="run",
                    help="run: one `handover run` process; split: `handover gateway` + `handover sync`")
    ap.add_argument("--no-max", action="store_true", help="skip the maximum-rate search")
    ap.add_argument("--fetch-max-wait-ms", type=int, default=20)
    ap.add_argument("--partitions", type=int, default=KafkaConfig().partitions,
                    help=f"kafka.partitions (default: Handover's default, {KafkaConfig().partitions})")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="handover-e2e-"))
    broker = EmbeddedBroker(log_path=tmp / "tansu.log")
    broker.start()
    target = Target()
    await target.start()
    port = free_port()
    config = tmp / "handover.toml"
    config.write_text(CONFIG.format(data_dir=tmp, port=port, bootstrap=broker.bootstrap_servers, secret=SECRET,
                                    target=f"http://127.0.0.1:{target.port}",
                                    fetch_max_wait_ms=args.fetch_max_wait_ms, partitions=args.partitions))
    sync_config = tmp / "sync.toml"
    sync_config.write_text(config.read_text().replace(f"port = {port}", "port = 0", 1))
    procs = [start_handover("run", config, tmp / "handover.log")] if args.processes == "run" else [
        start_handover("gateway", config, tmp / "gateway.log"), start_handover("sync", sync_config, tmp / "sync.log")]
    load = Load(f"http://127.0.0.1:{port}/hooks/shop")
    try:
        deadline = time.perf_counter() + 60
        while True:  # warm up: the gateway answers and the sync group has joined
            try:
                keys = await load.run(20, 0.5)
                await settle(target, keys, 2)
                if keys and all(k in target.arrived for k in keys):
                    break
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)
            if time.perf_counter() > deadline:
                raise SystemExit("Handover did not come up; see " + str(tmp / "handover.log"))
        load.errors = 0
        assert broker.process is not None and target.proc.pid is not None
        names = ["handover"] if args.processes == "run" else ["gateway", "sync"]
        cpu = CpuShares({"broker": broker.process.pid, **{n: p.pid for n, p in zip(names, procs, strict=True)},
                         "load": os.getpid(), "target": target.proc.pid})
        print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
              f"Python {platform.python_version()}, fetch_max_wait_ms={args.fetch_max_wait_ms}, "
              f"partitions={args.partitions}")
        print(f"processes: {args.processes}")
        print("| rate/s | seconds | sent | arrived | errors | p50 ms | p95 ms | p99 ms | 202 p99 ms | load "
              f"| CPU % {' / '.join(cpu.pids)} |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")

        def row(r: dict[str, Any], seconds: float) -> None:
            shares = " / ".join(f"{100 * v:.0f}" for v in r["cpu"].values())
            print(f"| {r['rate']:.0f} | {seconds:.0f} | {r['sent']:.0f} | {r['arrived']:.0f} | {r['errors']:.0f} "
                  f"| {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | {r['gw_p99']:.1f} "
                  f"| {os.getloadavg()[0]:.1f} | {shares} |",
                  flush=True)

        fixed = await measure(load, target, args.rate, args.duration, cpu)
        row(fixed, args.duration)
        if not args.no_max:
            best = 0.0
            for rate in map(float, args.steps.split(",")):
                load.errors = 0
                r = await measure(load, target, rate, args.step_duration, cpu)
                row(r, args.step_duration)
                kept_up = r["sent"] >= 0.98 * rate * args.step_duration and r["arrived"] == r["sent"]
                if r["p99"] < 1000 and kept_up and not r["errors"]:
                    best = rate
                else:
                    break
            print(f"maximum sustained rate with p99 < 1 s: {best:.0f} events/s (of the steps tried)")
        print(f"goal p99 < 50 ms at {args.rate:.0f}/s: {'met' if fixed['p99'] < 50 else 'NOT met'} "
              f"(p99 {fixed['p99']:.1f} ms)")
    finally:
        await load.http.close()
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        await target.stop()
        broker.stop()


if __name__ == "__main__":
    asyncio.run(main())
