"""Vendors' own sample orders, signed and parsed by their source, invoiced through the Moneybird
connector into the fake: every invoice adds up to the order's total, or nothing is sent."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from schemas import OrderCreated
from services.gateway.sources.base import event_id
from services.sync.errors import Permanent
from tests.gateway import signing
from tests.gateway.signing import inbound, make_source
from tests.sync.conftest import make_request

SECRET = "wc-secret"
ADM = "123456789012345678"
# Moneybird's tax rates as an administration would define them (id -> percent), for the fake.
RATES = {"400000000000000075": "7.5", "400000000000000000": "0", "400000000000000021": "21"}


@pytest.fixture
async def moneybird(moneybird_fake, connect):
    """A Moneybird connector whose tax_rates map every percentage the samples use."""
    moneybird_fake.tax_rate_ids.update(RATES)
    table = {"kind": "moneybird", "base_url": moneybird_fake.url + "/api/v2", "administration_id": ADM,
             "tax_rates": {percent: rate_id for rate_id, percent in RATES.items()}}
    return await connect(table, moneybird_fake.token)


def woo_order(body: bytes) -> OrderCreated:
    """The order.created event WooCommerce's signed body becomes."""
    source = make_source("woocommerce", SECRET, name="woo")
    req = inbound("woo", body, {"X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Delivery-ID": "d1",
                                **signing.woocommerce(SECRET, body)})
    source.verify(req, signing.RECEIVED)
    (event,) = source.parse(req, event_id("woo", source.delivery_key(req) or ""))
    assert isinstance(event, OrderCreated)
    return event


def invoice_total(invoice: dict[str, Any]) -> Decimal:
    """What Moneybird would total: each rate's net plus its tax, to the cent."""
    by_rate: dict[str, Decimal] = {}
    for d in invoice["details_attributes"]:
        net = Decimal(d["amount"]) * Decimal(d["price"])
        by_rate[d["tax_rate_id"]] = by_rate.get(d["tax_rate_id"], Decimal(0)) + net
    return sum(
        (net + (net * Decimal(RATES[r]) / 100).quantize(Decimal("0.01"), ROUND_HALF_UP) for r, net in by_rate.items()),
        Decimal(0),
    )


async def test_woocommerce_order_727_invoices_at_its_state_tax_with_untaxed_shipping(moneybird, moneybird_fake) -> None:
    body = signing.fixture("woocommerce/order_created.json")
    event = woo_order(body)
    await moneybird.deliver(make_request("moneybird", "create_sales_invoice", event))
    (invoice,) = moneybird_fake.invoices.values()
    details = invoice["details_attributes"]
    assert [(d["description"], d["amount"], d["price"], RATES[d["tax_rate_id"]]) for d in details] == [
        ("Woo Single #1", "2", "3.00", "7.5"),
        ("Ship Your Idea – Color: Black, Size: M Test", "1", "12.00", "7.5"),
        ("Shipping", "1", "10.00", "0"),
    ]
    assert invoice_total(invoice) == Decimal(json.loads(body)["total"]) == Decimal("29.35")


async def test_woocommerce_coupon_is_taken_off_once(moneybird, moneybird_fake) -> None:
    body = signing.fixture("woocommerce/order_created_coupon.json")
    await moneybird.deliver(make_request("moneybird", "create_sales_invoice", woo_order(body)))
    (invoice,) = moneybird_fake.invoices.values()
    assert "Discount" not in [d["description"] for d in invoice["details_attributes"]]
    assert invoice_total(invoice) == Decimal(json.loads(body)["total"]) == Decimal("27.20")


async def test_woocommerce_fee_line_is_invoiced(moneybird, moneybird_fake) -> None:
    raw = json.loads(signing.fixture("woocommerce/order_created.json"))
    raw["fee_lines"] = [{"id": 320, "name": "Gift wrap", "tax_status": "taxable", "total": "4.00",
                         "total_tax": "0.30", "taxes": [{"id": 75, "total": "0.3", "subtotal": ""}]}]
    raw["total"], raw["total_tax"] = "33.65", "1.65"
    await moneybird.deliver(make_request("moneybird", "create_sales_invoice", woo_order(json.dumps(raw).encode())))
    (invoice,) = moneybird_fake.invoices.values()
    details = invoice["details_attributes"]
    assert ("Gift wrap", "1", "4.00") in [(d["description"], d["amount"], d["price"]) for d in details]
    assert invoice_total(invoice) == Decimal("33.65")


async def test_an_order_that_cannot_add_up_is_refused_before_anything_is_sent(moneybird, moneybird_fake) -> None:
    # A fee plugin that adds to the total without a fee line: no mapping can make 31.35.
    raw = json.loads(signing.fixture("woocommerce/order_created.json"))
    raw["total"] = "31.35"
    with pytest.raises(Permanent) as info:
        await moneybird.deliver(make_request("moneybird", "create_sales_invoice", woo_order(json.dumps(raw).encode())))
    assert "29.35" in info.value.message and "31.35" in info.value.message and "-2.00" in info.value.message
    assert moneybird_fake.requests == []


async def test_an_order_without_lines_is_refused_naming_the_stripe_key(moneybird, moneybird_fake) -> None:
    # A Stripe Checkout source without api_key_env publishes the session's order without lines.
    stripe = make_source("stripe", "whsec_x", name="stripe")
    body = signing.fixture("stripe/checkout_session_completed.json")
    req = inbound("stripe", body, signing.stripe("whsec_x", body, int(signing.RECEIVED.timestamp())))
    stripe.verify(req, signing.RECEIVED)
    order, _ = stripe.parse(req, "eid")
    with pytest.raises(Permanent) as info:
        await moneybird.deliver(make_request("moneybird", "create_sales_invoice", order))
    assert "no order lines" in info.value.message and "api_key_env" in info.value.message
    assert moneybird_fake.requests == []


async def test_a_shopify_line_discount_is_taken_off_once(moneybird, moneybird_fake) -> None:
    # Shopify's sample order (untaxed; 414.95 of lines + 10.00 shipping - 20.00 discounts) with
    # 9.99 more allocated to its first line: 394.96.
    raw = json.loads(signing.fixture("shopify/orders_create.json"))
    raw["line_items"][0]["discount_allocations"] = [{"amount": "9.99", "discount_application_index": 0}]
    raw["total_discounts"], raw["total_price"] = "29.99", "394.96"
    body = json.dumps(raw).encode()
    source = make_source("shopify", "shpss_x", name="shop")
    req = inbound("shop", body, {"X-Shopify-Topic": "orders/create", **signing.shopify("shpss_x", body)})
    source.verify(req, signing.RECEIVED)
    (event,) = source.parse(req, "eid")
    await moneybird.deliver(make_request("moneybird", "create_sales_invoice", event))
    (invoice,) = moneybird_fake.invoices.values()
    details = {d["description"]: (d["amount"], d["price"]) for d in invoice["details_attributes"]}
    assert details["Aviator sunglasses"] == ("1", "80.00") and details["Discount"] == ("1", "-20.00")
    assert invoice_total(invoice) == Decimal("394.96")
