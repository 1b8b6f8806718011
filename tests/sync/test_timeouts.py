"""Calls and time: a call without an answer in time is given up and retried; a stop lets the calls
in flight finish and starts no new ones."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path

from schemas import ContactData, ContactSubmitted, Person
from services.common.embedded_broker import EmbeddedBroker
from services.common.kafka import Publisher
from services.ledger.rows import DeliveryRow
from services.ledger.store import SqlLedger
from tests.conftest import wait_for
from tests.sync.handover import start_sync
from tests.sync.target import TargetServer


def contacts(marker: str, n: int) -> list[ContactSubmitted]:
    """`n` contact events whose bodies carry `marker` (the target slows down only those)."""
    now = dt.datetime.now(dt.UTC)
    return [
        ContactSubmitted(id=f"{marker}-{i}", source="website", time=now, received_at=now,
                         subject=f"{marker}-{i}@example.nl",
                         data=ContactData(contact=Person(email=f"{marker}-{i}@example.nl")))
        for i in range(n)
    ]


async def test_a_call_without_an_answer_in_time_is_given_up_and_retried(broker: EmbeddedBroker, tmp_path: Path) -> None:
    target = TargetServer()
    await target.start()
    runtime, _ = await start_sync(
        broker, tmp_path, "slowpoke", target,
        sync={"delivery_timeout_s": 0.3, "backoff_initial_s": 0.05, "backoff_max_s": 0.2},
    )
    publisher = Publisher(runtime.settings.kafka)
    await publisher.start()
    marker = f"slow-{uuid.uuid4().hex[:8]}"
    rules = target.rule("slowpoke")
    rules.delay_s, rules.slow = 2.0, {marker}  # this test's answers come too late, until told otherwise
    try:
        assert runtime.sync is not None and isinstance(runtime.ledger, SqlLedger)
        ledger = runtime.ledger
        await runtime.sync.wait_assigned()
        [event] = contacts(marker, 1)
        await publisher.publish(event)
        key = f"{event.id}:f:send"

        async def timed_out() -> DeliveryRow | None:
            row = await ledger.delivery(key)
            return row if row is not None and row.attempts >= 2 else None

        # Given up twice (each a Transient error from the http connector's own request timeout).
        row = await wait_for(timed_out, timeout=20)
        assert row.status in ("failed", "retrying") and "no answer from POST" in row.last_error
        assert "within 0.3 s" in row.last_error
        rules.delay_s = 0.0

        async def delivered() -> DeliveryRow | None:
            row = await ledger.delivery(key)
            return row if row is not None and row.status == "delivered" else None

        row = await wait_for(delivered, timeout=20)
        assert row.attempts >= 3 and target.arrived[("slowpoke", key)] == row.attempts
    finally:
        rules.delay_s = 0.0
        await publisher.stop()
        await runtime.stop()
        await target.close()


async def test_a_stop_lets_the_call_in_flight_finish_and_starts_no_new_one(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    target = TargetServer()
    await target.start()
    runtime, worker = await start_sync(
        broker, tmp_path, "drainone", target, sync={"concurrency": 1, "delivery_timeout_s": 3},
    )
    publisher = Publisher(runtime.settings.kafka)
    await publisher.start()
    marker = f"drain-{uuid.uuid4().hex[:8]}"
    rules = target.rule("drainone")
    rules.delay_s, rules.slow = 1.0, {marker}
    events = contacts(marker, 3)
    ours = {f"{e.id}:f:send" for e in events}
    try:
        assert runtime.sync is not None
        await runtime.sync.wait_assigned()
        await publisher.publish_many(list(events))
        # One call of ours at the target (one slot), the other records waiting in hand.
        await wait_for(lambda: target.in_flight["drainone"] == 1 and any(target.arrived[("drainone", k)] for k in ours))
        await asyncio.wait_for(runtime.stop(), timeout=10)
        started = [k for k in ours if target.arrived[("drainone", k)]]
        assert len(started) == 1  # no call began after the stop did
        assert target.ok[("drainone", started[0])] == 1  # and the one in flight was answered
        assert not worker.tasks
    finally:
        rules.delay_s = 0.0
        await publisher.stop()
        await runtime.stop()
        await target.close()
