"""WooCommerce: order.created, base64 body HMAC, the unsigned creation ping."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from schemas import OrderCreated
from services.gateway.errors import Rejected
from services.gateway.sources.base import Ignored, event_id
from tests.gateway import signing
from tests.gateway.signing import RECEIVED, fixture, inbound, make_source

SECRET = "wc-secret-&-more"
ORDER = fixture("woocommerce/order_created.json")  # the REST docs' order 727
COUPON_ORDER = fixture("woocommerce/order_created_coupon.json")  # 727 with a 2.00 coupon
FORM = "application/x-www-form-urlencoded"


def request(body: bytes, topic: str = "order.created", secret: str = SECRET, **extra: str):
    headers = {
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Delivery-ID": "36e520ebabc2fa725092ff4a47acedf2",
        "X-WC-Webhook-ID": "3",
        **signing.woocommerce(secret, body),
        **extra,
    }
    return inbound("woo", body, headers)


def run(source, req):
    source.verify(req, RECEIVED)
    return source.parse(req, event_id(source.name, source.delivery_id(req) or "none"))


def test_order_fixture_maps_to_order_created_with_exact_values() -> None:
    source = make_source("woocommerce", SECRET, name="woo")
    raw = json.loads(ORDER)
    (event,) = run(source, request(ORDER))
    assert isinstance(event, OrderCreated)
    data = event.data
    assert data.order_id == str(raw["id"])
    assert data.order_number == raw["number"] == event.subject
    assert data.total == Decimal(raw["total"])
    assert data.tax_total == Decimal(raw["total_tax"])
    assert data.shipping_total == Decimal(raw["shipping_total"])
    assert data.currency == raw["currency"]
    assert data.customer.email == raw["billing"]["email"]
    assert data.customer.phone == raw["billing"]["phone"]
    assert data.billing_address is not None
    assert data.billing_address.line1 == raw["billing"]["address_1"]
    assert data.billing_address.name == "John Doe"
    # HTML entities in product names are decoded ("&ndash;" in the docs' sample).
    assert [line.name for line in data.lines] == ["Woo Single #1", "Ship Your Idea – Color: Black, Size: M Test"]
    assert [line.total for line in data.lines] == [Decimal(li["total"]) for li in raw["line_items"]]
    assert data.subtotal == sum(Decimal(li["subtotal"]) for li in raw["line_items"])
    # date_created is site-local, date_created_gmt UTC: the offset between them is kept.
    assert data.placed_at == dt.datetime(
        2017, 3, 22, 16, 28, 2, tzinfo=dt.timezone(-dt.timedelta(hours=3))
    )
    assert data.placed_at_utc == dt.datetime(2017, 3, 22, 19, 28, 2, tzinfo=dt.UTC)
    assert event.time == data.placed_at_utc
    assert event.received_at == RECEIVED


def test_ping_is_let_through_unsigned_and_ignored() -> None:
    source = make_source("woocommerce", SECRET)
    assert FORM in source.content_types
    ping = inbound("woo", b"webhook_id=12", content_type=FORM)
    source.verify(ping, RECEIVED)
    assert source.parse(ping, "x") == Ignored("ping")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"webhook_id=12&total=5", FORM),
        (b"webhook_id=abc", FORM),
        (b"webhook_id=12", "application/json"),
        (b'{"webhook_id": 12}', "application/json"),
    ],
)
def test_anything_but_the_exact_ping_needs_a_signature(body: bytes, content_type: str) -> None:
    source = make_source("woocommerce", SECRET)
    with pytest.raises(Rejected) as info:
        source.verify(inbound("woo", body, content_type=content_type), RECEIVED)
    assert (info.value.status, info.value.reason) == (401, "missing_signature")


def test_tampered_body_is_rejected() -> None:
    source = make_source("woocommerce", SECRET)
    req = inbound("woo", ORDER.replace(b'"29.35"', b'"1.00"'), dict(request(ORDER).headers))
    with pytest.raises(Rejected) as info:
        source.verify(req, RECEIVED)
    assert (info.value.status, info.value.reason) == (401, "invalid_signature")


def test_wrong_secret_is_rejected() -> None:
    source = make_source("woocommerce", SECRET)
    with pytest.raises(Rejected) as info:
        source.verify(request(ORDER, secret="wrong"), RECEIVED)
    assert (info.value.status, info.value.reason) == (401, "invalid_signature")


@pytest.mark.parametrize("garbage", ["%%%", "abc", " "])
def test_garbage_or_blank_header_is_rejected(garbage: str) -> None:
    source = make_source("woocommerce", SECRET)
    with pytest.raises(Rejected) as info:
        source.verify(request(ORDER, **{"X-WC-Webhook-Signature": garbage}), RECEIVED)
    assert info.value.status == 401
    assert info.value.reason in {"invalid_signature", "missing_signature"}


def test_rotation_accepts_old_and_new_secret() -> None:
    source = make_source("woocommerce", "old", "new")
    for secret in ("old", "new"):
        source.verify(request(ORDER, secret=secret), RECEIVED)


def test_resend_gives_same_delivery_and_event_id() -> None:
    source = make_source("woocommerce", SECRET)
    assert source.delivery_id(request(ORDER)) == "36e520ebabc2fa725092ff4a47acedf2"
    assert run(source, request(ORDER))[0].id == run(source, request(ORDER))[0].id


def test_unknown_topic_is_ignored() -> None:
    source = make_source("woocommerce", SECRET)
    assert run(source, request(ORDER, topic="order.updated")) == Ignored(
        "unknown topic 'order.updated'"
    )


def test_invalid_fields_are_named() -> None:
    source = make_source("woocommerce", SECRET)
    raw = json.loads(ORDER)
    raw["total"] = None
    raw["line_items"][0]["quantity"] = "two"
    with pytest.raises(Rejected) as info:
        run(source, request(json.dumps(raw).encode()))
    assert info.value.status == 422
    assert {e.path for e in info.value.errors} == {"$.total", "$.line_items[0].quantity"}


def test_order_727_lines_carry_the_state_tax_rate_and_shipping_is_untaxed() -> None:
    # 727 has tax_lines without rate_percent (WooCommerce 3.0): the rate comes from the amounts.
    (event,) = run(make_source("woocommerce", SECRET), request(ORDER))
    data = event.data
    assert [(line.tax_rate, line.tax_label, line.tax_amount) for line in data.lines] == [
        (Decimal("7.5"), "State Tax", Decimal("0.45")),
        (Decimal("7.5"), "State Tax", Decimal("0.90")),
    ]
    assert data.shipping_tax_rate == Decimal(0)
    assert (data.shipping_method, data.payment_method, data.transaction_id) == ("Flat Rate", "bacs", "")
    assert data.prices_include_tax is False  # WooCommerce's line totals exclude tax
    assert data.billing_address is not None and data.billing_address.region_code == "CA"


def test_rate_percent_is_taken_as_given_where_the_body_has_it() -> None:
    raw = json.loads(ORDER)
    raw["tax_lines"][0]["rate_percent"] = 7.25  # WooCommerce 3.7+ adds it; 0.45 on 6.00 fits 7.25 too
    (event,) = run(make_source("woocommerce", SECRET), request(json.dumps(raw).encode()))
    assert {line.tax_rate for line in event.data.lines} == {Decimal("7.25")}


def test_coupon_is_kept_once_unit_price_before_it_total_after_it() -> None:
    raw = json.loads(COUPON_ORDER)
    (event,) = run(make_source("woocommerce", SECRET), request(COUPON_ORDER))
    data = event.data
    assert data.discount_codes == ["save2"]
    assert data.discount_total == Decimal("2.00")
    assert [(line.unit_price, line.total, line.discount) for line in data.lines] == [
        (Decimal("3.00"), Decimal("5.33"), Decimal("0.67")),
        (Decimal("12.00"), Decimal("10.67"), Decimal("1.33")),
    ]
    assert sum(line.discount for line in data.lines) == Decimal(raw["discount_total"])
    assert {line.tax_rate for line in data.lines} == {Decimal("7.5")}


def test_fee_lines_are_kept_with_their_tax() -> None:
    raw = json.loads(ORDER)
    raw["fee_lines"] = [{"id": 320, "name": "Gift wrap &amp; card", "tax_class": "", "tax_status": "taxable",
                         "total": "4.00", "total_tax": "0.30", "taxes": [{"id": 75, "total": "0.3", "subtotal": ""}],
                         "meta_data": []}]
    (event,) = run(make_source("woocommerce", SECRET), request(json.dumps(raw).encode()))
    (fee,) = event.data.fees
    assert (fee.name, fee.total, fee.tax_rate, fee.tax_amount) == (
        "Gift wrap & card", Decimal("4.00"), Decimal("7.5"), Decimal("0.30"))


@pytest.mark.parametrize(
    ("samples", "rate"),
    [
        ([(Decimal("6.00"), Decimal("0.45")), (Decimal("12.00"), Decimal("0.9"))], Decimal("7.5")),
        ([(Decimal("3.33"), Decimal("0.70"))], Decimal("21")),  # 21.02% by division; 21 fits the rounding
        ([(Decimal("0.10"), Decimal("0.01"))], Decimal("10")),
        ([(Decimal("100.00"), Decimal("8.25"))], Decimal("8.25")),
        ([(Decimal("10.00"), Decimal("0.80")), (Decimal("10.00"), Decimal("0.90"))], None),  # no one rate
        ([(Decimal("0"), Decimal("0"))], None),
    ],
)
def test_rate_from_amounts_is_the_simplest_that_fits_every_rounding(samples, rate) -> None:
    from services.gateway.sources.woocommerce import simplest_rate

    assert simplest_rate(samples) == rate


def test_a_body_that_is_not_an_order_under_order_created_is_refused() -> None:
    customer = json.dumps({"id": 25, "email": "john.doe@example.com", "first_name": "John",
                           "role": "customer", "username": "john.doe"}).encode()
    with pytest.raises(Rejected) as info:
        run(make_source("woocommerce", SECRET), request(customer))
    assert (info.value.status, info.value.reason) == (422, "topic_mismatch")


def test_content_identity_is_the_signed_order_not_the_delivery_header() -> None:
    source = make_source("woocommerce", SECRET)
    first = request(ORDER)
    resent = request(ORDER, **{"X-WC-Webhook-Delivery-ID": "a-new-one"})
    assert source.delivery_id(first) != source.delivery_id(resent)
    assert source.delivery_key(first) == source.delivery_key(resent) == "order.created:727:2017-03-22T19:28:08"
    assert source.delivery_key(request(COUPON_ORDER)) != source.delivery_key(first)
