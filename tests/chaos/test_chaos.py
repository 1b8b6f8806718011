"""Handover under fire: real broker, real `handover` subprocesses SIGKILLed at random moments,
targets that fail, throttle, answer late and go down, hostile input, and a broker outage.
Short runs are part of `make test`; `make soak` runs the full size (HANDOVER_SOAK=1)."""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from services.common.embedded_broker import EmbeddedBroker, free_port
from services.ledger.store import open_ledger
from tests.chaos.checker import Sent, Summary, check
from tests.chaos.world import (
    DEEP_JSON_KINDS,
    ChaosTarget,
    Misbehaviour,
    Proc,
    Sender,
    Tap,
    Webhook,
    hostile_webhooks,
    http_ready,
    make_webhook,
    write_config,
)
from tests.conftest import wait_for

pytestmark = pytest.mark.integration  # its own broker and `handover` subprocesses

SOAK = os.environ.get("HANDOVER_SOAK") == "1"
RESULTS = Path(os.environ.get("HANDOVER_CHAOS_RESULTS", "var/chaos"))


@dataclass(frozen=True)
class Size:
    """How big a run is."""

    webhooks: int
    rate: float  # webhooks per second
    sync_kills: int
    gateway_kills: int
    target_down_s: float
    hostile: int
    drain_s: float


SHORT = Size(webhooks=300, rate=25.0, sync_kills=2, gateway_kills=1, target_down_s=4.0, hostile=16, drain_s=60)
FULL = Size(webhooks=10_000, rate=50.0, sync_kills=5, gateway_kills=3, target_down_s=30.0, hostile=200, drain_s=600)


