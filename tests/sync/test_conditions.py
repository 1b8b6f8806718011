"""Flow conditions: a small safe expression language over the event's fields."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from schemas import ContactData, ContactSubmitted, OrderCreated, OrderData, Person
from services.sync.flows import compile_condition, event_context

WHEN = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)


def order(total: str, currency: str = "EUR") -> OrderCreated:
    return OrderCreated(id="o", source="shop", time=WHEN, data=OrderData(
        order_id="1", order_number="#1", currency=currency, total=Decimal(total), customer=Person(email="a@b.nl")))


def contact(consent: bool, email: str = "a@b.nl") -> ContactSubmitted:
    data = ContactData(contact=Person(email=email), consent=consent)
    return ContactSubmitted(id="c", source="web", time=WHEN, data=data)


@pytest.mark.parametrize(
    ("expr", "total", "holds"),
    [
        ("order.total >= 100", "100.00", True),
        ("order.total >= 100", "99.99", False),
        ("order.total > 99.99", "100", True),
        ("order.total >= 100 and order.currency == 'EUR'", "150", True),
        ("order.currency in ['DKK', 'SEK']", "150", False),
        ("not order.total < 10", "10", True),
        ("100 <= order.total < 200", "199.99", True),
    ],
)
def test_order_conditions_compare_exact_amounts(expr: str, total: str, holds: bool) -> None:
    condition = compile_condition(expr, "flows[0].if", "order.created")
    assert condition(event_context(order(total))) is holds


def test_consent_condition_reads_booleans() -> None:
    condition = compile_condition("contact.consent == true", "flows[0].if", "contact.submitted")
    assert condition(event_context(contact(True))) is True
    assert condition(event_context(contact(False))) is False


def test_an_empty_condition_always_holds() -> None:
    assert compile_condition("  ", "flows[0].if", "order.created")(event_context(order("1")))
