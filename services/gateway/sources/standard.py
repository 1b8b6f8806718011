"""Standard Webhooks (https://www.standardwebhooks.com/) carrying one of Handover's own events.

Headers webhook-id, webhook-timestamp (unix seconds), webhook-signature (space-separated
`v1,<base64>` entries; any match passes, other versions are skipped). Signed content is
f"{id}.{timestamp}.{raw body}"; the HMAC key is the base64 part of the `whsec_...` secret.
The body is a Handover event; its `id`, `source` and `received_at` are set here, `time` is
normalised to UTC (as the schema documents it), and an order's `placed_at_utc` (a payment's
`paid_at_utc`) is derived from `placed_at` (`paid_at`) when the sender leaves it out.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, ClassVar

import msgspec

from schemas import (
    AnyEvent,
    ContactSubmitted,
    CustomerCreated,
    OrderCreated,
    PaymentReceived,
    decode_event,
)
from services.common.config import SourceConfig, SourceSpec, about
from services.common.errors import ConfigError
from services.common.signing import standard_key
from services.gateway.errors import FieldError, Rejected, invalid, too_deep
from services.gateway.sources._signing import verify_standard
from services.gateway.sources.base import Ignored, Inbound, Source, header, to_utc

ID, TIMESTAMP, SIGNATURE = "webhook-id", "webhook-timestamp", "webhook-signature"
_AT = re.compile(r"^(?P<msg>.*?)(?: - at `(?P<path>\$[^`]*)`)?$", re.S)


class StandardConfig(SourceConfig, frozen=True, kw_only=True):
    """A sender that follows the Standard Webhooks spec."""

    # The spec's reference libraries: 5 minutes either way.
    tolerance_s: Annotated[int, about("How far a signature's timestamp may be from now, in seconds.", 300)] = 300


def _utc_pair(
    local: dt.datetime | None, utc: dt.datetime | None, local_name: str, utc_name: str
) -> dt.datetime | None:
    """The UTC twin of a timestamp the sender gave with its own offset: derived when absent,
    normalised to UTC when given, and refused (422 naming it) when it is another instant."""
    if utc is None:
        return to_utc(local)
    utc = to_utc(utc)
    if local is not None and to_utc(local) != utc:
        raise invalid([FieldError(
            f"$.data.{utc_name}",
            f"{utc_name} is not the same instant as {local_name} "
            f"({utc.isoformat()} vs {local.isoformat()}); leave it out to derive it",
        )])
    return utc


def _normalise(event: AnyEvent) -> AnyEvent:
    """`time` in UTC; the UTC twins of the data's own timestamps filled in and checked."""
    event = msgspec.structs.replace(event, time=to_utc(event.time))
    if isinstance(event, OrderCreated):
        d = event.data
        utc = _utc_pair(d.placed_at, d.placed_at_utc, "placed_at", "placed_at_utc")
        event = msgspec.structs.replace(event, data=msgspec.structs.replace(d, placed_at_utc=utc))
    elif isinstance(event, PaymentReceived):
        p = event.data
        utc = _utc_pair(p.paid_at, p.paid_at_utc, "paid_at", "paid_at_utc")
        event = msgspec.structs.replace(event, data=msgspec.structs.replace(p, paid_at_utc=utc))
    return event


class StandardSource(Source):
    """Any sender using Standard Webhooks signatures to post Handover events."""

    kind: ClassVar[str] = "standard"
    Config = StandardConfig
    produces = ("contact.submitted", "customer.created", "order.created", "payment.received")
    signature_headers = ("webhook-id", "webhook-timestamp", "webhook-signature")
    config: StandardConfig

    def __init__(self, spec: SourceSpec) -> None:
        super().__init__(spec)
        self.signing_keys = tuple(
            k for k in (standard_key(s.reveal()) for s in spec.secrets) if k is not None
        )

    @classmethod
    def check(cls, spec: SourceSpec) -> None:
        """Every secret must be `whsec_` + base64."""
        super().check(spec)
        for secret in spec.secrets:
            if standard_key(secret.reveal()) is None:
                raise ConfigError(
                    f"sources.{spec.name}.secret", "must be whsec_ followed by base64"
                )

    def verify(self, inbound: Inbound, now: dt.datetime) -> None:
        """Signature (any v1 entry, any active secret), then ±tolerance on the timestamp."""
        verify_standard(self.signing_keys, inbound, now, self.config.tolerance_s, (ID, TIMESTAMP, SIGNATURE))

    def delivery_id(self, inbound: Inbound) -> str | None:
        """The webhook-id header (the spec's idempotency key)."""
        return header(inbound, ID)

    def parse(self, inbound: Inbound, event_id: str) -> list[AnyEvent] | Ignored:
        """The body is one Handover event; id/source/received_at are Handover's own."""
        try:
            event = decode_event(inbound.body)
        except msgspec.ValidationError as exc:
            m = _AT.match(str(exc))
            assert m is not None
            raise invalid([FieldError(m.group("path") or "$", m.group("msg"))]) from None
        except msgspec.DecodeError as exc:
            raise Rejected(400, "invalid_body", f"body is not valid JSON: {exc}") from None
        except RecursionError:
            raise too_deep() from None
        event = msgspec.structs.replace(
            _normalise(event), id=event_id, source=self.name, received_at=inbound.received_at,
            subject=event.subject or _subject(event),
        )
        return [event]


def _subject(event: AnyEvent) -> str:
    """The business key the vendor kinds give when the sender gave none (per-entity order on
    a partition): the contact's e-mail, the order number, the invoice or payment."""
    match event:
        case ContactSubmitted(data=d):
            return d.contact.email.lower()
        case CustomerCreated(data=d):
            return d.customer.email.lower() or d.customer.external_id
        case OrderCreated(data=d):
            return d.order_number or d.order_id
        case PaymentReceived(data=d):
            return d.invoice_number or d.order_number or d.payment_id
    return ""
