"""Shopify: `orders/create` and `customers/create` webhooks, signed with the app's client secret.

X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(secret, raw body)). Ids are 64-bit integers and
money comes as strings, so both are taken exactly (no float on the way).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, ClassVar

from schemas import (
    Address,
    AnyEvent,
    CustomerCreated,
    CustomerData,
    OrderCreated,
    OrderData,
    OrderLine,
    Person,
)
from services.gateway.errors import Rejected
from services.gateway.sources._payload import (
    Payload,
    address_from,
    any_text,
    body_field,
    body_id,
    body_object,
)
from services.gateway.sources._signing import verify_body_hmac
from services.gateway.sources.base import Ignored, Inbound, Source, header, to_utc

ZERO = Decimal(0)
# Members of an order that a customer never has, whatever the unsigned X-Shopify-Topic says.
ORDER_KEYS = ("line_items", "total_price", "financial_status")


def _check_topic(topic: str, doc: dict[str, Any]) -> None:
    """422 `topic_mismatch` when the body's shape does not fit the unsigned topic header."""
    is_order = any(key in doc for key in ORDER_KEYS)
    if (topic == "orders/create") != is_order:
        raise Rejected(
            422, "topic_mismatch",
            f"X-Shopify-Topic says {topic} but the body is {'an order' if is_order else 'not an order'}",
        )


TOPIC = ("X-Shopify-Topic", "Shopify-Topic")
HMAC = ("X-Shopify-Hmac-Sha256", "Shopify-Hmac-Sha256")
ADDRESS = {
    "name": "name",
    "company": "company",
    "line1": "address1",
    "line2": "address2",
    "postcode": "zip",
    "city": "city",
    "region": "province",
    "region_code": "province_code",
    "phone": "phone",
}


ADDRESS_BY_CODE = ADDRESS | {"country": "country_code"}
ADDRESS_BY_NAME = ADDRESS | {"country": "country"}


def _address(p: Payload) -> Address | None:
    """A Shopify address; its country as the ISO code when sent, else as the name."""
    return address_from(p, ADDRESS_BY_CODE if p.raw("country_code") else ADDRESS_BY_NAME)


