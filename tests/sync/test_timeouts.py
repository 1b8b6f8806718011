"""A target that does not answer within the delivery timeout: the call is given up, retried, once."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from schemas import ContactData, ContactSubmitted, Person
from services.common.broker import EmbeddedBroker
from services.common.kafka import Publisher
from services.ledger.store import DeliveryRow, SqlLedger
from tests.conftest import wait_for
from tests.sync.handover import start_sync
from tests.sync.target import TargetServer


async def test_a_call_without_an_answer_in_time_is_given_up_and_retried_with_one_effect(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    target = TargetServer()
    await target.start()
    runtime, _ = await start_sync(
        broker, tmp_path, "slowpoke", target,
        sync="delivery_timeout_s = 0.3\nbackoff_initial_s = 0.05\nbackoff_max_s = 0.2",
    )
    publisher = Publisher(runtime.settings.kafka)
    await publisher.start()
    rules = target.rule("slowpoke")
    rules.delay_s = 2.0  # every answer comes too late, until told otherwise
    try:
        assert runtime.sync is not None and isinstance(runtime.ledger, SqlLedger)
        ledger = runtime.ledger
        await runtime.sync.wait_assigned()
        now = dt.datetime.now(dt.UTC)
        event = ContactSubmitted(id=f"slow-{uuid.uuid4()}", source="website", time=now, received_at=now,
                                 data=ContactData(contact=Person(email="wacht@example.nl")))
        await publisher.publish(event)
        key = f"{event.id}:f:send"

        async def timed_out() -> DeliveryRow | None:
            row = await ledger.delivery(key)
            return row if row is not None and "within 0.3 s" in row.last_error else None

        row = await wait_for(timed_out, timeout=10)
        assert row.status in ("failed", "retrying") and row.attempts >= 1
        rules.delay_s = 0.0
        await wait_for(lambda: target.ok[("slowpoke", key)] >= 1)
        assert target.effects[("slowpoke", key)] == 1
        await wait_for(lambda: _delivered(ledger, key))
    finally:
        rules.delay_s = 0.0
        await publisher.stop()
        await runtime.stop()
        await target.close()


async def _delivered(ledger: SqlLedger, key: str) -> bool:
    row = await ledger.delivery(key)
    return row is not None and row.status == "delivered"
