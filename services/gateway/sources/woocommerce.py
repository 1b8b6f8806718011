"""WooCommerce: `order.created` webhooks (REST v3 order body), plus the unsigned creation ping.

X-WC-Webhook-Signature = base64(HMAC-SHA256(secret, raw body)); no timestamp is signed.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import ClassVar

import msgspec

from schemas import Address, AnyEvent, OrderCreated, OrderData, OrderLine, Person
from services.gateway.sources.base import (
    Ignored,
    Inbound,
    Payload,
    Source,
    address_from,
    header,
    json_object,
    to_utc,
    verify_body_hmac,
)

SIGNATURE = ("X-WC-Webhook-Signature",)
FORM = "application/x-www-form-urlencoded"
# WC_Webhook::deliver_ping() posts exactly 'webhook_id=<id>', unsigned, and needs a 200.
PING = re.compile(rb"webhook_id=[0-9]{1,20}")
ADDRESS = {
    "company": "company",
    "line1": "address_1",
    "line2": "address_2",
    "postcode": "postcode",
    "city": "city",
    "region": "state",
    "country": "country",
    "phone": "phone",
}


def is_ping(inbound: Inbound) -> bool:
    """The unsigned ping WooCommerce sends when a webhook is created or re-activated.

    Some WooCommerce/WordPress versions send it without a Content-Type ("" here).
    """
    return (
        inbound.content_type in (FORM, "")
        and header(inbound, *SIGNATURE) is None
        and PING.fullmatch(inbound.body) is not None
    )


def _address(p: Payload) -> Address | None:
    first, last = p.text("first_name"), p.text("last_name")
    address = address_from(p, ADDRESS)
    name = " ".join(x for x in (first, last) if x)
    if address is None:
        return None
    return msgspec.structs.replace(address, name=name)


def _local_time(p: Payload, local_key: str, gmt_key: str) -> tuple[dt.datetime | None, ...]:
    """(time with the site's offset, UTC time): WooCommerce sends both without a zone suffix."""
    local, gmt = p.datetime(local_key), p.datetime(gmt_key)
    if gmt is None:
        return (local, to_utc(local))  # naive site-local time taken as UTC: nothing better known
    utc = gmt.replace(tzinfo=dt.UTC) if gmt.tzinfo is None else gmt.astimezone(dt.UTC)
    if local is None or local.tzinfo is not None:
        return (local or utc, utc)
    offset = local - utc.replace(tzinfo=None)
    if abs(offset) < dt.timedelta(hours=24) and offset % dt.timedelta(minutes=1) == dt.timedelta():
        return (local.replace(tzinfo=dt.timezone(offset)), utc)
    return (utc, utc)


class WooCommerceSource(Source):
    """A WooCommerce shop (WooCommerce → Settings → Advanced → Webhooks, API version v3)."""

    kind: ClassVar[str] = "woocommerce"
    content_types = ("application/json", FORM)
    produces = ("order.created",)
    signature_headers = ("X-WC-Webhook-Signature",)

    def accepts_untyped(self, inbound: Inbound) -> bool:
        """Only the exact creation ping may come without a Content-Type."""
        return is_ping(inbound)

    def verify(self, inbound: Inbound, now: dt.datetime) -> None:
        """Check the body HMAC; only the exact creation ping may come unsigned."""
        if is_ping(inbound):
            return
        verify_body_hmac(self.keys, inbound, SIGNATURE)

    def delivery_id(self, inbound: Inbound) -> str | None:
        """X-WC-Webhook-Delivery-ID (a hash per delivery; WooCommerce itself never retries)."""
        if is_ping(inbound):
            return None
        return header(inbound, "X-WC-Webhook-Delivery-ID")

    def parse(self, inbound: Inbound, event_id: str) -> list[AnyEvent] | Ignored:
        """order.created -> order.created; the ping and other topics are ignored."""
        if is_ping(inbound):
            return Ignored("ping")
        topic = header(inbound, "X-WC-Webhook-Topic") or ""
        if topic != "order.created":
            return Ignored(f"unknown topic {topic!r}")
        p = Payload(json_object(inbound.body))
        order_id = p.id("id", required=True)
        billing = p.at("billing")
        shipping = p.at("shipping")
        customer_id = p.id("customer_id")
        customer = Person(
            email=billing.text("email"),
            first_name=billing.text("first_name"),
            last_name=billing.text("last_name"),
            phone=billing.text("phone"),
            company=billing.text("company"),
            external_id="" if customer_id in ("", "0") else customer_id,
        )
        lines = []
        subtotal = Decimal(0)
        for i, _ in enumerate(p.items("line_items")):
            line = p.at("line_items", i)
            quantity = line.decimal("quantity", required=True) or Decimal(0)
            line_subtotal = line.decimal("subtotal") or Decimal(0)
            subtotal += line_subtotal
            price = line.decimal("price")
            if price is None:
                price = line_subtotal / quantity if quantity else line_subtotal
            lines.append(
                OrderLine(
                    name=line.text("name"),
                    quantity=quantity,
                    unit_price=price,
                    total=line.decimal("total", required=True) or Decimal(0),
                    sku=line.text("sku"),
                    tax_amount=line.decimal("total_tax") or Decimal(0),
                    external_id=line.id("id"),
                )
            )
        placed_at, placed_at_utc = _local_time(p, "date_created", "date_created_gmt")
        data = OrderData(
            order_id=order_id,
            order_number=p.text("number") or order_id,
            currency=p.text("currency", required=True),
            total=p.decimal("total", required=True) or Decimal(0),
            customer=customer,
            lines=lines,
            subtotal=subtotal if lines else None,
            tax_total=p.decimal("total_tax") or Decimal(0),
            shipping_total=p.decimal("shipping_total") or Decimal(0),
            discount_total=p.decimal("discount_total") or Decimal(0),
            prices_include_tax=p.boolean("prices_include_tax"),
            billing_address=_address(billing),
            shipping_address=_address(shipping),
            placed_at=placed_at,
            placed_at_utc=placed_at_utc,
            payment_status=p.text("status"),
            note=p.text("customer_note"),
        )
        p.check()
        event = OrderCreated(
            id=event_id,
            source=self.name,
            time=placed_at_utc or inbound.received_at,
            subject=data.order_number,
            received_at=inbound.received_at,
            data=data,
        )
        return [event]
