"""The gateway's dedupe memory on the ledger: batched, correct under concurrency, never early."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from services.common.embedded_broker import EmbeddedBroker
from services.gateway.app import INFLIGHT
from services.gateway.dedupe import BatchingDedupe
from services.ledger.store import SqlLedger, open_ledger
from tests.conftest import wait_for
from tests.gateway import harness
from tests.gateway.harness import signed_headers, unique
from tests.gateway.signing import fixture


class CountingStore:
    """Wraps the ledger and counts round trips."""

    def __init__(self, ledger: SqlLedger) -> None:
        self.ledger = ledger
        self.lookups = 0
        self.writes = 0

    async def seen_many(self, event_ids: Sequence[str]) -> set[str]:
        self.lookups += 1
        return await self.ledger.dedupe.seen_many(event_ids)

    async def remember_many(self, items: Sequence[tuple[str, float]]) -> None:
        self.writes += 1
        await self.ledger.dedupe.remember_many(items)


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[SqlLedger]:
    led = await open_ledger(f"sqlite:///{tmp_path}/d.db")
    yield led
    await led.close()


async def test_concurrent_lookups_and_writes_share_round_trips(ledger: SqlLedger) -> None:
    store = CountingStore(ledger)
    dedupe = BatchingDedupe(store)
    ids = [f"evt-{i}" for i in range(200)]
    assert await asyncio.gather(*(dedupe.seen(i) for i in ids)) == [False] * 200
    await asyncio.gather(*(dedupe.remember(i, 3600) for i in ids[:100]))
    answers = await asyncio.gather(*(dedupe.seen(i) for i in ids))
    assert answers == [True] * 100 + [False] * 100
    # 400 lookups and 100 writes took a handful of round trips, not 500.
    assert store.lookups <= 6 and store.writes <= 3


async def test_a_remembered_delivery_expires_after_its_window(ledger: SqlLedger) -> None:
    dedupe = BatchingDedupe(ledger.dedupe)
    await dedupe.remember("evt-old", -1)  # a window that has already passed
    await dedupe.remember("evt-new", 3600)
    assert await dedupe.seen("evt-old") is False
    assert await dedupe.seen("evt-new") is True


async def test_a_database_error_reaches_every_waiter(ledger: SqlLedger) -> None:
    dedupe = BatchingDedupe(ledger.dedupe)
    await ledger.close()  # the database goes away
    results = await asyncio.gather(*(dedupe.seen(f"e{i}") for i in range(5)), return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results)


class GatedStore:
    """A dedupe store whose writes wait until the test opens the gate (a slow database)."""

    def __init__(self) -> None:
        self.remembered: set[str] = set()
        self.gate = asyncio.Event()
        self.writes_waiting = 0

    async def seen(self, event_id: str) -> bool:
        return event_id in self.remembered

    async def remember(self, event_id: str, ttl_s: float) -> None:
        self.writes_waiting += 1
        await self.gate.wait()
        self.remembered.add(event_id)
        self.writes_waiting -= 1


async def test_the_answer_does_not_wait_for_the_dedupe_write_and_a_resend_still_publishes_nothing(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    store = GatedStore()
    settings = harness.gateway_settings(str(tmp_path), broker.bootstrap_servers)
    gw = await harness.start_gateway(settings, broker.bootstrap_servers, dedupe=store)
    try:
        delivery = unique()
        body = fixture("shopify/orders_create.json").replace(b'"#9999"', f'"#{delivery}"'.encode())
        status, _, first = await asyncio.wait_for(gw.post("shop", body, signed_headers("shop", body, delivery)), 10)
        # Answered after the Kafka ack while the dedupe write is still waiting on its database.
        assert (status, first["status"], store.writes_waiting) == (202, "accepted", 1)
        await wait_for(lambda: gw.published(delivery))
        resend = asyncio.create_task(gw.post("shop", body, signed_headers("shop", body, delivery)))
        assert gw.runtime.runner is not None
        inflight = gw.runtime.runner.app[INFLIGHT]
        await wait_for(lambda: inflight.queued() == 1)  # the resend arrived, and waits for the write
        assert not resend.done()
        store.gate.set()
        status, _, again = await resend
        assert (status, again["status"], again["event_ids"]) == (200, "duplicate", first["event_ids"])
        await gw.assert_nothing_published(unique())  # the canary orders everything before it
        assert len(gw.published(delivery)) == 1
        await wait_for(lambda: len(inflight) == 0)  # every guard released once its write is done
    finally:
        store.gate.set()
        await harness.stop_gateway(gw)
