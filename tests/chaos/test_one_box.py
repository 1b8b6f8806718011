"""The one-box default under fire: `handover run` with its embedded broker and SQLite ledger,
SIGKILLed as a whole (an OOM kill, a crash, a power cut), its broker killed alone, and stopped
cleanly with a backlog. Every webhook answered 2xx must end with each expected action done
exactly once at its target, or dead-lettered; none lost, none twice, none left retrying."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp.web
import pytest

from services.common.embedded_broker import free_port
from tests.chaos.checker import Sent
from tests.chaos.world import REPO, ChaosTarget, Misbehaviour, Sender, chaos_config, http_ready, make_webhook
from tests.conftest import wait_for

pytestmark = pytest.mark.slow

FINISHED = ("delivered", "deadlettered")


def one_box_config(path: Path, data_dir: Path, port: int, alpha: str, beta: str) -> None:
    """The chaos config on the embedded broker (no bootstrap servers): the journal is on."""
    path.write_text(chaos_config(data_dir, "", port, alpha, beta, breaker_threshold=1_000_000))


@dataclass
class OneBox:
    """One `handover run` in its own process group, started again on the same data after a kill."""

    config: Path
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Where it answers."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Start it and wait until its webhooks are taken (readiness, not a sleep)."""
        self._spawn()
        await http_ready(self.url + "/readyz", within_s=60)

    def _spawn(self) -> None:
        self.starts += 1
        out = open(self.data_dir / f"run-{self.starts}.log", "wb")
        env = {**os.environ, "PYTHONPATH": str(REPO), "HANDOVER_WEB_ADMIN_PASSWORD": "chaos-admin"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "run", "--config", str(self.config)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=REPO,
            start_new_session=True,  # its own process group, as a service manager gives it
        )
        out.close()

    def broker_pid(self) -> int | None:
        """The embedded broker: the child of `handover run` running Tansu."""
        assert self.process is not None
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.process.pid and b"broker" in cmd:
                return int(entry.name)
        return None

    async def kill(self, broker_first: bool = False) -> None:
        """SIGKILL the whole process group (with `broker_first`, the broker a moment before, as
        a power cut finds them), and wait until both are gone."""
        assert self.process is not None
        broker = self.broker_pid()
        if broker_first and broker is not None:
            os.kill(broker, signal.SIGKILL)
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.kills.append("power-cut" if broker_first else "kill -9")
        if broker is not None:
            await wait_for(lambda: not Path(f"/proc/{broker}").exists() or _zombie(broker), timeout=10)

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM, as systemctl stop does; its exit code (it must stop within the drain time)."""
        assert self.process is not None
        self.process.terminate()
        return self.process.wait(timeout_s)

    def ensure_stopped(self) -> None:
        """Whatever state the test left it in: gone."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def accepted_event_ids(sent: list[Sent]) -> set[str]:
    """Every event id a 2xx answer named."""
    return {e for s in sent for a in s.answers if 200 <= a.status < 300 for e in a.event_ids}


