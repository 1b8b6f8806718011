"""WooCommerce: order.created, base64 body HMAC, the unsigned creation ping."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from schemas import OrderCreated
from services.gateway.sources.base import Ignored, Rejected, event_id
from tests.gateway import signing
from tests.gateway.signing import RECEIVED, fixture, inbound, make_source

SECRET = "wc-secret-&-more"
ORDER = fixture("woocommerce/order_created.json")
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
    assert [line.name for line in data.lines] == [li["name"] for li in raw["line_items"]]
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
