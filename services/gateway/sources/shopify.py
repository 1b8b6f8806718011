"""Shopify: `orders/create` and `customers/create` webhooks, signed with the app's client secret.

X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(secret, raw body)). Ids are 64-bit integers and
money comes as strings, so both are taken exactly (no float on the way).
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from decimal import Decimal
from typing import Any, ClassVar

import msgspec

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
    decode_json_exact,
    exact_decimal,
    exact_id,
    iso_datetime,
    json_object,
)
from services.gateway.sources._signing import verify_body_hmac
from services.gateway.sources.base import Ignored, Inbound, Source, header, to_utc

# Members of an order that a customer never has, whatever the unsigned X-Shopify-Topic says.
ORDER_KEYS = ("line_items", "total_price", "financial_status")
def _check_topic(topic: str, body: bytes) -> None:
    """422 `topic_mismatch` when the body's shape does not fit the unsigned topic header."""
    try:
        doc = json_object(body)
    except Rejected:
        return  # parse names what is wrong with the body
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


def _address(p: Payload) -> dict[str, str]:
    return ADDRESS | {"country": "country_code" if p.raw("country_code") else "country"}


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
        _check_topic(topic, inbound.body)
        # X-Shopify-Test is seen on real deliveries but not documented; the order's `test` is.
        test_header = (header(inbound, "X-Shopify-Test") or "") == "true"
        if topic == "orders/create":
            data = order_data_fast(inbound.body)
            if data is not None:
                return [self._order_event(data[0], inbound, event_id, data[1] or test_header)]
        p = Payload(json_object(inbound.body))
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
            address=address_from(address, _address(address)),
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
        for i, _ in enumerate(p.items("line_items")):
            line = p.at("line_items", i)
            quantity = line.decimal("quantity", required=True) or Decimal(0)
            price = line.decimal("price", required=True) or Decimal(0)
            allocations = line.items("discount_allocations")
            if allocations:  # every discount application's share of this line
                discount = sum(
                    (line.decimal("discount_allocations", j, "amount") or Decimal(0) for j in range(len(allocations))),
                    Decimal(0),
                )
            else:
                discount = line.decimal("total_discount") or Decimal(0)
            taxes = line.items("tax_lines")
            tax = sum(
                (line.decimal("tax_lines", j, "price") or Decimal(0) for j in range(len(taxes))),
                Decimal(0),
            )
            rates = [r for j in range(len(taxes)) if (r := line.decimal("tax_lines", j, "rate")) is not None]
            rate = sum(rates, Decimal(0)) if taxes and len(rates) == len(taxes) else None
            lines.append(
                OrderLine(
                    name=line.text("name") or line.text("title"),
                    quantity=quantity,
                    unit_price=price,
                    total=price * quantity - discount,
                    sku=line.text("sku"),
                    tax_rate=None if rate is None else rate * 100,
                    tax_amount=tax,
                    external_id=line.id("id"),
                    discount=discount,
                )
            )
        shipping_total = p.decimal("total_shipping_price_set", "shop_money", "amount")
        if shipping_total is None:
            shipping_total = sum(
                (
                    p.decimal("shipping_lines", i, "price") or Decimal(0)
                    for i in range(len(p.items("shipping_lines")))
                ),
                Decimal(0),
            )
        placed_at = p.datetime("created_at")
        data = OrderData(
            order_id=order_id,
            order_number=number or order_id,
            currency=currency,
            total=total or Decimal(0),
            customer=customer,
            lines=lines,
            subtotal=p.decimal("subtotal_price"),
            tax_total=p.decimal("total_tax") or Decimal(0),
            shipping_total=shipping_total,
            discount_total=p.decimal("total_discounts") or Decimal(0),
            prices_include_tax=p.boolean("taxes_included"),
            billing_address=address_from(billing, _address(billing)),
            shipping_address=address_from(shipping, _address(shipping)),
            placed_at=placed_at,
            placed_at_utc=to_utc(placed_at),
            payment_status=p.text("financial_status"),
            note=p.text("note"),
            shipping_method=", ".join(
                t for i in range(len(p.items("shipping_lines"))) if (t := p.text("shipping_lines", i, "title"))
            ),
            discount_codes=[
                code for i in range(len(p.items("discount_codes"))) if (code := p.text("discount_codes", i, "code"))
            ],
            tags=_tags(p.text("tags")),
            attributes={
                name: any_text(p.raw("note_attributes", i, "value"))
                for i in range(len(p.items("note_attributes")))
                if (name := p.text("note_attributes", i, "name"))
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


# --- orders/create, the fast way: documented shapes decoded straight into structs -------------
# Most deliveries carry the documented types (text as strings, ids as integers, money as strings):
# one typed msgspec pass decodes them (unknown fields skipped in C) and the order is mapped from
# attributes, about 2.5x faster than reading the decoded JSON field by field. Anything else
# (another type, an invalid or missing value) returns None and takes `_order`, which names every
# invalid field; tests/gateway/test_sources_shopify.py checks that both ways give the same answer.
# The typed decoder skips the members it does not map without looking into them, so what only
# a full decode would refuse is checked first: UTF-8 throughout, no integer longer than Python
# converts; and it decodes at the same stack depth as the slow way, so both refuse the same nesting.


class _Address(msgspec.Struct):
    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    zip: str | None = None
    city: str | None = None
    province: str | None = None
    province_code: str | None = None
    country: str | None = None
    country_code: str | None = None
    phone: str | None = None


class _Customer(msgspec.Struct):
    id: int | str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None


class _TaxLine(msgspec.Struct):
    price: str | None = None
    rate: Decimal | None = None


class _Allocation(msgspec.Struct):
    amount: str | None = None


class _Line(msgspec.Struct):
    id: int | str | None = None
    name: str | None = None
    title: str | None = None
    sku: str | None = None
    quantity: int | str | None = None
    price: str | None = None
    total_discount: str | None = None
    tax_lines: list[_TaxLine] | None = None
    discount_allocations: list[_Allocation] | None = None


class _Price(msgspec.Struct):
    price: str | None = None
    title: str | None = None


class _Code(msgspec.Struct):
    code: str | None = None


class _Attribute(msgspec.Struct):
    name: str | None = None
    value: Any = None


class _Money(msgspec.Struct):
    amount: str | None = None


class _MoneySet(msgspec.Struct):
    shop_money: _Money | None = None


class _Order(msgspec.Struct):
    id: int | str | None = None
    name: str | None = None
    order_number: int | str | None = None
    email: str | None = None
    contact_email: str | None = None
    phone: str | None = None
    currency: str | None = None
    total_price: str | None = None
    subtotal_price: str | None = None
    total_tax: str | None = None
    total_discounts: str | None = None
    taxes_included: bool | None = None
    financial_status: str | None = None
    note: str | None = None
    created_at: str | None = None
    test: Any = None
    customer: _Customer | None = None
    billing_address: _Address | None = None
    shipping_address: _Address | None = None
    line_items: list[_Line] | None = None
    shipping_lines: list[_Price] | None = None
    total_shipping_price_set: _MoneySet | None = None
    discount_codes: list[_Code] | None = None
    note_attributes: list[_Attribute] | None = None
    tags: str | None = None


_order_decoder = msgspec.json.Decoder(_Order)
_NO_CUSTOMER = _Customer()
_NO_ADDRESS = _Address()
_EMPTY_ADDRESS = Address()


def _tags(text: str) -> list[str]:
    """Shopify's comma-separated `tags` as a list."""
    return [tag.strip() for tag in text.split(",") if tag.strip()]


def _required(value: Decimal | None) -> Decimal:
    if value is None:
        raise ValueError("is required")
    return value


def _fast_address(a: _Address | None) -> Address | None:
    if a is None:
        return None
    values = Address(
        name=a.name or "", company=a.company or "", line1=a.address1 or "", line2=a.address2 or "",
        postcode=a.zip or "", city=a.city or "", region=a.province or "", region_code=a.province_code or "",
        country=a.country_code or a.country or "", phone=a.phone or "",
    )
    return values if values != _EMPTY_ADDRESS else None


def _fully_decodable(body: bytes) -> bool:
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    limit = sys.get_int_max_str_digits()
    return not (limit and len(body) > limit and re.search(rb"[0-9]{%d}" % (limit + 1), body))


def order_data_fast(body: bytes) -> tuple[OrderData, bool] | None:
    """The order and its `test` flag from a body of the documented shape; None for any other."""
    if not _fully_decodable(body):
        return None
    try:
        o = decode_json_exact(body, _order_decoder)
        if not (o.currency and o.currency.strip()):
            return None
        order_id = exact_id(o.id, required=True)
        c = o.customer or _NO_CUSTOMER
        billing = o.billing_address or _NO_ADDRESS
        customer = Person(
            email=o.email or o.contact_email or c.email or "",
            first_name=c.first_name or billing.first_name or "",
            last_name=c.last_name or billing.last_name or "",
            phone=o.phone or c.phone or "",
            company=billing.company or "",
            external_id=exact_id(c.id),
        )
        lines = []
        for line in o.line_items or ():
            quantity = _required(exact_decimal(line.quantity)) or Decimal(0)
            price = _required(exact_decimal(line.price)) or Decimal(0)
            if line.discount_allocations:  # every discount application's share of this line
                discount = sum(
                    (exact_decimal(a.amount) or Decimal(0) for a in line.discount_allocations), Decimal(0)
                )
            else:
                discount = exact_decimal(line.total_discount) or Decimal(0)
            taxes = line.tax_lines or ()
            tax = sum((exact_decimal(t.price) or Decimal(0) for t in taxes), Decimal(0))
            rates = [r for t in taxes if (r := exact_decimal(t.rate)) is not None]
            rate = sum(rates, Decimal(0)) if taxes and len(rates) == len(taxes) else None
            lines.append(
                OrderLine(
                    name=line.name or line.title or "",
                    quantity=quantity,
                    unit_price=price,
                    total=price * quantity - discount,
                    sku=line.sku or "",
                    tax_rate=None if rate is None else rate * 100,
                    tax_amount=tax,
                    external_id=exact_id(line.id),
                    discount=discount,
                )
            )
        money_set = o.total_shipping_price_set
        shop_money = money_set.shop_money if money_set is not None else None
        shipping_total = exact_decimal(shop_money.amount) if shop_money is not None else None
        if shipping_total is None:
            shipping_total = sum(
                (exact_decimal(s.price) or Decimal(0) for s in o.shipping_lines or ()), Decimal(0)
            )
        placed_at = iso_datetime(o.created_at)
        number = o.name or exact_id(o.order_number)
        data = OrderData(
            order_id=order_id,
            order_number=number or order_id,
            currency=o.currency,
            total=_required(exact_decimal(o.total_price)) or Decimal(0),
            customer=customer,
            lines=lines,
            subtotal=exact_decimal(o.subtotal_price),
            tax_total=exact_decimal(o.total_tax) or Decimal(0),
            shipping_total=shipping_total,
            discount_total=exact_decimal(o.total_discounts) or Decimal(0),
            prices_include_tax=o.taxes_included or False,
            billing_address=_fast_address(o.billing_address),
            shipping_address=_fast_address(o.shipping_address),
            placed_at=placed_at,
            placed_at_utc=to_utc(placed_at),
            payment_status=o.financial_status or "",
            note=o.note or "",
            shipping_method=", ".join(s.title for s in o.shipping_lines or () if s.title),
            discount_codes=[d.code for d in o.discount_codes or () if d.code],
            tags=_tags(o.tags or ""),
            attributes={a.name: any_text(a.value) for a in o.note_attributes or () if a.name},
        )
    except (Rejected, ValueError):
        return None
    return data, o.test is True