def report(name: str, summary: Summary) -> None:
    """Print the table and keep it under var/chaos/ for docs/reliability.md."""
    table = summary.table(name)
    print("\n" + table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.txt").write_text(table + "\n")


# The circuit breaker never closes again once open (see test_an_open_breaker_closes_when_the_target_recovers):
# the main runs keep it out of the way so that they prove everything else.
NO_BREAKER = 1_000_000
SAFE_HOSTILE = tuple(range(8))  # every kind, deeply nested JSON included (fixed: a 400)


class Handover:
    """Gateway, sync (and optionally recorder) subprocesses on one broker and config."""

    def __init__(self, tmp: Path, broker: EmbeddedBroker, alpha: ChaosTarget, beta: ChaosTarget,
                 recorder: bool = False, breaker_threshold: int = NO_BREAKER) -> None:
        self.port = free_port()
        self.gw_config, self.config = tmp / "gateway.toml", tmp / "handover.toml"
        kw = {"breaker_threshold": breaker_threshold}
        write_config(self.gw_config, tmp, broker.bootstrap_servers, self.port, alpha.url, beta.url, **kw)
        self.settings = write_config(self.config, tmp, broker.bootstrap_servers, 0, alpha.url, beta.url, **kw)
        self.gateway = Proc("gateway", self.gw_config, tmp)
        self.sync = Proc("sync", self.config, tmp)
        self.recorder = Proc("recorder", self.config, tmp) if recorder else None

    @property
    def base_url(self) -> str:
        """The gateway's URL."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Gateway first (it creates the topics), then the consumers."""
        self.gateway.start()
        await http_ready(self.base_url + "/healthz")
        self.sync.start()
        if self.recorder:
            self.recorder.start()

    def procs(self) -> list[Proc]:
        """Every process."""
        return [p for p in (self.gateway, self.sync, self.recorder) if p is not None]

    def stop(self) -> None:
        """Stop every process."""
        for p in self.procs():
            p.stop()


async def drained(tap: Tap, sent: list[Sent], targets: dict[str, ChaosTarget], within_s: float) -> bool:
    """Wait (polling) until every accepted event was read back, every expected action took effect
    or was dead-lettered, and every sync group committed to the end; False on timeout."""
    accepted = {e for s in sent if s.valid for a in s.answers if 200 <= a.status < 300 for e in a.event_ids}

    async def done() -> bool:
        seen = {p.event_id for p in tap.published}
        return accepted <= seen and tap.pending(targets) == 0 and await tap.all_committed()

    try:
        await wait_for(done, timeout=within_s, interval=0.2)
    except AssertionError:
        return False
    return True


async def fire(sender: Sender, webhooks: list[Webhook], hostile: list[Webhook], rate: float,
               rng: random.Random) -> None:
    """Send at a steady rate; 5% resent (half of them concurrently), hostile ones mixed in."""
    tasks: list[asyncio.Task[None]] = []
    start = time.monotonic()
    hostile_at: dict[int, list[Webhook]] = {}
    for h in hostile:
        hostile_at.setdefault(rng.randrange(len(webhooks)), []).append(h)

    async def resend_after(w: Webhook, first: asyncio.Task[None]) -> None:
        await first
        await sender.send(w)

    for i, w in enumerate(webhooks):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing the load, not synchronisation
        first = asyncio.create_task(sender.send(w))
        tasks.append(first)
        roll = rng.random()
        if roll < 0.025:
            tasks.append(asyncio.create_task(sender.send(w)))  # the vendor fired it twice at once
        elif roll < 0.05:
            tasks.append(asyncio.create_task(resend_after(w, first)))  # the vendor retried later
        tasks += [asyncio.create_task(sender.send(h)) for h in hostile_at.get(i, [])]
    await asyncio.gather(*tasks)


async def chaos(handover: Handover, beta: ChaosTarget, size: Size, rng: random.Random, duration: float) -> None:
    """SIGKILL and restart sync and gateway at random moments; take beta down for a while."""
    moments = [(rng.uniform(0.1, 0.8) * duration, "sync") for _ in range(size.sync_kills)]
    moments += [(rng.uniform(0.1, 0.8) * duration, "gateway") for _ in range(size.gateway_kills)]
    moments += [(rng.uniform(0.1, 0.5) * duration, "target")]
    start = time.monotonic()
    down: list[asyncio.Task[None]] = []

    async def outage() -> None:
        await beta.down()
        await asyncio.sleep(size.target_down_s)  # the length of the outage is the chaos itself
        await beta.start()

    for at, what in sorted(moments):
        await asyncio.sleep(max(0.0, start + at - time.monotonic()))
        if what == "target":
            down.append(asyncio.create_task(outage()))
            continue
        proc = handover.sync if what == "sync" else handover.gateway
        proc.kill()
        proc.start()
    await asyncio.gather(*down)


async def run_chaos(tmp: Path, size: Size, seed: int) -> Summary:
    """One chaos run end to end; returns the checker's summary."""
    rng = random.Random(seed)
    broker = EmbeddedBroker(log_path=tmp / "tansu.log")
    await broker.astart()
    alpha = ChaosTarget("alpha", random.Random(seed + 1))
    beta = ChaosTarget("beta", random.Random(seed + 2))
    targets = {"alpha": alpha, "beta": beta}
    for t in targets.values():
        await t.start()
    handover = Handover(tmp, broker, alpha, beta)
    sender = Sender(handover.base_url, deadline_s=size.drain_s)
    tap = Tap(handover.settings)
    try:
        await handover.start()
        await tap.start()
        webhooks = [make_webhook(rng, i) for i in range(size.webhooks)]
        t0 = time.monotonic()
        duration = size.webhooks / size.rate
        await asyncio.gather(
            fire(sender, webhooks, hostile_webhooks(size.hostile, SAFE_HOSTILE), size.rate, rng),
            chaos(handover, beta, size, rng, duration),
        )
        sent_at = time.monotonic()
        ok = await drained(tap, sender.sent(), targets, size.drain_s)
        state = "drained" if ok else "NOT drained"
        print(f"\nsent in {sent_at - t0:.1f} s; {state} {time.monotonic() - sent_at:.1f} s later")
        calls = alpha.calls + beta.calls
        summary = check(sender.sent(), tap.published, calls, tap.deadletters, tap.snapshots)
        assert handover.sync.kills == size.sync_kills and handover.gateway.kills == size.gateway_kills
        return summary
    finally:
        await tap.stop()
        await sender.close()
        handover.stop()
        for t in targets.values():
            await t.close()
        await broker.astop()


async def test_kills_flaky_targets_and_hostile_input_lose_and_double_nothing(tmp_path: Path) -> None:
    """The short run: a few hundred webhooks, sync killed twice, gateway once, beta down 4 s."""
    summary = await run_chaos(tmp_path, SHORT, seed=int(os.environ.get("HANDOVER_CHAOS_SEED", "7")))
    report("chaos-short", summary)
    assert summary.accepted == SHORT.webhooks and summary.hostile == SHORT.hostile
    assert summary.retries_at_targets > summary.expected_actions  # the targets really misbehaved
    assert summary.ok, summary.table()


@pytest.mark.slow
@pytest.mark.skipif(not SOAK, reason="full-size soak: `make soak` (HANDOVER_SOAK=1)")
async def test_soak_ten_thousand_webhooks_under_fire(tmp_path: Path) -> None:
    """The full run: 10,000 webhooks, sync killed 5 times, gateway 3 times, beta down 30 s."""
    summary = await run_chaos(tmp_path, FULL, seed=int(os.environ.get("HANDOVER_CHAOS_SEED", "11")))
    report("chaos-soak", summary)
    assert summary.accepted == FULL.webhooks
    assert summary.ok, summary.table()


class World:
    """A broker, two targets and Handover's processes, torn down in reverse order."""

    def __init__(self, tmp: Path, broker_port: int | None = None, **handover_kw: object) -> None:
        self.tmp = tmp
        self.broker = EmbeddedBroker(port=broker_port, log_path=tmp / "tansu.log")
        calm = Misbehaviour(error_500=0, throttle_429=0, late=0, permanent_one_in=0)
        self.targets = {n: ChaosTarget(n, random.Random(i), calm) for i, n in enumerate(("alpha", "beta"))}
        self.handover_kw = handover_kw

    async def __aenter__(self) -> World:
        await self.broker.astart()
        for t in self.targets.values():
            await t.start()
        self.handover = Handover(self.tmp, self.broker, self.targets["alpha"], self.targets["beta"],
                                 **self.handover_kw)  # type: ignore[arg-type]
        self.sender = Sender(self.handover.base_url, retry_after_cap_s=1.0, deadline_s=60)
        await self.handover.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.sender.close()
        self.handover.stop()
        for t in self.targets.values():
            await t.close()
        await self.broker.astop()


async def test_deeply_nested_json_is_rejected_with_a_4xx(tmp_path: Path) -> None:
    """Signed Shopify arrays 100,000 deep and a 50,000-deep form body: 4xx, nothing published."""
    async with World(tmp_path) as w:
        hostile = hostile_webhooks(2, DEEP_JSON_KINDS)
        for h in hostile:
            await w.sender.send(h, retry=False)
        assert [h.sent.answers[-1].status // 100 for h in hostile] == [4, 4], [
            (h.sent.key, h.sent.answers[-1].status) for h in hostile]


async def test_an_open_breaker_closes_when_the_target_recovers(tmp_path: Path) -> None:
    """A target that fails 5 times in a row and then recovers gets every action delivered."""
    async with World(tmp_path, breaker_threshold=5) as w:
        alpha = w.targets["alpha"]
        alpha.mis.error_500 = 1.0
        rng = random.Random(3)
        hooks = [make_webhook(rng, i) for i in range(10)]
        await asyncio.gather(*(w.sender.send(h) for h in hooks))
        await wait_for(lambda: len(alpha.calls) >= 5, timeout=30)  # the breaker is open now
        alpha.mis.error_500 = 0.0
        tap = Tap(w.handover.settings)
        await tap.start()
        try:
            ok = await drained(tap, w.sender.sent(), w.targets, 10)
            pending = tap.pending(w.targets)
            assert ok, f"alpha got {len(alpha.calls)} calls, {len(alpha.effects)} effects; pending {pending}"
        finally:
            await tap.stop()


KNOWN_BROKER_BUG = (
    "KNOWN TEST-BROKER BUG (docs/reliability.md, bug 3): after its restart the embedded broker (Tansu 0.6, "
    "memory storage) starts with fresh partitions, and concurrent first writes into a fresh partition can be "
    "acknowledged and then not kept (python -m tests.chaos.repro_broker_fresh_partition shows it with plain "
    "aiokafka); the checker then reports an accepted event missing from Kafka, about 1 run in 10-25. "
    "Apache Kafka does not lose acknowledged writes this way.")


async def test_a_broker_outage_is_answered_503_and_recovered_from_by_itself(tmp_path: Path) -> None:
    """Traffic drained, broker stopped: 503 + Retry-After, never 2xx. Broker back on the same port
    (empty): gateway, recorder and sync reconnect by themselves and deliver everything accepted."""
    port = free_port()
    async with World(tmp_path, broker_port=port, recorder=True) as w:
        rng = random.Random(5)
        before = [make_webhook(rng, i) for i in range(30)]
        tap = Tap(w.handover.settings)
        await tap.start()
        await asyncio.gather(*(w.sender.send(h) for h in before))
        assert await drained(tap, w.sender.sent(), w.targets, 60), "phase 1 did not drain"
        s1 = check(w.sender.sent(), tap.published, _calls(w), tap.deadletters, tap.snapshots)
        report("broker-outage-before", s1)
        assert s1.ok and s1.accepted == 30
        await tap.stop()

        await w.broker.astop()
        during = [make_webhook(rng, 100 + i) for i in range(8)]
        await asyncio.gather(*(w.sender.send(h, retry=False) for h in during))
        answers = [h.sent.answers[-1] for h in during]
        assert [a.status for a in answers] == [503] * 8, [(a.status, a.reason) for a in answers]
        assert all(a.headers.get("Retry-After", "").isdigit() for a in answers)

        w.broker = EmbeddedBroker(port=port, log_path=tmp_path / "tansu-2.log")
        await w.broker.astart()
        after = [make_webhook(rng, 200 + i) for i in range(30)]
        t0, t0_wall = time.monotonic(), time.time()
        # The vendors retry what got a 503, and new deliveries arrive.
        sending = asyncio.gather(*(w.sender.send(h) for h in during + after))
        tap = Tap(w.handover.settings)  # the event topics exist again once the gateway re-created them
        await tap.start()
        await sending
        ok = await drained(tap, [h.sent for h in during + after], w.targets, 60)
        print(f"\nafter the outage: {'drained' if ok else 'NOT drained'} in {time.monotonic() - t0:.1f} s")
        if not ok:
            for target in w.targets:
                committed = await tap.committed(target)
                print(target, {f"{tp.topic[16:]}:{tp.partition}": (committed.get(tp), tap.consumer.highwater(tp))
                               for tp in tap.tps if tp.topic.startswith("handover.events.")})
        for t in w.targets.values():
            t.calls = [c for c in t.calls if c.at >= t0_wall]
        phase2 = [h.sent for h in during + after]
        s2 = check(phase2, tap.published, _calls(w), tap.deadletters, tap.snapshots)
        in_kafka = {p.event_id for p in tap.published}
        await tap.stop()
        report("broker-outage-after", s2)
        # The test broker's known lost write (bug 3) is an accepted event missing from Kafka with
        # everything else clean; every other check still runs, on the events the broker kept.
        broker_lost_writes = bool(s2.not_in_kafka) and replace(s2, not_in_kafka=0).ok
        assert s2.accepted == 38, s2.table()
        assert all(p.alive() for p in w.handover.procs())
        ledger = await open_ledger(w.handover.settings.ledger.url)
        try:
            ids = [e for s in phase2 for a in s.answers if a.status == 202 for e in a.event_ids if e in in_kafka]

            async def recorded() -> bool:
                return all([await ledger.event(e) is not None for e in ids])

            await wait_for(recorded, timeout=30, interval=0.2)
        finally:
            await ledger.close()
        if broker_lost_writes:
            pytest.xfail(KNOWN_BROKER_BUG)
        assert s2.ok, s2.table()


def _calls(w: World) -> list:  # type: ignore[type-arg]
    return [c for t in w.targets.values() for c in t.calls]
