"""Intake a captured body cannot replay, and Stripe Checkout orders completed from Stripe's API.

Shopify and WooCommerce sign the body only: the delivery-id and topic headers are not covered.
A captured signed body re-sent under new (or no) delivery headers is the same delivery, and a
body whose shape does not fit its topic is refused. Over real HTTP, against the real broker.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from schemas import OrderCreated, decode_event
from services.assembly import parse_settings
from services.common.config import ConfigError
from services.common.embedded_broker import EmbeddedBroker
from tests.config import make_settings
from tests.conftest import wait_for
from tests.gateway import harness, signing
from tests.gateway.fake_stripe import FakeStripe
from tests.gateway.harness import Gateway, unique
from tests.gateway.signing import fixture

SHOP, WOO, STRIPE = "shpss_intake", "wc-intake", "whsec_intake"
SESSION = "cs_test_a1enSAC01IA3Ps2vL32mNoWKMCNmmfUGTeEeHXI5tLCvyFNGsdG2UNA7mr"  # the docs' session


@pytest.fixture(scope="module")
async def stripe_api() -> AsyncIterator[FakeStripe]:
    """Stripe's API, with the documented line items of the documented session."""
    fake = FakeStripe()
    fake.sessions[SESSION] = json.loads(fixture("stripe/checkout_session_line_items.json"))["data"]
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture(scope="module")
async def gw(
    broker: EmbeddedBroker, stripe_api: FakeStripe, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Gateway]:
    """One gateway: Shopify, WooCommerce, Stripe with a restricted key, a form for canaries."""
    settings = make_settings(tmp_path_factory.mktemp("intake"), broker.bootstrap_servers,
                             env={"STRIPE_KEY": stripe_api.token}, sources={
        "shop": {"kind": "shopify", "secret": SHOP},
        "woo": {"kind": "woocommerce", "secret": WOO},
        "stripe": {"kind": "stripe", "secret": STRIPE, "api_key_env": "STRIPE_KEY", "api_base": stripe_api.url},
        "website": {"kind": "form"},
    })
    g = await harness.start_gateway(settings, broker.bootstrap_servers)
    yield g
    await harness.stop_gateway(g)


def published_ids(gw: Gateway, event_id: str) -> int:
    """How many records with this event id were published."""
    return sum(1 for v in gw.watcher.values() if decode_event(v).id == event_id)


def shopify_order() -> bytes:
    """Shopify's sample order, with an id no other test sends."""
    doc = json.loads(fixture("shopify/orders_create.json"))
    doc["id"] = int(time.time_ns() % 10**18)
    return json.dumps(doc).encode()


def woo_order() -> bytes:
    """WooCommerce's documented order 727, with an id no other test sends."""
    doc = json.loads(fixture("woocommerce/order_created.json"))
    doc["id"] = int(time.time_ns() % 10**9)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("source", "make", "sign", "delivery_headers"),
    [
        ("shop", shopify_order, lambda b: {"X-Shopify-Topic": "orders/create", **signing.shopify(SHOP, b)},
         lambda d: {"X-Shopify-Webhook-Id": d, "X-Shopify-Event-Id": d}),
        ("woo", woo_order, lambda b: {"X-WC-Webhook-Topic": "order.created", **signing.woocommerce(WOO, b)},
         lambda d: {"X-WC-Webhook-Delivery-ID": d}),
    ],
    ids=["shopify", "woocommerce"],
)
async def test_a_captured_body_resent_under_new_or_no_delivery_headers_is_one_event(
    gw: Gateway, source, make, sign, delivery_headers
) -> None:
    body = make()
    status, _, first = await gw.post(source, body, {**sign(body), **delivery_headers(unique())})
    assert status == 202, first
    [eid] = first["event_ids"]
    for headers in ({**sign(body), **delivery_headers(unique())}, sign(body), sign(body)):
        status, _, again = await gw.post(source, body, headers)
        assert (status, again) == (200, {"status": "duplicate", "event_ids": [eid]})
    await gw.assert_nothing_published(unique())  # a canary after: everything before it has arrived
    assert published_ids(gw, eid) == 1


async def test_an_order_body_under_the_customers_topic_is_refused_and_nothing_is_published(gw: Gateway) -> None:
    body = shopify_order()
    marker = str(json.loads(body)["id"])
    headers = {"X-Shopify-Topic": "customers/create", "X-Shopify-Webhook-Id": unique(), **signing.shopify(SHOP, body)}
    status, _, answer = await gw.post("shop", body, headers)
    assert (status, answer["reason"]) == (422, "topic_mismatch"), answer
    await gw.assert_nothing_published(marker)


def checkout(event_id: str) -> bytes:
    """The stripe-ruby-mock checkout.session.completed, for the docs' session and its 2198 cents."""
    doc = json.loads(fixture("stripe/checkout_session_completed.json"))
    doc["id"] = event_id
    doc["data"]["object"].update(id=SESSION, amount_subtotal=2198, amount_total=2198)
    return json.dumps(doc).encode()


async def test_a_checkout_order_carries_the_line_items_fetched_from_stripe(gw: Gateway, stripe_api: FakeStripe) -> None:
    body = checkout(f"evt_{unique()[:24]}")
    status, _, answer = await gw.post("stripe", body, signing.stripe(STRIPE, body, int(time.time())))
    assert status == 202, answer
    order_id = answer["event_ids"][0]
    [raw] = await wait_for(lambda: [v for v in gw.watcher.values() if decode_event(v).id == order_id])
    event = decode_event(raw)
    assert isinstance(event, OrderCreated)
    [line] = event.data.lines
    assert (line.name, line.quantity, line.unit_price, line.total, line.tax_rate) == (
        "T-shirt", Decimal(2), Decimal("10.99"), Decimal("21.98"), Decimal(0))
    assert sum(li.total for li in event.data.lines) == event.data.total
    call = stripe_api.calls("GET", SESSION)[-1]
    assert call.headers["Authorization"] == f"Bearer {stripe_api.token}"  # the restricted key
    assert call.query.get("expand[]") == "data.taxes"


async def test_when_stripes_api_fails_the_event_is_refused_503_and_stripes_retry_lands_once(
    gw: Gateway, stripe_api: FakeStripe
) -> None:
    event_id = f"evt_{unique()[:24]}"
    body = checkout(event_id)
    stripe_api.fail_next(1, 503, "Stripe is having trouble")
    status, headers, answer = await gw.post("stripe", body, signing.stripe(STRIPE, body, int(time.time())))
    assert status == 503 and headers.get("Retry-After"), answer
    assert "Stripe" in answer["detail"] and "503" in answer["detail"]
    await gw.assert_nothing_published(event_id)
    # Stripe retries the same event later (https://docs.stripe.com/webhooks#retries).
    status, _, answer = await gw.post("stripe", body, signing.stripe(STRIPE, body, int(time.time())))
    assert status == 202, answer
    await gw.assert_nothing_published(unique())
    assert published_ids(gw, answer["event_ids"][0]) == 1


@pytest.mark.parametrize(
    ("env", "message"),
    [({}, "environment variable STRIPE_KEY is not set"), ({"STRIPE_KEY": "whsec_abc"}, "restricted (rk_...)")],
)
def test_the_stripe_api_key_is_checked_when_the_config_loads(env: dict[str, str], message: str) -> None:
    text = '[sources.pay]\nkind = "stripe"\nsecret = "whsec_x"\napi_key_env = "STRIPE_KEY"\n'
    with pytest.raises(ConfigError) as info:
        parse_settings(text, env=env)
    assert "sources.pay.api_key_env" in str(info.value) and message in str(info.value)
