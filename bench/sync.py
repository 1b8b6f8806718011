"""Sync engine throughput: consume -> map -> deliver (HTTP 200) -> SQLite ledger -> commit.

Measured in one run on an embedded broker, over the same pre-published backlog of events:
  raw        a bare aiokafka consume + decode loop (the ceiling: no delivery at all)
  client     no Kafka at all: the aiohttp client alone POSTing the same bodies to the same target,
             as many at once as Handover's sync.concurrency (the ceiling of delivering over HTTP)
  faststream a FastStream subscriber POSTing each event to the target, per-message ack
  handover   Handover's SyncService (http connector, SQLite ledger, offset tracking, commits)
  handover-lookup  the same, with the action declared a "lookup" create (#18): the ledger marks
             every call in flight ("sending") before it goes out, one more write per action
Each mode uses its own consumer group and is timed from its first handled record to the moment
every record is handled and committed (group joins are excluded: they cost seconds on Tansu).

    PYTHONPATH=. /work/venv-dev/bin/python -m bench.sync [--events 10000] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas import ContactData, ContactSubmitted, Person, decode_event, encode_event
from schemas.topics import event_topic
from services.assembly import parse_settings
from services.common.embedded_broker import EmbeddedBroker, free_port
from services.common.kafka import all_topics, ensure_topics
from services.common.logging import configure_logging
from services.common.memory import tune_gc, untune_gc
from services.common.metrics import Metrics
from services.ledger.store import open_ledger
from services.sync.runner import SyncService, TargetWorker

TOPIC = event_topic("contact.submitted")
PARTITIONS = 3


def serve_target(port: int) -> None:
    """The fast target, in its own process: answer every POST 200 with a small JSON body."""

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"id": request.headers.get("Idempotency-Key", "")})

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, handle_signals=True)


def contact(i: int, now: dt.datetime) -> ContactSubmitted:
    """The benchmark's i-th ~1 KB contact event."""
    return ContactSubmitted(
        id=f"bench-{i}", source="website", time=now, received_at=now, subject=f"lead{i}@example.nl",
        data=ContactData(
            contact=Person(email=f"lead{i}@example.nl", name=f"Zoë Jansen {i}", phone="+31 6 1234 5678"),
            message="Hallo, kunt u mij terugbellen over de offerte? " * 14,
        ),
    )


async def publish(bootstrap: str, n: int) -> dict[int, int]:
    """Publish `n` ~1 KB contact events (distinct keys); return the end offset per partition."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    ends: dict[int, int] = {}
    try:
        now = dt.datetime.now(dt.UTC)
        futures = []
        for i in range(n):
            event = contact(i, now)
            futures.append(await producer.send(TOPIC, encode_event(event), key=event.business_key.encode()))
        for meta in await asyncio.gather(*futures):
            ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
    finally:
        await producer.stop()
    return ends


class Clock:
    """First handled record and last completion, for one mode."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last: float | None = None

    def tick(self) -> None:
        """Note the first handled record."""
        if self.first is None:
            self.first = time.perf_counter()

    def rate(self, n: int) -> float:
        """Records per second between first and last."""
        assert self.first is not None and self.last is not None
        return n / (self.last - self.first)


async def wait_until(done: Callable[[], bool], limit_s: float = 600) -> None:
    """Poll (10 ms) until `done()`."""
    deadline = time.monotonic() + limit_s
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the run did not finish")
        await asyncio.sleep(0.01)


async def run_raw(bootstrap: str, n: int, rep: int = 0) -> float:
    """A bare aiokafka loop: consume, decode, commit per batch."""
    clock = Clock()
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, group_id=f"bench-raw-{rep}", enable_auto_commit=False,
        auto_offset_reset="earliest", fetch_max_wait_ms=20, session_timeout_ms=6000, heartbeat_interval_ms=1000,
        max_poll_records=500,
    )
    await consumer.start()
    seen = 0
    try:
        while seen < n:
            batches = await consumer.getmany(timeout_ms=100, max_records=500)
            for records in batches.values():
                clock.tick()
                for record in records:
                    decode_event(record.value or b"")
                    seen += 1
            if batches:
                await consumer.commit()
        clock.last = time.perf_counter()
    finally:
        await consumer.stop()
    return clock.rate(n)


