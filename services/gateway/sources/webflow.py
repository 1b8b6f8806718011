"""Webflow (Data API v2): `form_submission` webhooks -> contact.submitted.

x-webflow-signature = hex(HMAC-SHA256(secret, f"{x-webflow-timestamp}:{raw body}")), the
timestamp in milliseconds; deliveries older than the tolerance (5 min) are refused. Webhooks
created in a site's dashboard are unsigned and cannot be used with this kind.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar

from schemas import AnyEvent
from services.common.config import SourceConfig, about
from services.common.signing import hex_or_none, hmac_sha256, matches_any
from services.gateway.errors import invalid_signature, missing_signature
from services.gateway.sources._forms import ContactBuilder, contact_role, contact_submitted
from services.gateway.sources._payload import Payload, any_text, body_field, body_object
from services.gateway.sources._signing import check_timestamp, unix_seconds
from services.gateway.sources.base import Ignored, Inbound, Source, header

SIGNATURE = "x-webflow-signature"
TIMESTAMP = "x-webflow-timestamp"


class WebflowConfig(SourceConfig, frozen=True, kw_only=True):
    """A Webflow site's form_submission webhook."""

    tolerance_s: Annotated[int, about("How far a signature's timestamp may be from now, in seconds.", 300)] = 300


class WebflowSource(Source):
    """Webflow form submissions (webhook created through the API or an OAuth app)."""

    kind: ClassVar[str] = "webflow"
    Config = WebflowConfig
    produces = ("contact.submitted",)
    signature_headers = ("x-webflow-signature", "x-webflow-timestamp")
    config: WebflowConfig

    def verify(self, inbound: Inbound, now: dt.datetime) -> None:
        """Signature over "<ms timestamp>:<body>", then the timestamp tolerance."""
        signature = header(inbound, SIGNATURE)
        timestamp = header(inbound, TIMESTAMP)
        if signature is None:
            raise missing_signature(SIGNATURE)
        if timestamp is None:
            raise missing_signature(TIMESTAMP)
        given = hex_or_none(signature)
        millis = unix_seconds(timestamp)
        if given is None or millis is None:
            raise invalid_signature(SIGNATURE)
        signed = timestamp.encode() + b":" + inbound.body
        if not matches_any((hmac_sha256(key, signed) for key in self.keys), given):
            raise invalid_signature(SIGNATURE)
        check_timestamp(millis / 1000, now, self.config.tolerance_s, TIMESTAMP)

    def delivery_id(self, inbound: Inbound) -> str | None:
        """The form submission's id (`payload.id`): the same on every retry."""
        sub = body_field(inbound, "payload", "id")
        return f"form_submission:{sub}" if sub else None

    def parse(self, inbound: Inbound, event_id: str) -> list[AnyEvent] | Ignored:
        """form_submission -> contact.submitted; other trigger types are ignored."""
        p = Payload(body_object(inbound))
        kind = p.raw("triggerType")
        if kind != "form_submission":
            return Ignored(f"unknown topic {kind!r}" if isinstance(kind, str) else "unknown topic")
        s = p.at("payload")
        values = s.raw("data")
        if not isinstance(values, dict):
            s.error(("data",), "is required and must be an object")
            p.check()
        types: dict[str, str] = {}
        for i, _ in enumerate(s.items("schema")):
            types[s.text("schema", i, "fieldName")] = s.text("schema", i, "fieldType")
        contact = ContactBuilder()
        for name, value in values.items():
            field_type = types.get(name, "").lower()
            role = (
                "email"
                if "email" in field_type
                else "phone"
                if "phone" in field_type
                else contact_role(name)
            )
            # Numbers keep their digits exactly (the body is decoded with exact numbers).
            text = any_text(value)
            contact.add(role, name, text, value if isinstance(value, bool) else None)
        submitted = s.datetime("submittedAt")
        form = s.text("name") or s.text("formId")
        p.check()
        data = contact.data(form=form)
        return contact_submitted(self.name, event_id, inbound, data, submitted)
