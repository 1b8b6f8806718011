"""Moneybird: a draft sales invoice per order, for a contact found or created by customer_id.

Contacts: Handover's id map, then `GET /contacts/customer_id/:customer_id` (PATCH when found),
else `POST /contacts` with our `customer_id`
(https://developer.moneybird.com/integration/creating-sales-invoices). Invoices: Moneybird
documents no Idempotency-Key, so the invoice id is kept in the id map under the action's
idempotency key and a repeat is skipped; the order number goes into `reference`. An invoice
whose answer was lost (timeout, dropped connection, 5xx, crash before the map write) is looked
up before any retry (`reconcile`): the contact by customer_id, then its sales invoices filtered
by reference and invoice date (https://developer.moneybird.com/api/sales_invoices/, "filter").
Contacts of one customer_id are made one at a time in this process; a contact another process
made meanwhile ("customer_id has already been taken") is read back and used. Amounts come
from the event structs, not from templates: Decimal -> string, never float. Moneybird allows
150 requests per 5 minutes per token, platform-wide (https://helpcenter.moneybird.nl/nl/articles/208028-api-token-limiet):
a client-side sliding window refuses (Transient, with retry_after) rather than earn a 429.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar
from urllib.parse import quote

import msgspec

from schemas import OrderCreated, OrderData
from services.common.config import AtLeast0, AtLeast1, Positive, TargetConfig, about
from services.common.errors import ConfigError
from services.common.ratelimit import SlidingWindow
from services.sync.connectors._vendor_http import (
    HttpConnectorMixin,
    header_seconds,
    send_json,
)
from services.sync.connectors.base import ActionRequest, ActionSpec, Connector, Delivered, KeyedLocks, Repeat
from services.sync.errors import Ambiguous, Permanent, Transient, parse_retry_after

CONTACT_FIELDS = {
    "customer_id": "{{ order.customer.external_id or order.customer.email }}",
    "email": "{{ order.customer.email }}",
    "firstname": "{{ order.customer.given_name }}",  # split from a full name if need be
    "lastname": "{{ order.customer.family_name }}",
    "company_name": "{{ order.customer.company }}",
    "phone": "{{ order.customer.phone }}",
}

# Filled from the order's billing address unless a flow maps them (templates cannot reach into
# the optional address yet: flows.context_shape treats `Address | None` as a leaf).
ADDRESS_FIELDS = {
    "address1": "line1",
    "address2": "line2",
    "zipcode": "postcode",
    "city": "city",
    "country": "country",
}


def _rate_key(text: str) -> Decimal:
    return Decimal(text.strip().rstrip("%"))


# Currencies without minor units: their totals round to whole units.
ZERO_DECIMAL = frozenset("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split())


def _priced_line(name: str, quantity: Decimal, net: Decimal) -> tuple[str, str, str]:
    """(description, amount, price) billing exactly `net`: the unit price where it divides
    exactly, else one unit of the line's total with the quantity in the description."""
    if quantity:
        unit = net / quantity
        if unit * quantity == net and unit.as_tuple().exponent >= -6:  # type: ignore[operator]
            return name, str(quantity), str(unit)
    return f"{quantity} × {name}", "1", str(net)


def _check_adds_up(order: OrderData, priced: list[tuple[str, Decimal, Decimal, Decimal]]) -> None:
    """Permanent unless the lines, with tax at their rates, make the order's total."""
    cent = Decimal(1) if order.currency.upper() in ZERO_DECIMAL else Decimal("0.01")
    if order.prices_include_tax:
        invoice = sum((net for _, _, net, _ in priced), Decimal(0))
    else:
        by_rate: dict[Decimal, Decimal] = {}
        for _, _, net, rate in priced:
            by_rate[rate] = by_rate.get(rate, Decimal(0)) + net
        tax = sum(
            ((base * rate / 100).quantize(cent, ROUND_HALF_UP) for rate, base in by_rate.items()),
            Decimal(0),
        )
        invoice = sum(by_rate.values(), Decimal(0)) + tax
    difference = invoice.quantize(cent, ROUND_HALF_UP) - order.total
    if difference:
        raise Permanent(
            f"moneybird: the invoice for order {order.order_number} would total {invoice.quantize(cent)} "
            f"{order.currency}, not the order's {order.total} (difference {difference:+}); "
            "nothing was sent"
        )