async def run_client(target: str, n: int, concurrency: int) -> float:
    """The HTTP delivery alone: `n` POSTs of the benchmark's bodies over one aiohttp session."""
    clock = Clock()
    now = dt.datetime.now(dt.UTC)
    bodies = [encode_event(contact(i, now)) for i in range(n)]
    queue = iter(range(n))
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            for i in queue:
                clock.tick()
                async with session.post(f"{target}/client", data=bodies[i], headers={
                    "Content-Type": "application/json", "Idempotency-Key": f"client-{i}:flow:send"}) as resp:
                    await resp.read()
                    resp.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        clock.last = time.perf_counter()
    return clock.rate(n)


async def run_faststream(bootstrap: str, target: str, n: int, rep: int = 0) -> float:
    """A FastStream subscriber: decode, POST to the target, ack (commit) per message."""
    from faststream import AckPolicy
    from faststream.kafka import KafkaBroker
    from faststream.kafka.annotations import KafkaMessage

    clock = Clock()
    handled = 0
    broker = KafkaBroker(bootstrap, logger=None)
    session = aiohttp.ClientSession()

    @broker.subscriber(
        TOPIC, group_id=f"bench-faststream-{rep}", auto_offset_reset="earliest", ack_policy=AckPolicy.ACK,
        fetch_max_wait_ms=20, session_timeout_ms=6000, heartbeat_interval_ms=1000,
    )
    async def handle(msg: KafkaMessage) -> None:
        nonlocal handled
        clock.tick()
        event = decode_event(msg.body)
        async with session.post(
            f"{target}/faststream", data=encode_event(event),
            headers={"Content-Type": "application/json", "Idempotency-Key": f"{event.id}:flow:send"},
        ) as resp:
            await resp.read()
            resp.raise_for_status()
        handled += 1
        if handled >= n:
            clock.last = time.perf_counter()

    await broker.start()
    try:
        await wait_until(lambda: clock.last is not None)
        # Per-message ack: the last commit happens right after the handler returns.
    finally:
        await broker.stop()
        await session.close()
    return clock.rate(n)


CONFIG = """
data_dir = "{data_dir}"
[ledger]
url = "sqlite:///{data_dir}/ledger.db"
[logging]
level = "warning"
[kafka]
bootstrap_servers = "{bootstrap}"
idempotence = false
session_timeout_ms = 6000
heartbeat_interval_ms = 1000
[sync]
concurrency = {concurrency}
[targets.{name}]
kind = "http"
url = "{target}/handover"
[[flows]]
name = "lead"
on = "contact.submitted"
[[flows.actions]]
target = "{name}"
action = "send"
"""


