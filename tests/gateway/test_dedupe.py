"""The gateway's dedupe memory on the ledger: batched, correct under concurrency, never early."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from services.gateway.dedupe import BatchingDedupe
from services.ledger.store import SqlLedger, open_ledger


class CountingStore:
    """Wraps the ledger and counts round trips."""

    def __init__(self, ledger: SqlLedger) -> None:
        self.ledger = ledger
        self.lookups = 0
        self.writes = 0

    async def seen_many(self, event_ids: Sequence[str]) -> set[str]:
        self.lookups += 1
        return await self.ledger.seen_many(event_ids)

    async def remember_many(self, items: Sequence[tuple[str, float]]) -> None:
        self.writes += 1
        await self.ledger.remember_many(items)


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
    dedupe = BatchingDedupe(ledger)
    await dedupe.remember("evt-old", -1)  # a window that has already passed
    await dedupe.remember("evt-new", 3600)
    assert await dedupe.seen("evt-old") is False
    assert await dedupe.seen("evt-new") is True


async def test_a_database_error_reaches_every_waiter(ledger: SqlLedger) -> None:
    dedupe = BatchingDedupe(ledger)
    await ledger.close()  # the database goes away
    results = await asyncio.gather(*(dedupe.seen(f"e{i}") for i in range(5)), return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results)