def ledger_state(db: Path, event_ids: set[str]) -> tuple[set[str], dict[str, tuple[str, str]], dict[str, str]]:
    """(recorded event ids, expected action key -> (event id, target), action key -> delivery status)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        recorded = {r[0] for r in conn.execute("SELECT id FROM events")} & event_ids
        expected = {
            f"{e}:{flow}:{action}": (e, target)
            for e, flow, action, target in conn.execute("SELECT event_id, flow, action, target FROM expected_actions")
            if e in event_ids
        }
        status = dict(conn.execute("SELECT key, status FROM deliveries"))
    finally:
        conn.close()
    return recorded, expected, status


async def finished(db: Path, event_ids: set[str]) -> bool:
    """Every accepted event recorded, and each of its expected actions delivered or dead-lettered."""
    recorded, expected, status = ledger_state(db, event_ids)
    return recorded == event_ids and all(status.get(k) in FINISHED for k in expected)


def check_exactly_once(db: Path, sent: list[Sent], targets: dict[str, ChaosTarget]) -> dict[str, int]:
    """Nothing lost, nothing twice, nothing stranded; the figures for docs/reliability.md."""
    accepted = accepted_event_ids(sent)
    recorded, expected, status = ledger_state(db, accepted)
    lost_events = accepted - recorded
    assert not lost_events, f"{len(lost_events)} events answered 2xx are not in the ledger: {sorted(lost_events)[:5]}"
    # Every event type of the chaos flows asks for at least one action: an event recorded with none
    # would count as finished and never be delivered (reliability.md, bug 13).
    bare = recorded - {e for e, _ in expected.values()}
    assert not bare, f"{len(bare)} events answered 2xx have no expected actions in the ledger: {sorted(bare)[:5]}"
    effects = {name: t.effects for name, t in targets.items()}
    lost, twice, stranded, dead = [], [], [], 0
    for key, (_, target) in expected.items():
        done = effects[target].get(key) is not None
        calls = [c for c in targets[target].calls if c.key == key and c.effect]
        if len(calls) > 1:
            twice.append(key)
        st = status.get(key)
        if st == "deadlettered":
            dead += 1
            assert not done or st, key
        elif st == "delivered":
            if not done:
                lost.append(key)
        else:
            stranded.append((key, st))
    assert not lost, f"{len(lost)} actions recorded as delivered never reached their target: {lost[:5]}"
    assert not twice, f"{len(twice)} actions took effect twice: {twice[:5]}"
    assert not stranded, f"{len(stranded)} actions left unfinished: {stranded[:5]}"
    # Every effect at a target belongs to an expected action of an accepted event: nothing made up.
    extra = [k for t in targets.values() for k in t.effects if k not in expected]
    unanswered = [(s.key, s.source, [(a.status, a.event_ids) for a in s.answers]) for s in sent
                  if not any(a.event_ids for a in s.answers if 200 <= a.status < 300)]
    assert not extra, f"effects nobody asked for: {extra[:5]}; webhooks never accepted: {unanswered[:10]}"
    return {"accepted": len(accepted), "actions": len(expected), "dead_lettered": dead}


@pytest.fixture
async def targets() -> dict[str, ChaosTarget]:
    """Two HTTP targets that fail 20% of calls and refuse a few keys for good."""
    rng = random.Random(1717)
    made = {
        name: ChaosTarget(name, rng, Misbehaviour(error_500=0.2, throttle_429=0.0, late=0.0),
                          prefix=f"/{uuid.uuid4().hex[:8]}")
        for name in ("alpha", "beta")
    }
    for t in made.values():
        await t.start()
    yield made
    for t in made.values():
        await t.close()


async def stream(sender: Sender, rng: random.Random, n: int, rate: float) -> None:
    """Send n signed webhooks and forms at `rate` per second, each retried as a vendor does."""
    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(sender.send(make_webhook(rng, i))))
        await asyncio.sleep(1 / rate)  # pacing the senders, not synchronising the test
    await asyncio.gather(*tasks)


async def test_one_box_survives_kill_9_power_cuts_and_a_dead_broker(
    tmp_path: Path, targets: dict[str, ChaosTarget]
) -> None:
    """Three SIGKILLs of the whole `handover run` (one of them broker first, within milliseconds),
    the broker killed alone while Handover runs, beta down for a while, 20% failures: every
    accepted webhook's actions happen exactly once or are dead-lettered."""
    box = OneBox(tmp_path / "handover.toml", tmp_path, free_port())
    one_box_config(box.config, tmp_path, box.port, targets["alpha"].url, targets["beta"].url)
    rng = random.Random(17)
    sender = Sender(box.url, retry_after_cap_s=0.5, deadline_s=240)
    db = tmp_path / "ledger.db"
    try:
        await box.start()
        sending = asyncio.create_task(stream(sender, rng, 360, rate=30.0))

        async def some_accepted(n: int) -> bool:
            return len(accepted_event_ids(sender.sent())) >= n

        await wait_for(lambda: some_accepted(60), timeout=60)
        await box.kill()
        await box.start()
        await wait_for(lambda: some_accepted(130), timeout=60)
        await targets["beta"].down()
        await box.kill(broker_first=True)  # the power-cut order: broker gone first
        await box.start()
        await wait_for(lambda: some_accepted(190), timeout=60)
        await targets["beta"].start()
        # The broker alone dies: Handover notices, starts a fresh one, re-drives, carries on.
        broker = box.broker_pid()
        assert broker is not None
        os.kill(broker, signal.SIGKILL)
        await wait_for(lambda: box.broker_pid() not in (None, broker), timeout=30)
        await wait_for(lambda: some_accepted(250), timeout=60)
        await box.kill()
        await box.start()
        await sending
        await wait_for(lambda: finished(db, accepted_event_ids(sender.sent())), timeout=180, interval=0.5)
        figures = check_exactly_once(db, sender.sent(), targets)
        assert figures["accepted"] >= 300
        print(f"\none box: {len(box.kills)} kills ({', '.join(box.kills)}) + 1 broker kill, {figures}")
    finally:
        await sender.close()
        box.ensure_stopped()


