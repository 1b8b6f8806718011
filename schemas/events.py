"""Handover's business events: a CloudEvents-shaped envelope around one tagged union of facts.

Every event type is a frozen msgspec Struct tagged by its CloudEvents ``type`` ("order.created").
One decoder (`decode_event`) turns bytes from any topic into the right class; consumers `match` on it.
Schema evolution: new fields get defaults; a field's type never changes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec

SPEC_VERSION = "1.0"


class Address(msgspec.Struct, frozen=True, kw_only=True):
    """A postal address exactly as the sender gave it."""

    name: str = ""
    company: str = ""
    line1: str = ""
    line2: str = ""
    postcode: str = ""
    city: str = ""
    region: str = ""  # the region's name where the vendor gives one, else its code
    region_code: str = ""  # the vendor's region code ("CA", "NH") where it gives one
    country: str = ""  # ISO 3166-1 alpha-2 where the vendor gives it
    phone: str = ""


class Person(msgspec.Struct, frozen=True, kw_only=True):
    """Someone a business deals with: a customer, a lead, a buyer."""

    email: str = ""
    first_name: str = ""
    last_name: str = ""
    name: str = ""  # full name as given; kept even where first/last are split
    phone: str = ""  # always text: leading zeros and '+' matter
    company: str = ""
    external_id: str = ""  # the sender's own id (Shopify customer id, Stripe customer id, ...)
    address: Address | None = None

    @property
    def display_name(self) -> str:
        """The name to show or send: the full name, else first + last, else the e-mail."""
        return self.name or " ".join(p for p in (self.first_name, self.last_name) if p) or self.email

    @property
    def given_name(self) -> str:
        """The first name; where only a full name was given, its first word (for targets that
        want the name split: "Jan van der Berg" -> "Jan")."""
        if self.first_name or self.last_name:
            return self.first_name
        return self.name.strip().split(maxsplit=1)[0] if self.name.strip() else ""

    @property
    def family_name(self) -> str:
        """The last name; where only a full name was given, the rest after its first word
        ("Jan van der Berg" -> "van der Berg")."""
        if self.first_name or self.last_name:
            return self.last_name
        words = self.name.strip().split(maxsplit=1)
        return words[1] if len(words) > 1 else ""


class OrderLine(msgspec.Struct, frozen=True, kw_only=True):
    """One line of an order; money is exact decimal in the order's currency."""

    name: str
    quantity: Decimal
    unit_price: Decimal  # excluding tax unless `prices_include_tax` on the order
    total: Decimal
    sku: str = ""
    tax_rate: Decimal | None = None  # percent, e.g. Decimal("21")
    tax_amount: Decimal = Decimal("0")
    external_id: str = ""
    # The part of quantity x unit_price taken off this line (coupons, line discounts): `total`
    # is after it. A discount of the whole order that no line carries is in OrderData only.
    discount: Decimal = Decimal("0")
    tax_label: str = ""  # the vendor's name for the tax ("State Tax", "BTW 21%")


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """The envelope every event shares: the CloudEvents attributes plus Handover's own."""

    id: str  # deterministic: derived from source name + the vendor's delivery id
    source: str  # "/sources/<name>" in CloudEvents terms; here just the configured source name
    time: dt.datetime  # when it happened, UTC
    subject: str = ""  # the business key: order number, e-mail
    specversion: str = SPEC_VERSION
    received_at: dt.datetime | None = None  # when the gateway accepted it, UTC
    test: bool = False  # vendor test deliveries: delivered, never counted as savings


    @property
    def type(self) -> str:
        """The CloudEvents type, e.g. "order.created"."""
        return type(self).__struct_config__.tag  # type: ignore[return-value]

    @property
    def business_key(self) -> str:
        """The key that keeps per-entity order on a partition."""
        return self.subject or self.id


class ContactData(msgspec.Struct, frozen=True, kw_only=True):
    """What a person told us through a form."""

    contact: Person
    message: str = ""
    form: str = ""  # the form's name or id at the sender
    consent: bool = False
    fields: dict[str, str] = {}  # every other submitted field, as text, as submitted


class ContactSubmitted(Event, tag="contact.submitted"):
    """Someone filled in a contact or lead form."""

    data: ContactData


class CustomerData(msgspec.Struct, frozen=True, kw_only=True):
    """A customer account created in a shop."""

    customer: Person
    accepts_marketing: bool = False
    created_at: dt.datetime | None = None  # with the vendor's offset


class CustomerCreated(Event, tag="customer.created"):
    """A shop created a customer account."""

    data: CustomerData


class OrderData(msgspec.Struct, frozen=True, kw_only=True):
    """An order as the shop recorded it; every amount exact, in `currency`."""

    order_id: str  # the vendor's id as text: 64-bit ids never pass through a float
    order_number: str
    currency: str
    total: Decimal
    customer: Person
    lines: list[OrderLine] = []
    subtotal: Decimal | None = None
    tax_total: Decimal = Decimal("0")
    shipping_total: Decimal = Decimal("0")
    discount_total: Decimal = Decimal("0")
    prices_include_tax: bool = False
    billing_address: Address | None = None
    shipping_address: Address | None = None
    placed_at: dt.datetime | None = None  # with the vendor's own UTC offset
    placed_at_utc: dt.datetime | None = None
    payment_status: str = ""
    note: str = ""
    # Percent of tax on shipping; None when the vendor does not say (a connector then decides).
    shipping_tax_rate: Decimal | None = None
    shipping_method: str = ""  # as the buyer saw it ("Flat Rate"); several joined with ", "
    fees: list[OrderLine] = []  # charges beside the goods (WooCommerce fee lines): in `total`
    discount_codes: list[str] = []  # coupon / discount codes as entered
    payment_method: str = ""  # the vendor's payment method id ("bacs", "card")
    transaction_id: str = ""  # the payment provider's reference, where the shop records it
    tags: list[str] = []
    attributes: dict[str, str] = {}  # free-form order attributes (Shopify note_attributes)


class OrderCreated(Event, tag="order.created"):
    """A customer placed an order."""

    data: OrderData


class PaymentData(msgspec.Struct, frozen=True, kw_only=True):
    """Money received, exact, with what it paid for where known."""

    payment_id: str
    amount: Decimal
    currency: str
    payer: Person
    order_number: str = ""
    invoice_number: str = ""
    paid_at: dt.datetime | None = None
    paid_at_utc: dt.datetime | None = None
    method: str = ""


class PaymentReceived(Event, tag="payment.received"):
    """A payment came in."""

    data: PaymentData


AnyEvent = ContactSubmitted | CustomerCreated | OrderCreated | PaymentReceived

EVENT_TYPES: dict[str, type[Event]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]
    for cls in (ContactSubmitted, CustomerCreated, OrderCreated, PaymentReceived)
}

_decoder = msgspec.json.Decoder(AnyEvent)
_encoder = msgspec.json.Encoder(decimal_format="string")


def decode_event(raw: bytes | str) -> AnyEvent:
    """Decode one event from JSON; raises msgspec.ValidationError/DecodeError on bad input."""
    return _decoder.decode(raw)


def encode_event(event: Event) -> bytes:
    """Encode one event to JSON bytes (decimals as strings, datetimes RFC 3339)."""
    return _encoder.encode(event)


def to_builtins(event: Event) -> dict[str, object]:
    """The event as plain JSON-like data (what templates and conditions see)."""
    out = msgspec.to_builtins(event)
    assert isinstance(out, dict)
    return out
