"""Stripe: `checkout.session.completed` and `invoice.paid` events.

Stripe-Signature: `t=<unix s>,v1=<hex>[,v1=<hex>...][,v0=...]`; v1 = hex(HMAC-SHA256(endpoint
secret "whsec_..." as UTF-8 bytes, f"{t}.{raw body}")). Any matching v1 passes; other schemes
are ignored. Amounts are integer minor units, turned into exact decimals by currency exponent.

Mapping rule:
* checkout.session.completed with mode "payment" (a one-off purchase) -> order.created, and also
  payment.received when `payment_status` is "paid" and the session made no invoice (an invoice
  reports its own payment as invoice.paid, so it would be counted twice);
* checkout.session.completed in "subscription" or "setup" mode -> Ignored (no goods order: the
  money of a subscription arrives as invoice.paid);
* invoice.paid -> payment.received.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, ClassVar
from urllib.parse import quote

import aiohttp
import msgspec

from schemas import (
    AnyEvent,
    OrderCreated,
    OrderData,
    OrderLine,
    PaymentData,
    PaymentReceived,
    Person,
)
from services.common.config import SourceConfig, SourceSpec, about
from services.common.errors import ConfigError
from services.common.signing import hex_or_none, hmac_sha256, matches_any
from services.gateway.errors import Rejected, invalid_signature, missing_signature
from services.gateway.sources._payload import Payload, address_from, body_field, body_object, decode_json_exact
from services.gateway.sources._signing import check_timestamp, unix_seconds
from services.gateway.sources.base import Ignored, Inbound, Source, header

SIGNATURE = "Stripe-Signature"
# https://docs.stripe.com/currencies#zero-decimal and #three-decimal; everything else has two.
ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())
ADDRESS = {
    "line1": "line1",
    "line2": "line2",
    "postcode": "postal_code",
    "city": "city",
    "region": "state",
    "country": "country",
}


class StripeConfig(SourceConfig, frozen=True, kw_only=True):
    """A Stripe webhook endpoint; `api_key_env` names a restricted key that may read Checkout
    Sessions, to fetch a completed session's line items (the event carries none)."""

    # Stripe's SDK default.
    tolerance_s: Annotated[int, about(
        "How far a signature's timestamp may be from now, in seconds; 0 disables the check.", 300
    )] = 300
    api_key_env: Annotated[str, about(
        "The environment variable holding a restricted key that may read Checkout Sessions; unset: "
        "checkout orders arrive without lines.", "STRIPE_API_KEY"
    )] = ""
    api_base: Annotated[str, about("Stripe's API base URL.")] = "https://api.stripe.com"
    api_timeout_s: Annotated[float, about("How long to wait for Stripe's API, in seconds.")] = 10.0


def minor_to_decimal(amount: int, currency: str) -> Decimal:
    """Integer minor units to the exact amount: 3000 USD -> 30.00, 3000 JPY -> 3000."""
    exponent = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    return Decimal(amount).scaleb(-exponent)


def parse_signature_header(value: str) -> tuple[str, list[bytes]] | None:
    """(timestamp text, v1 signatures) from a Stripe-Signature header; None if malformed."""
    timestamp = None
    signatures = []
    for item in value.split(","):
        key, sep, val = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            timestamp = val.strip()
        elif key == "v1":
            sig = hex_or_none(val.strip())
            if sig is not None:
                signatures.append(sig)
    if timestamp is None or unix_seconds(timestamp) is None or not signatures:
        return None
    return timestamp, signatures


