"""The calculator reads measured volumes from the ledger: complete weeks only, each delivery once,
test events and dead letters apart; typed handovers survive a restart."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from schemas import ContactData, ContactSubmitted, Person
from services.ledger.calculator_store import WEEK_S, LedgerCalculatorStore
from services.ledger.store import SqlLedger, open_ledger


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[SqlLedger]:
    led = await open_ledger(f"sqlite:///{tmp_path}/ledger.db")
    yield led
    await led.close()


def contact(i: int, test: bool = False) -> ContactSubmitted:
    return ContactSubmitted(
        id=f"evt-{i}", source="website", time=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), test=test,
        data=ContactData(contact=Person(email=f"p{i}@example.com")),
    )


async def deliver(ledger: SqlLedger, i: int, at: float, *, test: bool = False, attempts: int = 1) -> None:
    key = f"evt-{i}:flow:crm_upsert"
    await ledger.deliveries.begin(key, contact(i, test), "crm", "flow", "crm_upsert", "natural")
    await ledger.deliveries.delivered(key, f"ext-{i}", attempts)
    await ledger.db.execute("UPDATE deliveries SET delivered_at = $2 WHERE key = $1", key, at)


async def test_weekly_counts_cover_complete_weeks_from_the_first_delivery(ledger: SqlLedger) -> None:
    now = 100 * WEEK_S + 3 * 86400  # three days into week 100
    week = lambda n: n * WEEK_S + 3600  # noqa: E731 - an hour into week n
    # 2 deliveries in week 96, none in 97, 3 in 98, 1 in 99, and 4 in the current partial week 100.
    times = [week(96)] * 2 + [week(98)] * 3 + [week(99)] + [week(100)] * 4
    for i, at in enumerate(times):
        await deliver(ledger, i, at)
    await deliver(ledger, 99, week(98), test=True)  # a vendor test delivery: never counted
    store = LedgerCalculatorStore(ledger, clock=lambda: now)

    [volume] = await store.action_volumes(weeks=8)

    assert (volume.flow, volume.action, volume.target) == ("flow", "crm_upsert", "crm")
    # Weeks 92..99 are the complete window; weeks before the first delivery (96) are left out.
    assert volume.weekly_delivered == (2, 0, 3, 1)
    assert volume.delivered_total == len(times)
    assert volume.test_events == 1


async def test_a_redelivered_action_counts_once_and_its_retries_are_reported(ledger: SqlLedger) -> None:
    await deliver(ledger, 1, 10 * WEEK_S, attempts=3)
    await ledger.deliveries.begin("evt-1:flow:crm_upsert", contact(1), "crm", "flow", "crm_upsert", "natural")
    store = LedgerCalculatorStore(ledger, clock=lambda: 11 * WEEK_S + 1)
    [volume] = await store.action_volumes(weeks=4)
    assert volume.weekly_delivered == (1,)
    assert volume.delivered_total == 1
    assert volume.redeliveries == 2


async def test_dead_letters_are_reported_apart_from_deliveries(ledger: SqlLedger) -> None:
    key = "evt-7:flow:crm_upsert"
    await ledger.deliveries.begin(key, contact(7), "crm", "flow", "crm_upsert", "natural")
    await ledger.deliveries.deadlettered(key, "Permanent: 400", 1, 0)
    [volume] = await LedgerCalculatorStore(ledger).action_volumes(weeks=8)
    assert volume.dead_letters == 1 and volume.delivered_total == 0 and volume.weekly_delivered == ()


async def test_typed_handovers_are_kept_in_the_ledger(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/typed.db"
    first = await open_ledger(url)
    await LedgerCalculatorStore(first).save_typed({"handovers[0].volume.likely": "12.5", "settings.country": "NL"})
    await first.close()
    again = await open_ledger(url)
    try:
        assert await LedgerCalculatorStore(again).load_typed() == {
            "handovers[0].volume.likely": "12.5", "settings.country": "NL",
        }
    finally:
        await again.close()
