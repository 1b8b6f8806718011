"""The ledger's part of the outcome protocol, on SQLite and PostgreSQL: a "lookup" create in
flight, or in doubt after a lost answer, is reported so the next owner looks it up first."""

from __future__ import annotations

from services.ledger.store import SqlLedger
from tests.sync.conftest import order_event
from tests.sync.test_ledger import ledger, uid  # noqa: F401 - the fixture runs on both backends


async def test_a_lookup_create_in_flight_or_in_doubt_is_reported_ambiguous_until_settled(ledger: SqlLedger) -> None:  # noqa: F811
    ev = order_event(event_id=uid("ev"))
    key = f"{ev.id}:invoice:create_sales_invoice"
    assert await ledger.deliveries.begin(key, ev, "books", "invoice", "create_sales_invoice", "lookup") is None
    await ledger.deliveries.sending(key, 1)
    # The process died here, or the answer was lost: Moneybird may hold the invoice.
    assert await ledger.deliveries.begin(key, ev, "books", "invoice", "create_sales_invoice", "lookup") == "ambiguous"
    await ledger.deliveries.in_doubt(key, "Transient: no answer within 10 s", 2)
    assert await ledger.deliveries.begin(key, ev, "books", "invoice", "create_sales_invoice", "lookup") == "ambiguous"
    row = await ledger.delivery(key)
    assert row is not None
    assert (row.status, row.attempts, row.last_error) == ("sending", 2, "Transient: no answer within 10 s")
    await ledger.deliveries.delivered(key, "inv-1", 3)  # found by the lookup
    assert await ledger.deliveries.begin(key, ev, "books", "invoice", "create_sales_invoice", "lookup") == "delivered"