class MoneybirdConfig(TargetConfig, frozen=True, kw_only=True):
    """Moneybird: `secret`/`secret_env` is the API token; tax percentages map to tax_rate_ids."""

    administration_id: Annotated[str, about("The Moneybird administration to book in.", "123456789012345678")]
    base_url: Annotated[str, about("Moneybird's API base URL.")] = "https://moneybird.com/api/v2"
    timeout_s: Annotated[float, AtLeast0, about("Seconds per call; 0: the sync delivery timeout.")] = 0.0
    tax_rates: Annotated[dict[str, str], about(
        "Tax percentage -> Moneybird tax_rate_id.", {"21": "<tax_rate_id>", "9": "<tax_rate_id>", "0": "<tax_rate_id>"}
    )] = {}
    ledger_account_id: Annotated[str, about(
        "The revenue ledger account of every detail line; empty: Moneybird's default."
    )] = ""
    shipping_tax_rate: Annotated[str, about("The shipping line's tax percentage, when lines differ.", "21")] = ""
    rate_limit: Annotated[int, AtLeast1, about("Calls allowed per rate window (Moneybird's limit).")] = 150
    rate_window_s: Annotated[float, Positive, about("The rate window, in seconds.")] = 300.0

    def __post_init__(self) -> None:
        for key in self.tax_rates:
            try:
                _rate_key(key)
            except InvalidOperation:
                raise ValueError(f"tax_rates key {key!r} is not a percentage") from None
        if not self.administration_id.strip():
            raise ValueError("administration_id is empty")

    def tax_rate_id(self, percent: Decimal, what: str) -> str:
        """The tax_rate_id for a percentage (numerically: "21" == 21.00); Permanent if unmapped."""
        for key, rate_id in self.tax_rates.items():
            if _rate_key(key) == percent:
                return rate_id
        known = ", ".join(sorted(self.tax_rates)) or "none"
        raise Permanent(
            f"moneybird: no tax_rate_id configured for tax rate {percent}% ({what}); "
            f"add it to tax_rates (known: {known})"
        )


def moneybird_message(data: Any) -> str:
    """Moneybird's `error` (a string, or field -> messages) plus `details` when present."""
    # Not confirmed from official docs (see the contract notes): accept both shapes.
    error = data.get("error")
    if isinstance(error, dict):
        text = "; ".join(
            f"{field} {', '.join(map(str, v)) if isinstance(v, list) else v}"
            for field, v in error.items()
        )
    else:
        text = str(error or data.get("message") or "")
    details = data.get("details")
    if isinstance(details, dict) and details:
        text += " (" + "; ".join(f"{k}: {v}" for k, v in details.items()) + ")"
    return text


def moneybird_retry_after(status: int, headers: Mapping[str, str], data: Any) -> float | None:
    """Retry-After when present, else RateLimit-Reset (delta seconds or a Unix time)."""
    seconds = parse_retry_after(headers.get("Retry-After"))
    if seconds is None and status == 429:
        seconds = header_seconds(headers, "RateLimit-Reset", epoch_ok=True)
    return seconds


