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
from typing import Any, ClassVar

import msgspec

from schemas import (
    AnyEvent,
    OrderCreated,
    OrderData,
    PaymentData,
    PaymentReceived,
    Person,
)
from services.common.config import SourceConfig, SourceSpec
from services.common.errors import ConfigError
from services.gateway.sources.base import (
    Ignored,
    Inbound,
    Payload,
    Source,
    address_from,
    body_field,
    check_timestamp,
    header,
    hex_or_none,
    hmac_sha256,
    invalid_signature,
    json_object,
    matches_any,
    missing_signature,
    unix_seconds,
)

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
    """A Stripe webhook endpoint."""

    tolerance_s: int = 300  # Stripe's SDK default; 0 disables the timestamp check


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

    def parse(self, inbound: Inbound, event_id: str) -> list[AnyEvent] | Ignored:
        """Map the event by its `type` (see the module docstring for the rule)."""
        p = Payload(json_object(inbound.body))
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
        shipping = s.at("shipping_details") if s.raw("shipping_details") else s.at("shipping")
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