class SlowTarget(ChaosTarget):
    """A target that takes `latency_s` over every call (a slow SaaS), failing nothing."""

    latency_s = 0.0

    async def receive(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        """Answer after the latency."""
        if self.latency_s:
            await asyncio.sleep(self.latency_s)  # the target's own slowness, not test synchronisation
        return await super().receive(request)


async def test_a_clean_stop_with_a_backlog_loses_nothing(tmp_path: Path) -> None:
    """Thousands of accepted events, many still waiting for a slow target when SIGTERM comes:
    the stop is prompt, and after the restart every one is delivered, once."""
    rng = random.Random(23)
    calm = Misbehaviour(error_500=0.0, throttle_429=0.0, late=0.0, permanent_one_in=0)
    fast = ChaosTarget("alpha", rng, calm, prefix=f"/{uuid.uuid4().hex[:8]}")
    slow = SlowTarget("beta", rng, calm, prefix=f"/{uuid.uuid4().hex[:8]}")
    slow.latency_s = 0.5
    targets = {"alpha": fast, "beta": slow}
    for t in targets.values():
        await t.start()
    box = OneBox(tmp_path / "handover.toml", tmp_path, free_port())
    one_box_config(box.config, tmp_path, box.port, fast.url, slow.url)
    box.config.write_text(box.config.read_text().replace("delivery_timeout_s = 1.0", "delivery_timeout_s = 5.0"))
    sender = Sender(box.url, retry_after_cap_s=0.5, deadline_s=120)
    db = tmp_path / "ledger.db"
    try:
        await box.start()
        hooks = [make_webhook(rng, i) for i in range(2000)]
        sem = asyncio.Semaphore(32)

        async def send(w: Any) -> None:
            async with sem:
                await sender.send(w)

        await asyncio.gather(*(send(w) for w in hooks))
        accepted = accepted_event_ids(sender.sent())
        assert len(accepted) >= 2000
        _, expected, status = ledger_state(db, accepted)
        waiting = [k for k, (_, t) in expected.items() if t == "beta" and status.get(k) != "delivered"]
        assert len(waiting) > 300, len(waiting)  # a real backlog at the moment of the stop
        assert box.stop(timeout_s=60) == 0
        slow.latency_s = 0.0
        await box.start()
        await wait_for(lambda: finished(db, accepted), timeout=180, interval=0.5)
        figures = check_exactly_once(db, sender.sent(), targets)
        assert figures["dead_lettered"] == 0
        print(f"\nclean stop: {len(waiting)} actions waiting at SIGTERM, {figures}")
    finally:
        await sender.close()
        box.ensure_stopped()
        for t in targets.values():
            await t.close()
