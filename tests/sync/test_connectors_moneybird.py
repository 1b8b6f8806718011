"""Moneybird specifics: exact money, tax-rate mapping, contact lookup, the client-side limiter."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from schemas import OrderLine, Person
from services.assembly import parse_settings
from services.common.config import ConfigError
from services.common.ratelimit import SlidingWindow
from services.sync.errors import Permanent, Transient
from tests.sync.conftest import make_request, order_event

TAX = {"21": "400000000000000021", "9": "400000000000000009"}
ADM = "123456789012345678"


class Clock:
    """A hand-moved clock."""

    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def table(moneybird_fake):
    """The target's config table."""
    return {"kind": "moneybird", "base_url": moneybird_fake.url + "/api/v2",
            "administration_id": ADM, "tax_rates": TAX}


@pytest.fixture
async def moneybird(moneybird_fake, connect, table):
    """A Moneybird connector pointed at the fake."""
    return await connect(table, moneybird_fake.token)


def invoice_request(**changes):
    """create_sales_invoice for an order."""
    return make_request("moneybird", "create_sales_invoice", order_event(**changes))


async def test_invoice_values_arrive_exactly(moneybird, moneybird_fake) -> None:
    customer = Person(email="zoe@example.nl", first_name="Zoë", last_name="Ålesund-Ørsted",
                      phone="+31 (0)6 1234 5678", external_id="820982911946154508")
    lines = [
        OrderLine(name="Zoë's lamp — Ørsted", quantity=Decimal("1"),
                  unit_price=Decimal("1234.56"), total=Decimal("1234.56"),
                  tax_rate=Decimal("21"), tax_amount=Decimal("259.26")),
        OrderLine(name="Boek", quantity=Decimal("3"), unit_price=Decimal("0.10"),
                  total=Decimal("0.30"), tax_rate=Decimal("9.00")),
    ]
    delivered = await moneybird.deliver(
        invoice_request(customer=customer, lines=lines, prices_include_tax=True, total=Decimal("1234.86")))
    (call,) = moneybird_fake.calls("POST", "/sales_invoices.json")
    assert call.path == f"/api/v2/{ADM}/sales_invoices.json"
    assert call.headers["Authorization"] == "Bearer test-token"
    invoice = call.json["sales_invoice"]
    contact = next(iter(moneybird_fake.contacts.values()))
    assert invoice == {
        "contact_id": contact["id"],
        "reference": "#1001",
        "invoice_date": "2026-01-15",
        "currency": "EUR",
        "prices_are_incl_tax": True,
        "details_attributes": [
            {"description": "Zoë's lamp — Ørsted", "amount": "1", "price": "1234.56",
             "tax_rate_id": "400000000000000021"},
            {"description": "Boek", "amount": "3", "price": "0.10",
             "tax_rate_id": "400000000000000009"},
        ],
    }
    # The raw bytes carry the prices as strings, never as JSON numbers.
    assert b'"price":"1234.56"' in call.raw and b'"price":"0.10"' in call.raw
    assert contact["customer_id"] == "820982911946154508"
    assert contact["firstname"] == "Zoë" and contact["lastname"] == "Ålesund-Ørsted"
    assert contact["phone"] == "+31 (0)6 1234 5678"
    assert contact["address1"] == "Keizersgracht 1ø" and contact["city"] == "Åmsterdam"
    assert delivered.external_id in moneybird_fake.invoices


async def test_default_order_prices_excl_tax(moneybird, moneybird_fake) -> None:
    await moneybird.deliver(invoice_request())
    (invoice,) = moneybird_fake.invoices.values()
    assert invoice["prices_are_incl_tax"] is False
    assert [d["price"] for d in invoice["details_attributes"]] == ["567.28", "100.00"]
    assert [d["amount"] for d in invoice["details_attributes"]] == ["2", "1"]
    (contact,) = moneybird_fake.contacts.values()
    assert contact["customer_id"] == "7412093857261" and contact["phone"] == "0031612345678"


async def test_unmapped_tax_rate_is_permanent_and_sends_nothing(moneybird, moneybird_fake) -> None:
    line = OrderLine(name="Zero-rated", quantity=Decimal("1"), unit_price=Decimal("5"),
                     total=Decimal("5"), tax_rate=Decimal("13.5"))
    with pytest.raises(Permanent) as info:
        await moneybird.deliver(invoice_request(lines=[line]))
    assert "13.5%" in info.value.message
    assert moneybird_fake.requests == []