async def run_handover(
    bootstrap: str, target: str, n: int, ends: dict[int, int], concurrency: int, rep: int = 0,
    lookup: bool = False,
) -> float:
    """Handover's SyncService with the SQLite ledger; done when every offset is committed.
    `lookup`: the action is a "lookup" create (marked in flight in the ledger before each call)."""
    clock = Clock()
    original = TargetWorker._handle

    async def timed(self: TargetWorker, record: Any) -> None:
        clock.tick()
        await original(self, record)

    TargetWorker._handle = timed  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as data_dir:
        settings = parse_settings(
            CONFIG.format(
                data_dir=data_dir, bootstrap=bootstrap, target=target, concurrency=concurrency,
                name=f"bench{rep}{'l' if lookup else ''}",
            ),
            env={},
        )
        configure_logging(settings.logging)
        await ensure_topics(settings.kafka, all_topics(settings))
        ledger = await open_ledger(settings.ledger.url)
        service = SyncService(settings, Metrics(), ledger=ledger.deliveries, idmap=ledger.idmap)
        await service.start()
        gc_before = tune_gc()  # as `handover sync` does once started; undone for the next mode
        [worker] = service.workers
        if lookup:
            worker.connector.repeats = {"send": "lookup"}  # type: ignore[misc]
        want = {TopicPartition(TOPIC, p): end for p, end in ends.items()}

        def committed() -> bool:
            return all(
                (t := worker.offsets.get(tp)) is not None and t.committed == end for tp, end in want.items()
            )

        try:
            await wait_until(committed)
            clock.last = time.perf_counter()
            rows = await ledger.db.fetchrow("SELECT COUNT(*) FROM deliveries WHERE status = 'delivered'")
            assert rows is not None and rows[0] == n, rows
        finally:
            untune_gc(gc_before)
            await service.stop()
            await ledger.close()
            TargetWorker._handle = original  # type: ignore[method-assign]
    return clock.rate(n)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Run all three modes on one fresh broker and print the figures and ratios."""
    broker = EmbeddedBroker()
    await broker.astart()
    port = free_port()
    target_proc = multiprocessing.get_context("spawn").Process(target=serve_target, args=(port,), daemon=True)
    target_proc.start()
    target = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(200):
                try:
                    async with s.post(f"{target}/ping", data=b"{}") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
        from services.common.config import KafkaConfig

        await ensure_topics(KafkaConfig(bootstrap_servers=broker.bootstrap_servers, partitions=PARTITIONS), [TOPIC])
        ends = await publish(broker.bootstrap_servers, args.events)
        runs: dict[str, list[float]] = {}
        modes = args.modes.split(",")
        for rep in range(args.reps):  # interleaved, so drift on the machine hits every mode alike
            for mode in modes:
                bs = broker.bootstrap_servers
                if mode == "raw":
                    rate = await run_raw(bs, args.events, rep)
                elif mode == "client":
                    rate = await run_client(target, args.events, args.concurrency)
                elif mode == "faststream":
                    rate = await run_faststream(bs, target, args.events, rep)
                else:
                    rate = await run_handover(bs, target, args.events, ends, args.concurrency, rep,
                                              lookup=mode == "handover-lookup")
                runs.setdefault(mode, []).append(rate)
                print(f"rep {rep + 1} {mode:<11} {rate:>10,.0f} events/s", flush=True)
        results = {mode: statistics.median(rates) for mode, rates in runs.items()}
        for mode, rate in results.items():
            print(f"median {mode:<11} {rate:>10,.0f} events/s", flush=True)
    finally:
        target_proc.terminate()
        target_proc.join()
        await broker.astop()
    out: dict[str, Any] = {
        "events": args.events, "reps": args.reps, "concurrency": args.concurrency,
        "events_per_s": {k: round(v, 1) for k, v in results.items()},
        "runs": {k: [round(x, 1) for x in v] for k, v in runs.items()},
    }
    if "handover" in results:
        if "faststream" in results:
            out["handover_vs_faststream"] = round(results["handover"] / results["faststream"], 2)
        if "handover-lookup" in results:
            out["lookup_vs_handover"] = round(results["handover-lookup"] / results["handover"], 3)
        if "raw" in results:
            out["handover_vs_raw"] = round(results["handover"] / results["raw"], 3)
        if "client" in results:
            out["handover_vs_client"] = round(results["handover"] / results["client"], 3)
        if "client" in results and "faststream" in results:
            out["client_vs_faststream"] = round(results["client"] / results["faststream"], 2)
        out["goals"] = {
            ">=2000/s": results["handover"] >= 2000,
            ">=5x faststream": out.get("handover_vs_faststream", 0) >= 5,
        }
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16, help="sync.concurrency for Handover")
    parser.add_argument("--modes", default="raw,client,handover,faststream")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions; medians are reported")
    parser.add_argument("--json", metavar="FILE", help="also write the results here")
    ns = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    result = asyncio.run(main(ns))
    if ns.json:
        Path(ns.json).write_text(json.dumps(result, indent=2))
    sys.exit(0)
