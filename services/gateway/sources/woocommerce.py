"""WooCommerce: `order.created` webhooks (REST v3 order body), plus the unsigned creation ping.

X-WC-Webhook-Signature = base64(HMAC-SHA256(secret, raw body)); no timestamp is signed.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import ClassVar

import msgspec

from schemas import Address, AnyEvent, OrderCreated, OrderData, OrderLine, Person
from services.gateway.errors import Rejected
from services.gateway.sources._payload import Payload, address_from, body_field, body_id, body_object
from services.gateway.sources._signing import verify_body_hmac
from services.gateway.sources.base import Ignored, Inbound, Source, header, to_utc

SIGNATURE = ("X-WC-Webhook-Signature",)
FORM = "application/x-www-form-urlencoded"
# WC_Webhook::deliver_ping() posts exactly 'webhook_id=<id>', unsigned, and needs a 200.
PING = re.compile(rb"webhook_id=[0-9]{1,20}")
# Currencies without minor units (their tax amounts round to whole units).
ZERO_DECIMAL = frozenset("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split())
ADDRESS = {
    "company": "company",
    "line1": "address_1",
    "line2": "address_2",
    "postcode": "postcode",
    "city": "city",
    "region": "state",
    "region_code": "state",
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

    def content_id(self, inbound: Inbound) -> str | None:
        """`order.created:<order id>:<date_modified_gmt>` from the signed body.

        WooCommerce signs the body only; X-WC-Webhook-Delivery-ID and the topic header are not
        covered, so a captured body re-sent under a new delivery id must still be the same one.
        """
        if is_ping(inbound):
            return None
        topic = header(inbound, "X-WC-Webhook-Topic") or ""
        order_id = body_id(inbound, "id")
        if order_id is None:
            return None
        modified = body_field(inbound, "date_modified_gmt") or body_field(inbound, "date_modified")
        return f"{topic}:{order_id}:{modified or ''}"

    def parse(self, inbound: Inbound, event_id: str) -> list[AnyEvent] | Ignored:
        """order.created -> order.created; the ping and other topics are ignored."""
        if is_ping(inbound):
            return Ignored("ping")
        topic = header(inbound, "X-WC-Webhook-Topic") or ""
        if topic != "order.created":
            return Ignored(f"unknown topic {topic!r}")
        body = body_object(inbound)
        if not isinstance(body.get("line_items"), list) or ("order_key" not in body and "total" not in body):
            raise Rejected(
                422, "topic_mismatch",
                "X-WC-Webhook-Topic says order.created but the body is not an order (no line_items/total)",
            )
        p = Payload(body)
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
            address=_address(billing),
        )
        taxes = _Taxes(p, p.text("currency"))
        lines = [taxes.line(p.at("line_items", i)) for i, _ in enumerate(p.items("line_items"))]
        fees = [taxes.fee(p.at("fee_lines", i)) for i, _ in enumerate(p.items("fee_lines"))]
        shipping_lines = [p.at("shipping_lines", i) for i, _ in enumerate(p.items("shipping_lines"))]
        shipping_rates = {taxes.rate_of(s, s.decimal("total") or Decimal(0))[0] for s in shipping_lines}
        placed_at, placed_at_utc = _local_time(p, "date_created", "date_created_gmt")
        subtotal = sum((p.at("line_items", i).decimal("subtotal") or Decimal(0) for i in range(len(lines))), Decimal(0))
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
            # Line, fee and shipping totals in WooCommerce's REST body exclude tax even when the
            # shop enters prices with tax (`prices_include_tax` only says how they were entered).
            prices_include_tax=False,
            billing_address=_address(billing),
            shipping_address=_address(shipping),
            placed_at=placed_at,
            placed_at_utc=placed_at_utc,
            payment_status=p.text("status"),
            note=p.text("customer_note"),
            shipping_tax_rate=next(iter(shipping_rates)) if len(shipping_rates) == 1 else None,
            shipping_method=", ".join(
                html.unescape(s.text("method_title")) for s in shipping_lines if s.text("method_title")
            ),
            fees=fees,
            discount_codes=[
                code for i, _ in enumerate(p.items("coupon_lines")) if (code := p.text("coupon_lines", i, "code"))
            ],
            payment_method=p.text("payment_method"),
            transaction_id=p.text("transaction_id"),
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


class _Taxes:
    """Each item's tax rate, from the order's `tax_lines` and the item's `taxes` (by rate id).

    `rate_percent` on a tax line (WooCommerce 3.7+) is the rate; older bodies (the REST docs'
    order 727) give only amounts, so the rate is the simplest percentage (fewest decimals) that
    every item's rounded tax amount agrees with: 0.45 on 6.00 and 0.90 on 12.00 is 7.5%.
    """

    def __init__(self, p: Payload, currency: str) -> None:
        self.labels: dict[str, str] = {}
        self.percents: dict[str, Decimal] = {}
        for i, _ in enumerate(p.items("tax_lines")):
            t = p.at("tax_lines", i)
            rate_id = t.id("rate_id")
            self.labels[rate_id] = html.unescape(t.text("label") or t.text("rate_code"))
            percent = t.decimal("rate_percent")
            if percent is not None:
                self.percents[rate_id] = percent
        # Every (net amount, tax amount) taxed at each rate id, for rates given as amounts only.
        self.samples: dict[str, list[tuple[Decimal, Decimal]]] = {}
        self.zero_decimal = currency.upper() in ZERO_DECIMAL
        for key in ("line_items", "fee_lines", "shipping_lines"):
            for i, _ in enumerate(p.items(key)):
                item = p.at(key, i)
                net = item.decimal("total") or Decimal(0)
                parts = self._parts(item)
                if len(parts) == 1:
                    self.samples.setdefault(parts[0][0], []).append((net, parts[0][1]))

    def _parts(self, item: Payload) -> list[tuple[str, Decimal]]:
        """(rate id, tax amount) of each non-zero tax on the item."""
        out = []
        for j, _ in enumerate(item.items("taxes")):
            amount = item.decimal("taxes", j, "total") or Decimal(0)
            if amount:
                out.append((item.id("taxes", j, "id"), amount))
        return out

    def rate_of(self, item: Payload, net: Decimal) -> tuple[Decimal | None, str]:
        """(percent, label) of one item: 0 when it carries no tax; None when it cannot be told."""
        parts = self._parts(item)
        if not parts:
            return Decimal(0), ""
        label = " + ".join(self.labels.get(rate_id, "") for rate_id, _ in parts if self.labels.get(rate_id))
        if all(rate_id in self.percents for rate_id, _ in parts):
            return sum((self.percents[r] for r, _ in parts), Decimal(0)).normalize(), label
        if len(parts) == 1:
            samples = self.samples.get(parts[0][0], [])
        else:  # several taxes on one item (compound, state + county): their combined rate
            samples = [(net, sum((a for _, a in parts), Decimal(0)))]
        return simplest_rate(samples, self.zero_decimal), label

    def line(self, item: Payload) -> OrderLine:
        """A product line: unit price before coupons (subtotal / quantity), total after them."""
        quantity = item.decimal("quantity", required=True) or Decimal(0)
        total = item.decimal("total", required=True) or Decimal(0)
        subtotal = item.decimal("subtotal")
        if subtotal is None:  # `price` is the line total / quantity: after coupons
            subtotal = total
        rate, label = self.rate_of(item, total)
        return OrderLine(
            name=html.unescape(item.text("name")),
            quantity=quantity,
            unit_price=_per_unit(subtotal, quantity),
            total=total,
            sku=item.text("sku"),
            tax_rate=rate,
            tax_amount=item.decimal("total_tax") or Decimal(0),
            external_id=item.id("id"),
            discount=subtotal - total,
            tax_label=label,
        )

    def fee(self, item: Payload) -> OrderLine:
        """A fee line (a surcharge or a negative fee used as a discount): one unit of `total`."""
        total = item.decimal("total", required=True) or Decimal(0)
        rate, label = self.rate_of(item, total)
        return OrderLine(
            name=html.unescape(item.text("name")),
            quantity=Decimal(1),
            unit_price=total,
            total=total,
            tax_rate=rate,
            tax_amount=item.decimal("total_tax") or Decimal(0),
            external_id=item.id("id"),
            tax_label=label,
        )


def _per_unit(amount: Decimal, quantity: Decimal) -> Decimal:
    if not quantity:
        return amount
    unit = amount / quantity
    return unit if unit * quantity == amount else unit.quantize(Decimal("0.000001"))


def simplest_rate(samples: list[tuple[Decimal, Decimal]], zero_decimal: bool = False) -> Decimal | None:
    """The percentage with the fewest decimals (at most 4), nearest the amounts' own ratio, that
    rounds each net amount's tax to the tax amount given; None when there is none."""
    low, high = Decimal("-Infinity"), Decimal("Infinity")
    for net, tax in samples:
        if net <= 0:
            continue
        exponent = tax.as_tuple().exponent
        places = min(exponent if isinstance(exponent, int) else 0, 0 if zero_decimal else -2)
        half = Decimal(5).scaleb(places - 1)
        low = max(low, (tax - half) / net * 100)
        high = min(high, (tax + half) / net * 100)
    if not low.is_finite() or low > high:
        return None
    middle = (low + high) / 2
    for places in range(5):
        # The grid point nearest the middle: inside the range if any point of this grid is.
        candidate = middle.quantize(Decimal(1).scaleb(-places), ROUND_HALF_EVEN)
        if low <= candidate <= high:
            return candidate.normalize() if candidate else Decimal(0)
    return None