class MoneybirdConnector(HttpConnectorMixin, Connector):
    """Moneybird: `create_sales_invoice` for `order.created`."""

    kind: ClassVar[str] = "moneybird"
    needs_secret = True
    Config = MoneybirdConfig
    actions = {
        "create_sales_invoice": ActionSpec(
            description="find or create the contact by customer_id, then a draft sales invoice "
            "with the order's lines, prices, tax and currency",
            required=("customer_id",),
            defaults={**CONTACT_FIELDS, "reference": "{{ order.order_number }}"},
            optional=tuple(ADDRESS_FIELDS),
            event_types=("order.created",),
        ),
    }
    idempotency = "natural"
    repeats: ClassVar[dict[str, Repeat]] = {"create_sales_invoice": "lookup"}
    config: MoneybirdConfig

    async def start(self) -> None:
        """Check the token is configured and borrow (or open) the HTTP session."""
        if not self.spec.secret:
            raise ConfigError(f"targets.{self.name}.secret", "Moneybird needs an API token")
        self.limiter = SlidingWindow(self.config.rate_limit, self.config.rate_window_s)
        self.contact_locks = KeyedLocks()
        await self._open_http()

    async def close(self) -> None:
        """Close a privately opened session."""
        await self._close_http()

    async def _call(
        self, method: str, path: str, body: Any = None, params: Mapping[str, str] | None = None
    ) -> Any:
        assert self.spec.secret is not None
        wait = self.limiter.take()
        if wait > 0:
            raise Transient(
                f"moneybird {self.name}: client-side limit of {self.config.rate_limit} requests "
                f"per {self.config.rate_window_s:g} s reached",
                retry_after=wait,
                sent=False,
            )
        base = self.config.base_url.rstrip("/")
        # The format is a path suffix (.json), not an Accept header (developer.moneybird.com).
        url = f"{base}/{quote(self.config.administration_id, safe='')}{path}.json"
        answer = await send_json(
            self.session,
            method,
            url,
            target=f"moneybird {self.name}",
            timeout_s=self.config.timeout_s or self.ctx.timeout_s,
            body=body,
            params=params,
            headers={"Authorization": f"Bearer {self.spec.secret.reveal()}"},
            message_of=moneybird_message,
            retry_after_of=moneybird_retry_after,
        )
        return answer.data

    async def _contact(self, fields: Mapping[str, str], event: OrderCreated) -> str:
        customer_id = fields.get("customer_id", "").strip()
        if not customer_id:
            raise Permanent("moneybird: the order's customer has no id or e-mail for customer_id")
        # Two orders of one buyer at once: one looks up / creates the contact, the other waits
        # and then finds it in the id map.
        async with self.contact_locks.hold(customer_id):
            return await self._contact_of(customer_id, fields, event)

    async def _contact_of(self, customer_id: str, fields: Mapping[str, str], event: OrderCreated) -> str:
        key = f"contact:{customer_id}"
        contact_id = await self.idmap.idmap_get(self.name, key)
        if contact_id:
            return contact_id
        address = event.data.billing_address
        given = dict(fields)
        for name, attr in ADDRESS_FIELDS.items():
            if not given.get(name) and address is not None:
                given[name] = getattr(address, attr)
        names = (*CONTACT_FIELDS, *ADDRESS_FIELDS)
        contact = {name: given[name] for name in names if given.get(name, "") != ""}
        contact["customer_id"] = customer_id
        if fields.get("email"):
            contact["send_invoices_to_email"] = fields["email"]
        try:
            found = await self._call("GET", f"/contacts/customer_id/{quote(customer_id, safe='')}")
        except Permanent as exc:
            if exc.status != 404:
                raise
            data = await self._create_contact(customer_id, contact)
        else:
            data = await self._call("PATCH", f"/contacts/{found['id']}", {"contact": contact})
        contact_id = str(data["id"])
        await self.idmap.idmap_put(self.name, key, contact_id)
        return contact_id

    def _details(self, event: OrderCreated) -> list[dict[str, Any]]:
        """The invoice's detail lines; Permanent, before anything is sent, when they cannot be
        made to add up to the order's total (a wrong invoice is worse than none)."""
        order = event.data
        # A shop that charged no tax at all sends no per-line rate (Shopify's empty tax_lines):
        # that is 0%, not unknown.
        untaxed = order.tax_total == 0
        if not order.lines and order.total:
            raise Permanent(
                f"moneybird: order {order.order_number} has no order lines to invoice (a Stripe "
                "Checkout source fetches them only when it has api_key_env); nothing was sent"
            )
        priced: list[tuple[str, Decimal, Decimal, Decimal]] = []  # (description, amount, net, rate)
        rates: set[Decimal] = set()
        for what, items in (("order line", order.lines), ("fee", order.fees)):
            for i, line in enumerate(items, 1):
                rate = line.tax_rate if line.tax_rate is not None or not untaxed else Decimal("0")
                if rate is None:
                    raise Permanent(f"moneybird: {what} {i} ({line.name!r}) has no tax rate")
                rates.add(rate)
                # The line's total is after its own discounts (coupons): billed as is, so the
                # discount is not taken off a second time below.
                priced.append((line.name, line.quantity, line.total, rate))
        line_discounts = sum((line.discount for line in order.lines), Decimal(0))
        extras = (
            ("Shipping", order.shipping_total, order.shipping_tax_rate),
            ("Discount", -(order.discount_total - line_discounts), None),
        )
        for name, amount, given in extras:
            if not amount:
                continue
            if given is not None:
                rate = given
            elif self.config.shipping_tax_rate:
                rate = _rate_key(self.config.shipping_tax_rate)
            elif untaxed:
                rate = Decimal("0")
            elif len(rates) == 1:
                rate = next(iter(rates))
            else:
                raise Permanent(
                    f"moneybird: order {order.order_number} has a {name.lower()} amount and lines "
                    "with different tax rates; set shipping_tax_rate"
                )
            priced.append((name, Decimal(1), amount, rate))
        details: list[dict[str, Any]] = []
        for i, (name, quantity, net, rate) in enumerate(priced, 1):
            description, units, price = _priced_line(name, quantity, net)
            details.append(
                {
                    "description": description,
                    "amount": units,
                    "price": price,
                    "tax_rate_id": self.config.tax_rate_id(rate, f"line {i} {name!r}"),
                }
            )
        _check_adds_up(order, priced)
        if self.config.ledger_account_id:
            for detail in details:
                detail["ledger_account_id"] = self.config.ledger_account_id
        return details

    async def _invoice(self, request: ActionRequest) -> Delivered:
        event = request.event
        if not isinstance(event, OrderCreated):
            raise Permanent(f"moneybird: invoices need order.created, not {event.type}")
        key = f"invoice:{request.idempotency_key}"
        existing = await self.idmap.idmap_get(self.name, key)
        if existing:
            return Delivered(external_id=existing, detail="sales invoice already created")
        order = event.data
        details = self._details(event)  # before any request: a mapping error is cheap
        contact_id = await self._contact(request.fields, event)
        placed = order.placed_at or event.time
        invoice = {
            "contact_id": contact_id,
            "reference": request.fields.get("reference") or order.order_number,
            "invoice_date": placed.date().isoformat() if isinstance(placed, dt.datetime) else "",
            "currency": order.currency,
            "prices_are_incl_tax": order.prices_include_tax,
            "details_attributes": details,
        }
        data = await self._call("POST", "/sales_invoices", {"sales_invoice": invoice})
        invoice_id = str(data["id"])
        await self.idmap.idmap_put(self.name, key, invoice_id)
        return Delivered(external_id=invoice_id, detail=f"draft invoice for contact {contact_id}")

    async def _create_contact(self, customer_id: str, contact: dict[str, Any]) -> Any:
        """POST the contact; when another process made it first (422 "customer_id has already
        been taken"), read that one back instead."""
        try:
            return await self._call("POST", "/contacts", {"contact": contact})
        except Permanent as refused:
            if refused.status != 422:
                raise
            # Whatever the 422's wording (Moneybird documents no error format): if a contact
            # with our customer_id exists now, it is the one another process just made.
            try:
                return await self._call("GET", f"/contacts/customer_id/{quote(customer_id, safe='')}")
            except Permanent as exc:
                if exc.status == 404:
                    raise refused from None
                raise

    def _invoice_keys(self, request: ActionRequest) -> tuple[str, str, dt.date]:
        """(customer_id, reference, invoice date) of the invoice an order makes."""
        event = request.event
        if not isinstance(event, OrderCreated):
            raise Permanent(f"moneybird: invoices need order.created, not {event.type}")
        placed = event.data.placed_at or event.time
        reference = request.fields.get("reference") or event.data.order_number
        return request.fields.get("customer_id", "").strip(), reference, placed.date()

    def check_hint(self, request: ActionRequest) -> str:
        """Where the owner finds the invoice in doubt."""
        customer_id, reference, day = self._invoice_keys(request)
        return (f"Moneybird's draft sales invoices of the contact with customer id {customer_id!r}, "
                f"reference {reference!r}, dated {day.isoformat()}")

    async def reconcile(self, request: ActionRequest) -> Delivered | None:
        """Find the draft invoice of an order: its contact by customer_id, then the contact's
        invoices of that date filtered by reference (matched exactly here)."""
        customer_id, reference, day = self._invoice_keys(request)
        if not customer_id:
            return None  # without a customer_id no contact, so no invoice, was ever made
        contact_id = await self.idmap.idmap_get(self.name, f"contact:{customer_id}")
        if not contact_id:
            try:
                found = await self._call("GET", f"/contacts/customer_id/{quote(customer_id, safe='')}")
            except Permanent as exc:
                if exc.status == 404:
                    return None  # an invoice needs its contact: none, so no invoice either
                raise
            contact_id = str(found["id"])
        # The filter's own syntax separates keys by "," and alternatives by "|": a reference
        # holding either is matched here only. `period` defaults to this_year: name the days
        # around the invoice date (a day either side, whatever time zone made the date).
        first, last = day - dt.timedelta(days=1), day + dt.timedelta(days=1)
        parts = [f"period:{first:%Y%m%d}..{last:%Y%m%d}", "state:all", f"contact_id:{contact_id}"]
        if not any(c in reference for c in ",|"):
            parts.append(f"reference:{reference}")
        data = await self._call("GET", "/sales_invoices", params={"filter": ",".join(parts), "per_page": "100"})
        if not isinstance(data, list):
            raise Transient(f"moneybird {self.name}: unexpected answer to the invoice lookup")
        ours = [inv for inv in data if str(inv.get("reference") or "") == reference]
        if len(ours) > 1:
            ids = ", ".join(str(inv.get("id")) for inv in ours)
            raise Ambiguous(self.ambiguity(request, f"{len(ours)} invoices carry this reference: {ids}"))
        if not ours:
            return None
        invoice_id = str(ours[0]["id"])
        await self.idmap.idmap_put(self.name, f"invoice:{request.idempotency_key}", invoice_id)
        return Delivered(external_id=invoice_id, detail=f"draft invoice found for contact {contact_id}")

    async def deliver(self, request: ActionRequest) -> Delivered:
        """Perform `create_sales_invoice`."""
        if request.action != "create_sales_invoice":
            raise Permanent(f"moneybird: unknown action {request.action!r}")
        try:
            return await self._invoice(request)
        except (KeyError, TypeError, AttributeError, msgspec.ValidationError) as exc:
            raise Permanent(f"moneybird {self.name}: unexpected answer: {exc!r}") from exc
