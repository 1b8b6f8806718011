"""Stripe: Stripe-Signature (t, v1...), tolerance, checkout sessions and paid invoices."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import msgspec
import pytest

from schemas import OrderCreated, PaymentReceived
from services.gateway.errors import Rejected
from services.gateway.sources.base import Ignored, event_id
from services.gateway.sources.stripe import minor_to_decimal
from tests.gateway import signing
from tests.gateway.signing import RECEIVED, fixture, inbound, make_source

SECRET = "whsec_test_secret"
CHECKOUT = fixture("stripe/checkout_session_completed.json")
INVOICE = fixture("stripe/invoice_paid.json")
NOW = int(RECEIVED.timestamp())


def request(body: bytes, secret: str = SECRET, timestamp: int = NOW, *extra: str):
    return inbound("stripe", body, signing.stripe(secret, body, timestamp, *extra))


def run(source, req):
    source.verify(req, RECEIVED)
    return source.parse(req, event_id(source.name, source.delivery_id(req)))


def test_checkout_session_maps_to_order_and_payment() -> None:
    source = make_source("stripe", SECRET)
    raw = json.loads(CHECKOUT)
    session = raw["data"]["object"]
    order, payment = run(source, request(CHECKOUT))
    assert isinstance(order, OrderCreated) and isinstance(payment, PaymentReceived)
    assert order.data.order_id == session["id"]
    assert order.data.currency == session["currency"].upper()
    assert order.data.total == Decimal(session["amount_total"]) / 100 == Decimal("30.00")
    assert str(order.data.total) == "30.00"
    assert order.data.customer.email == session["customer_details"]["email"]
    assert order.data.customer.external_id == session["customer"]
    assert order.data.payment_status == session["payment_status"]
    created = dt.datetime.fromtimestamp(raw["created"], dt.UTC)
    assert order.time == created
    assert payment.data.payment_id == session["payment_intent"]
    assert payment.data.amount == order.data.total
    assert payment.id == f"{order.id}-payment"
    assert order.test is False  # livemode false is not a test marker


def test_invoice_paid_maps_to_payment_received() -> None:
    source = make_source("stripe", SECRET)
    raw = json.loads(INVOICE)
    invoice = raw["data"]["object"]
    (event,) = run(source, request(INVOICE))
    assert isinstance(event, PaymentReceived)
    assert event.data.amount == Decimal(invoice["amount_paid"]) / 100
    assert event.data.currency == "USD"
    assert event.data.invoice_number == invoice["number"] == event.subject
    assert event.data.payment_id == invoice["payment_intent"]
    paid_at = dt.datetime.fromtimestamp(invoice["status_transitions"]["paid_at"], dt.UTC)
    assert event.data.paid_at == paid_at == event.time


def test_subscription_checkout_is_ignored() -> None:
    source = make_source("stripe", SECRET)
    raw = json.loads(CHECKOUT)
    raw["data"]["object"]["mode"] = "subscription"
    result = run(source, request(json.dumps(raw).encode()))
    assert isinstance(result, Ignored)


def test_unpaid_checkout_is_an_order_without_payment() -> None:
    source = make_source("stripe", SECRET)
    raw = json.loads(CHECKOUT)
    raw["data"]["object"]["payment_status"] = "unpaid"
    (order,) = run(source, request(json.dumps(raw).encode()))
    assert isinstance(order, OrderCreated)


@pytest.mark.parametrize(
    ("currency", "minor", "expected"),
    [("usd", 3000, "30.00"), ("JPY", 3000, "3000"), ("KWD", 3000, "3.000"), ("eur", 5, "0.05")],
)
def test_minor_units_use_the_currency_exponent(currency: str, minor: int, expected: str) -> None:
    assert str(minor_to_decimal(minor, currency.upper())) == expected


def test_any_matching_v1_is_accepted() -> None:
    source = make_source("stripe", SECRET)
    good = signing.stripe_v1(SECRET, CHECKOUT, NOW)
    header = f"t={NOW},v1={'00' * 32},v1={good},v0=abc"
    source.verify(inbound("stripe", CHECKOUT, {"Stripe-Signature": header}), RECEIVED)


def test_stale_timestamp_is_rejected() -> None:
    source = make_source("stripe", SECRET)
    with pytest.raises(Rejected) as info:
        source.verify(request(CHECKOUT, timestamp=NOW - 301), RECEIVED)
    assert (info.value.status, info.value.reason) == (401, "timestamp_out_of_tolerance")
    source.verify(request(CHECKOUT, timestamp=NOW - 300), RECEIVED)


def test_tolerance_is_configurable() -> None:
    source = make_source("stripe", SECRET, tolerance_s=3600)
    source.verify(request(CHECKOUT, timestamp=NOW - 3000), RECEIVED)


def test_tampered_body_is_rejected() -> None:
    source = make_source("stripe", SECRET)
    headers = dict(request(CHECKOUT).headers)
    with pytest.raises(Rejected) as info:
        source.verify(inbound("stripe", CHECKOUT.replace(b"3000", b"30"), headers), RECEIVED)
    assert (info.value.status, info.value.reason) == (401, "invalid_signature")


def test_wrong_secret_is_rejected() -> None:
    source = make_source("stripe", SECRET)
    with pytest.raises(Rejected) as info:
        source.verify(request(CHECKOUT, secret="whsec_other"), RECEIVED)
    assert (info.value.status, info.value.reason) == (401, "invalid_signature")


def test_missing_header_is_rejected() -> None:
    source = make_source("stripe", SECRET)
    with pytest.raises(Rejected) as info:
        source.verify(inbound("stripe", CHECKOUT), RECEIVED)
    assert (info.value.status, info.value.reason) == (401, "missing_signature")


@pytest.mark.parametrize(
    "garbage",
    ["t=abc,v1=00", "v1=00", f"t={NOW}", f"t={NOW},v1=zz", "garbage", f"t=１２,v1={'0' * 64}"],
)
def test_garbage_header_is_rejected(garbage: str) -> None:
    source = make_source("stripe", SECRET)
    with pytest.raises(Rejected) as info:
        source.verify(inbound("stripe", CHECKOUT, {"Stripe-Signature": garbage}), RECEIVED)
    assert (info.value.status, info.value.reason) == (401, "invalid_signature")


def test_rotation_accepts_old_and_new_secret() -> None:
    source = make_source("stripe", "whsec_old", "whsec_new")
    for secret in ("whsec_old", "whsec_new"):
        source.verify(request(CHECKOUT, secret=secret), RECEIVED)


def test_resend_gives_same_delivery_and_event_id() -> None:
    source = make_source("stripe", SECRET)
    first, again = request(CHECKOUT), request(CHECKOUT, timestamp=NOW + 60)
    assert source.delivery_id(first) == source.delivery_id(again) == json.loads(CHECKOUT)["id"]
    assert run(source, first)[0].id == run(source, again)[0].id


def test_unknown_event_type_is_ignored() -> None:
    source = make_source("stripe", SECRET)
    raw = json.loads(INVOICE)
    raw["type"] = "customer.updated"
    assert run(source, request(json.dumps(raw).encode())) == Ignored(
        "unknown topic 'customer.updated'"
    )


def test_invalid_amount_is_named() -> None:
    source = make_source("stripe", SECRET)
    raw = json.loads(INVOICE)
    raw["data"]["object"]["amount_paid"] = "2000"
    with pytest.raises(Rejected) as info:
        run(source, request(json.dumps(raw).encode()))
    assert info.value.status == 422
    assert [e.path for e in info.value.errors] == ["$.data.object.amount_paid"]


def test_shipping_is_read_from_collected_information_on_api_2025_03_31_and_later() -> None:
    raw = json.loads(CHECKOUT)
    raw["api_version"] = "2025-03-31.basil"
    # The shape https://docs.stripe.com/api/checkout/sessions/object documents for
    # collected_information.shipping_details (name + address).
    raw["data"]["object"]["collected_information"] = {"shipping_details": {
        "name": "Jenny Rosen",
        "address": {"line1": "27 Fredrick Ave", "line2": None, "city": "Brothers", "state": "OR",
                    "postal_code": "97712", "country": "US"}}}
    order, _ = run(make_source("stripe", SECRET), request(json.dumps(raw).encode()))
    address = order.data.shipping_address
    assert address is not None
    assert (address.name, address.line1, address.city, address.region, address.postcode, address.country) == (
        "Jenny Rosen", "27 Fredrick Ave", "Brothers", "OR", "97712", "US")


async def test_line_items_are_fetched_page_by_page_with_their_taxes() -> None:
    import aiohttp

    from services.common.secrets import Secret
    from tests.gateway.fake_stripe import FakeStripe

    fake = FakeStripe()
    # 101 items: one more than a page of the largest `limit` Stripe allows.
    fake.sessions["cs_test_big"] = [
        {"id": f"li_{i:03d}", "object": "item", "amount_discount": 10, "amount_subtotal": 1000, "amount_tax": 198,
         "amount_total": 1188, "currency": "eur", "description": f"Item {i}", "quantity": 1,
         "price": {"id": "price_x", "product": "prod_x", "unit_amount": 1000},
         "taxes": [{"amount": 198, "rate": {"id": "txr_1", "object": "tax_rate", "percentage": 21.0,
                                            "display_name": "BTW", "inclusive": False}}]}
        for i in range(101)
    ]
    await fake.start()
    try:
        source = make_source("stripe", SECRET, api_base=fake.url)
        source.spec = msgspec.structs.replace(source.spec, api_key=Secret(fake.token))
        raw = json.loads(CHECKOUT)
        raw["data"]["object"].update(id="cs_test_big", currency="eur")
        order, payment = run(source, request(json.dumps(raw).encode()))
        async with aiohttp.ClientSession() as http:
            enriched, same_payment = await source.enrich([order, payment], http)
    finally:
        await fake.close()
    assert same_payment == payment
    lines = enriched.data.lines
    assert [line.external_id for line in lines] == [f"li_{i:03d}" for i in range(101)]
    assert {(line.unit_price, line.discount, line.total, line.tax_rate, line.tax_label) for line in lines} == {
        (Decimal("10.00"), Decimal("0.10"), Decimal("9.90"), Decimal("21.0"), "BTW")}
    assert [c.query.get("starting_after") for c in fake.calls("GET")] == [None, "li_099"]


def test_without_an_api_key_the_order_stays_without_lines() -> None:
    import asyncio

    source = make_source("stripe", SECRET)
    order, payment = run(source, request(CHECKOUT))
    assert asyncio.run(source.enrich([order, payment], None)) == [order, payment]  # type: ignore[arg-type]


def test_the_buyers_full_name_is_kept_and_split() -> None:
    raw = json.loads(CHECKOUT)
    raw["data"]["object"]["customer_details"]["name"] = "Jenny Rosen"  # the docs' example customer
    order, payment = run(make_source("stripe", SECRET), request(json.dumps(raw).encode()))
    for person in (order.data.customer, payment.data.payer):
        assert (person.name, person.given_name, person.family_name) == ("Jenny Rosen", "Jenny", "Rosen")