class StripeSource(Source):
    """A Stripe account's webhook endpoint (events API)."""

    kind: ClassVar[str] = "stripe"
    Config = StripeConfig
    produces = ("order.created", "payment.received")
    signature_headers = ("Stripe-Signature",)
    config: StripeConfig

    @classmethod
    def check(cls, spec: SourceSpec) -> None:
        """Every secret must be an endpoint signing secret (whsec_...), not an API key."""
        super().check(spec)
        for secret in spec.secrets:
            value = secret.reveal()
            if not value.startswith("whsec_"):
                looks = "an API key" if value.startswith(("sk_", "rk_", "pk_")) else "something else"
                raise ConfigError(
                    f"sources.{spec.name}.secret",
                    f"must be the endpoint's signing secret, which starts with whsec_ (this looks like {looks}); "
                    "find it under Developers → Webhooks → the endpoint → Signing secret",
                )
        if spec.api_key is not None and not spec.api_key.reveal().startswith(("rk_", "sk_")):
            raise ConfigError(
                f"sources.{spec.name}.api_key_env",
                "must name a restricted (rk_...) or secret (sk_...) API key that may read Checkout Sessions",
            )

    def verify(self, inbound: Inbound, now: dt.datetime) -> None:
        """Signature first (any v1 with any active secret), then the timestamp tolerance."""
        value = header(inbound, SIGNATURE)
        if value is None:
            raise missing_signature(SIGNATURE)
        parsed = parse_signature_header(value)
        if parsed is None:
            raise invalid_signature(SIGNATURE)
        timestamp, signatures = parsed
        signed = timestamp.encode() + b"." + inbound.body
        expected = [hmac_sha256(key, signed) for key in self.keys]
        if not any(matches_any(expected, sig) for sig in signatures):
            raise invalid_signature(SIGNATURE)
        check_timestamp(int(timestamp), now, self.config.tolerance_s, SIGNATURE)

    def delivery_id(self, inbound: Inbound) -> str | None:
        """The event's id (evt_...), the same on every retry; read from the verified body."""
        return body_field(inbound, "id")

    def content_id(self, inbound: Inbound) -> str | None:
        """The event's id (evt_...): inside the signed body, so it is also the content's."""
        return body_field(inbound, "id")

    async def enrich(self, events: list[AnyEvent], http: aiohttp.ClientSession) -> list[AnyEvent]:
        """A Checkout order's lines, fetched from Stripe (the event carries none); without
        `api_key_env` the order stays without lines."""
        if self.spec.api_key is None:
            return events
        out: list[AnyEvent] = []
        for event in events:
            if isinstance(event, OrderCreated) and event.data.order_id.startswith("cs_") and not event.data.lines:
                lines, inclusive = await self._line_items(http, event.data.order_id, event.data.currency)
                data = msgspec.structs.replace(event.data, lines=lines, prices_include_tax=inclusive)
                event = msgspec.structs.replace(event, data=data)
            out.append(event)
        return out

    async def _line_items(
        self, http: aiohttp.ClientSession, session_id: str, currency: str
    ) -> tuple[list[OrderLine], bool]:
        """Every page of GET /v1/checkout/sessions/{id}/line_items, taxes expanded
        (https://docs.stripe.com/api/checkout/sessions/line_items)."""
        assert self.spec.api_key is not None
        url = f"{self.config.api_base.rstrip('/')}/v1/checkout/sessions/{quote(session_id, safe='')}/line_items"
        headers = {"Authorization": f"Bearer {self.spec.api_key.reveal()}"}
        items: list[Any] = []
        params: dict[str, str] = {"limit": "100", "expand[]": "data.taxes"}
        while True:
            page = await self._get(http, url, params, headers)
            data = page.get("data") if isinstance(page, dict) else None
            if not isinstance(data, list):
                raise _stripe_down("its answer has no `data` list")
            items.extend(data)
            if not page.get("has_more") or not data:
                break
            params = {**params, "starting_after": str(data[-1].get("id", ""))}
        return _lines(items, currency)

    async def _get(self, http: aiohttp.ClientSession, url: str, params: dict[str, str], headers: dict[str, str]) -> Any:
        try:
            timeout = aiohttp.ClientTimeout(total=self.config.api_timeout_s)
            async with http.get(url, params=params, headers=headers, timeout=timeout) as r:
                body = await r.read()
                if r.status != 200:
                    # Any failure (Stripe down, 429, a key without the permission, a session of
                    # the other mode) is answered 503: Stripe then retries the event for up to
                    # three days (https://docs.stripe.com/webhooks#retries), instead of an
                    # order without lines.
                    message = _error_message(body)
                    raise _stripe_down(f"HTTP {r.status}" + (f": {message}" if message else ""))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _stripe_down(type(exc).__name__) from exc
        try:
            return decode_json_exact(body)  # tax percentages are JSON numbers: kept exact
        except Rejected:
            raise _stripe_down("its answer is not JSON") from None

    def parse(self, inbound: Inbound, event_id: str) -> list[AnyEvent] | Ignored:
        """Map the event by its `type` (see the module docstring for the rule)."""
        p = Payload(body_object(inbound))
        kind = p.raw("type")
        if kind == "checkout.session.completed":
            return self._checkout(p, inbound, event_id)
        if kind == "invoice.paid":
            return self._invoice(p, inbound, event_id)
        return Ignored(f"unknown topic {kind!r}" if isinstance(kind, str) else "unknown topic")

    def _money(self, obj: Payload) -> tuple[str, Any]:
        currency = obj.text("currency", required=True).upper()

        def amount(*keys: str, required: bool = False) -> Decimal | None:
            minor = obj.integer(*keys, required=required)
            return None if minor is None else minor_to_decimal(minor, currency)

        return currency, amount

    def _checkout(self, p: Payload, inbound: Inbound, event_id: str) -> list[AnyEvent] | Ignored:
        s = p.at("data", "object")
        mode = s.raw("mode")
        if mode != "payment":
            return Ignored(f"checkout session in {mode!r} mode: no goods order")
        session_id = s.text("id", required=True)
        currency, amount = self._money(s)
        total = amount("amount_total", required=True) or Decimal(0)
        details = s.at("customer_details")
        # API 2025-03-31 moved it to collected_information.shipping_details; older versions
        # have shipping_details, the oldest `shipping`.
        if s.raw("collected_information", "shipping_details"):
            shipping = s.at("collected_information", "shipping_details")
        elif s.raw("shipping_details"):
            shipping = s.at("shipping_details")
        else:
            shipping = s.at("shipping")
        customer = Person(
            email=details.text("email") or s.text("customer_email"),
            name=details.text("name"),
            phone=details.text("phone"),
            external_id=_customer_id(s),
            address=address_from(details.at("address"), ADDRESS),
        )
        ship_address = address_from(shipping.at("address"), ADDRESS)
        ship_name = shipping.text("name")
        if ship_address is not None and ship_name:
            ship_address = msgspec.structs.replace(ship_address, name=ship_name)
        created = s.epoch("created") or p.epoch("created", required=True)
        paid = s.raw("payment_status") == "paid"
        number = s.text("client_reference_id") or session_id
        data = OrderData(
            order_id=session_id,
            order_number=number,
            currency=currency,
            total=total,
            customer=customer,
            subtotal=amount("amount_subtotal"),
            tax_total=amount("total_details", "amount_tax") or Decimal(0),
            shipping_total=amount("total_details", "amount_shipping") or Decimal(0),
            discount_total=amount("total_details", "amount_discount") or Decimal(0),
            billing_address=customer.address,
            shipping_address=ship_address,
            placed_at=created,
            placed_at_utc=created,
            payment_status=s.text("payment_status"),
            shipping_tax_rate=Decimal(0) if s.raw("shipping_cost", "amount_tax") == 0 else None,
            payment_method=_method(s),
        )
        p.check()
        time = created or inbound.received_at
        events: list[AnyEvent] = [
            OrderCreated(
                id=event_id,
                source=self.name,
                time=time,
                subject=number,
                received_at=inbound.received_at,
                data=data,
            )
        ]
        if paid and not s.raw("invoice"):
            payment_ref = s.raw("payment_intent")
            payment = PaymentData(
                payment_id=payment_ref if isinstance(payment_ref, str) else session_id,
                amount=total,
                currency=currency,
                payer=customer,
                order_number=number,
                paid_at=created,
                paid_at_utc=created,
                method=_method(s),
            )
            events.append(
                PaymentReceived(
                    id=f"{event_id}-payment",
                    source=self.name,
                    time=time,
                    subject=number,
                    received_at=inbound.received_at,
                    data=payment,
                )
            )
        return events

    def _invoice(self, p: Payload, inbound: Inbound, event_id: str) -> list[AnyEvent]:
        inv = p.at("data", "object")
        invoice_id = inv.text("id", required=True)
        currency, amount = self._money(inv)
        paid = amount("amount_paid", required=True) or Decimal(0)
        payer = Person(
            email=inv.text("customer_email"),
            name=inv.text("customer_name"),
            phone=inv.text("customer_phone"),
            external_id=_customer_id(inv),
            address=address_from(inv.at("customer_address"), ADDRESS),
        )
        # Before API version 2025-03-31 the invoice names its payment_intent / charge.
        ref = inv.raw("payment_intent") or inv.raw("charge")
        paid_at = inv.epoch("status_transitions", "paid_at") or p.epoch("created", required=True)
        number = inv.text("number")
        data = PaymentData(
            payment_id=ref if isinstance(ref, str) else invoice_id,
            amount=paid,
            currency=currency,
            payer=payer,
            invoice_number=number,
            paid_at=paid_at,
            paid_at_utc=paid_at,
        )
        p.check()
        return [
            PaymentReceived(
                id=event_id,
                source=self.name,
                time=paid_at or inbound.received_at,
                subject=number or invoice_id,
                received_at=inbound.received_at,
                data=data,
            )
        ]