async def test_shipping_becomes_a_line_at_the_lines_rate(moneybird, moneybird_fake) -> None:
    line = OrderLine(name="Lamp", quantity=Decimal("1"), unit_price=Decimal("10.00"),
                     total=Decimal("10.00"), tax_rate=Decimal("21"))
    # (10.00 + 4.95) + 21% = 18.09
    await moneybird.deliver(invoice_request(lines=[line], shipping_total=Decimal("4.95"), total=Decimal("18.09")))
    (invoice,) = moneybird_fake.invoices.values()
    assert invoice["details_attributes"][-1] == {
        "description": "Shipping", "amount": "1", "price": "4.95",
        "tax_rate_id": "400000000000000021"}


async def test_existing_contact_is_found_by_customer_id(moneybird, moneybird_fake, idmap) -> None:
    moneybird_fake.contacts["111"] = {"id": "111", "customer_id": "7412093857261",
                                      "company_name": "Old"}
    await moneybird.deliver(invoice_request())
    assert list(moneybird_fake.contacts) == ["111"]
    assert moneybird_fake.calls("PATCH", "/contacts/111.json")
    (invoice,) = moneybird_fake.invoices.values()
    assert invoice["contact_id"] == "111"
    assert idmap.data[("t1", "contact:7412093857261")] == "111"


async def test_second_order_of_a_customer_skips_the_lookup(moneybird, moneybird_fake) -> None:
    await moneybird.deliver(invoice_request())
    await moneybird.deliver(make_request("moneybird", "create_sales_invoice",
                                         order_event(event_id="ev-order-2")))
    assert len(moneybird_fake.contacts) == 1 and len(moneybird_fake.invoices) == 2
    assert len(moneybird_fake.calls("GET", "/contacts/customer_id/")) == 1


async def test_validation_error_keeps_moneybirds_field_messages(moneybird, moneybird_fake) -> None:
    moneybird_fake.tax_rate_ids.clear()  # the configured id no longer exists in Moneybird
    with pytest.raises(Permanent) as info:
        await moneybird.deliver(invoice_request())
    assert info.value.status == 422
    assert "details.tax_rate does not exist" in info.value.message


async def test_429_without_retry_after_uses_ratelimit_reset(moneybird, moneybird_fake) -> None:
    moneybird_fake.rate_limit_next(1, retry_after=None)
    with pytest.raises(Transient) as info:
        await moneybird.deliver(invoice_request())
    assert info.value.retry_after == pytest.approx(120.0)


def test_sliding_window_allows_the_limit_then_waits_for_the_oldest() -> None:
    clock = Clock()
    window = SlidingWindow(3, 300.0, clock)
    for _ in range(3):  # slots taken at +0, +100, +200
        assert window.take() == 0.0
        clock.now += 100
    clock.now -= 50  # +250
    assert window.take() == pytest.approx(50.0)  # refused: takes no slot
    clock.now += 50  # +300: the first slot slid out of the window
    assert window.take() == 0.0
    assert window.take() == pytest.approx(100.0)  # the +100 slot frees at +400


async def test_connector_refuses_past_150_per_5_minutes(moneybird, moneybird_fake) -> None:
    clock = Clock()
    moneybird.limiter = SlidingWindow(150, 300.0, clock)
    for _ in range(148):
        assert moneybird.limiter.take() == 0.0
    # A new customer needs 3 requests (lookup, create, invoice): the third is refused.
    with pytest.raises(Transient) as info:
        await moneybird.deliver(invoice_request())
    assert info.value.retry_after == pytest.approx(300.0)
    assert len(moneybird_fake.requests) == 2 and not moneybird_fake.invoices
    clock.now += 300.0
    await moneybird.deliver(invoice_request())  # the retry finds the contact in the id map
    assert len(moneybird_fake.contacts) == 1 and len(moneybird_fake.invoices) == 1


def test_config_rejects_a_bad_tax_rate_key_and_missing_administration() -> None:
    base = '[targets.mb]\nkind = "moneybird"\nsecret = "x"\n'
    with pytest.raises(ConfigError) as info:
        parse_settings(base + 'administration_id = "1"\ntax_rates = {"twenty" = "9"}\n', env={})
    assert info.value.path == "targets.mb" and "twenty" in info.value.message
    with pytest.raises(ConfigError) as info:
        parse_settings(base, env={})
    assert info.value.path == "targets.mb.administration_id"


def test_order_event_fixture_is_exact() -> None:
    """The fixture itself: amounts survive an encode/decode round trip as exact decimals."""
    event = order_event()
    again = msgspec.json.decode(msgspec.json.encode(event), type=type(event))
    assert again.data.lines[0].unit_price == Decimal("567.28")