class ShopifySource(Source):
    """A Shopify shop (app or admin-created webhook subscriptions)."""

    kind: ClassVar[str] = "shopify"
    produces = ("order.created", "customer.created")
    signature_headers = ("X-Shopify-Hmac-Sha256",)

    def verify(self, inbound: Inbound, now: dt.datetime) -> None:
        """Check the body HMAC.

        Shopify signs no timestamp (https://shopify.dev/docs/apps/build/webhooks/verify-deliveries):
        replays are caught by dedupe on the delivery id only.
        """
        verify_body_hmac(self.keys, inbound, HMAC)

    def delivery_id(self, inbound: Inbound) -> str | None:
        """`<topic>:<X-Shopify-Event-Id>` when sent, else X-Shopify-Webhook-Id.

        The Event-Id is shared by every delivery of one merchant action (retries and duplicate
        subscriptions alike), so it dedupes more than the per-subscription Webhook-Id; the topic
        is added so two topics fired by one action stay two deliveries.
        """
        event = header(inbound, "X-Shopify-Event-Id", "Shopify-Event-Id")
        if event:
            return f"{header(inbound, *TOPIC) or ''}:{event}"
        return header(inbound, "X-Shopify-Webhook-Id")

    def content_id(self, inbound: Inbound) -> str | None:
        """`<topic>:<resource id>:<updated_at>` from the signed body.

        Shopify signs the body only: X-Shopify-Webhook-Id / Event-Id and the topic are not
        covered, so a captured body re-sent under new (or no) delivery headers is the same one.
        """
        resource = body_id(inbound, "id")
        if resource is None:
            return None
        return f"{header(inbound, *TOPIC) or ''}:{resource}:{body_field(inbound, 'updated_at') or ''}"

    def parse(self, inbound: Inbound, event_id: str) -> list[AnyEvent] | Ignored:
        """orders/create -> order.created, customers/create -> customer.created."""
        topic = header(inbound, *TOPIC) or ""
        if topic not in ("orders/create", "customers/create"):
            return Ignored(f"unknown topic {topic!r}")
        doc = body_object(inbound)
        _check_topic(topic, doc)
        # X-Shopify-Test is seen on real deliveries but not documented; the order's `test` is.
        test_header = (header(inbound, "X-Shopify-Test") or "") == "true"
        p = Payload(doc)
        test = p.raw("test") is True or test_header
        if topic == "orders/create":
            return [self._order_event(self._order(p), inbound, event_id, test)]
        return [self._customer(p, inbound, event_id, test)]

    def _customer(self, p: Payload, inbound: Inbound, event_id: str, test: bool) -> AnyEvent:
        external_id = p.id("id", required=True)
        address = p.at("default_address")
        person = Person(
            email=p.text("email"),
            first_name=p.text("first_name"),
            last_name=p.text("last_name"),
            phone=p.text("phone"),
            external_id=external_id,
            address=_address(address),
        )
        created = p.datetime("created_at")
        marketing = p.raw("email_marketing_consent", "state")
        accepts = p.boolean("accepts_marketing") or marketing == "subscribed"
        p.check()
        return CustomerCreated(
            id=event_id,
            source=self.name,
            time=to_utc(created) or inbound.received_at,
            subject=person.email.lower() or external_id,
            received_at=inbound.received_at,
            test=test,
            data=CustomerData(customer=person, accepts_marketing=accepts, created_at=created),
        )

    def _order(self, p: Payload) -> OrderData:
        """The order, read field by field: every invalid field is named (422)."""
        order_id = p.id("id", required=True)
        # `name` ("#1001") is the number the shop and the buyer see; `order_number` lacks the
        # shop's prefix/suffix.
        number = p.text("name") or p.id("order_number")
        currency = p.text("currency", required=True)
        total = p.decimal("total_price", required=True)
        c = p.at("customer")
        billing = p.at("billing_address")
        shipping = p.at("shipping_address")
        customer = Person(
            email=p.text("email") or p.text("contact_email") or c.text("email"),
            first_name=c.text("first_name") or billing.text("first_name"),
            last_name=c.text("last_name") or billing.text("last_name"),
            phone=p.text("phone") or c.text("phone"),
            company=billing.text("company"),
            external_id=c.id("id"),
        )
        lines = []
        for line in p.each("line_items"):
            quantity = line.decimal("quantity", required=True) or ZERO
            price = line.decimal("price", required=True) or ZERO
            allocations = line.each("discount_allocations")
            if allocations:  # every discount application's share of this line
                discount = sum((a.decimal("amount") or ZERO for a in allocations), ZERO)
            else:
                discount = line.decimal("total_discount") or ZERO
            tax = ZERO
            rates: list[Decimal | None] = []
            for tax_line in line.each("tax_lines"):
                tax += tax_line.decimal("price") or ZERO
                rates.append(tax_line.decimal("rate"))
            lines.append(
                OrderLine(
                    name=line.text("name") or line.text("title"),
                    quantity=quantity,
                    unit_price=price,
                    total=price * quantity - discount,
                    sku=line.text("sku"),
                    # the rates of all tax lines added up; none when one has no rate
                    tax_rate=sum(rates, ZERO) * 100 if rates and None not in rates else None,  # type: ignore[arg-type]
                    tax_amount=tax,
                    external_id=line.id("id"),
                    discount=discount,
                )
            )
        shipping_lines = p.each("shipping_lines")
        shipping_total = p.decimal("total_shipping_price_set", "shop_money", "amount")
        if shipping_total is None:
            shipping_total = sum((s.decimal("price") or ZERO for s in shipping_lines), ZERO)
        placed_at = p.datetime("created_at")
        data = OrderData(
            order_id=order_id,
            order_number=number or order_id,
            currency=currency,
            total=total or ZERO,
            customer=customer,
            lines=lines,
            subtotal=p.decimal("subtotal_price"),
            tax_total=p.decimal("total_tax") or ZERO,
            shipping_total=shipping_total,
            discount_total=p.decimal("total_discounts") or ZERO,
            prices_include_tax=p.boolean("taxes_included"),
            billing_address=_address(billing),
            shipping_address=_address(shipping),
            placed_at=placed_at,
            placed_at_utc=to_utc(placed_at),
            payment_status=p.text("financial_status"),
            note=p.text("note"),
            shipping_method=", ".join(t for s in shipping_lines if (t := s.text("title"))),
            discount_codes=[code for d in p.each("discount_codes") if (code := d.text("code"))],
            tags=_tags(p.text("tags")),
            attributes={
                name: any_text(a.raw("value")) for a in p.each("note_attributes") if (name := a.text("name"))
            },
        )
        p.check()
        return data

    def _order_event(self, data: OrderData, inbound: Inbound, event_id: str, test: bool) -> AnyEvent:
        return OrderCreated(
            id=event_id,
            source=self.name,
            time=data.placed_at_utc or inbound.received_at,
            subject=data.order_number,
            received_at=inbound.received_at,
            test=test,
            data=data,
        )


def _tags(text: str) -> list[str]:
    """Shopify's comma-separated `tags` as a list."""
    return [tag.strip() for tag in text.split(",") if tag.strip()]