def _method(s: Payload) -> str:
    types = s.raw("payment_method_types")
    if isinstance(types, list) and len(types) == 1 and isinstance(types[0], str):
        return types[0]
    return ""


def _customer_id(obj: Payload) -> str:
    """The customer id, whether Stripe sent the id or an expanded customer object."""
    ref = obj.raw("customer")
    return ref if isinstance(ref, str) else obj.text("customer", "id")


def _error_message(body: bytes) -> str:
    """Stripe's `error.message` from an error answer ('' when there is none)."""
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return ""
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else ""


def _stripe_down(why: str) -> Rejected:
    return Rejected(
        503, "vendor_unavailable",
        f"the checkout session's line items could not be fetched from Stripe ({why}); please retry",
        headers={"Retry-After": "60"},
    )


def _lines(items: list[Any], currency: str) -> tuple[list[OrderLine], bool]:
    """Stripe line items as order lines: unit price before discounts, total after them and
    without tax (with it where the price includes tax); and whether prices include tax."""
    p = Payload(items)
    lines = []
    inclusive = False
    for i, _ in enumerate(items):
        item = p.at(i)

        def amount(*keys: str | int, item: Payload = item) -> Decimal:
            minor = item.integer(*keys)
            return Decimal(0) if minor is None else minor_to_decimal(minor, currency)

        quantity = Decimal(item.integer("quantity") or 1)
        taxes = item.items("taxes")
        included = any(item.raw("taxes", j, "rate", "inclusive") is True for j in range(len(taxes)))
        inclusive = inclusive or included
        tax = amount("amount_tax")
        # Before tax for exclusive prices; for inclusive ones the subtotal already holds the tax.
        total = amount("amount_subtotal") - amount("amount_discount")
        if len(taxes) == 1:
            rate = item.decimal("taxes", 0, "rate", "percentage")
        else:
            rate = Decimal(0) if not tax else None
        lines.append(
            OrderLine(
                name=item.text("description"),
                quantity=quantity,
                unit_price=amount("amount_subtotal") / quantity,
                total=total,
                tax_rate=rate,
                tax_amount=tax,
                external_id=item.text("id"),
                discount=amount("amount_discount"),
                tax_label=item.text("taxes", 0, "rate", "display_name") if len(taxes) == 1 else "",
                sku=item.text("price", "product") if isinstance(item.raw("price", "product"), str) else "",
            )
        )
    if p.errors:
        raise _stripe_down("its line items are not of the documented shape: " + p.errors[0].path)
    return lines, inclusive
