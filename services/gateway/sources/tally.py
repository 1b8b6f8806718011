"""Tally (tally.so): `FORM_RESPONSE` webhooks -> contact.submitted.

Tally-Signature = base64(HMAC-SHA256(signing secret, raw body)), no timestamp
(https://tally.so/help/webhooks; the same recipe in independent receivers). Tally's own example
signs `JSON.stringify(body)`, which equals the raw body as Tally sends it compactly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from schemas import AnyEvent
from services.gateway.sources._forms import ContactBuilder, contact_role, contact_submitted
from services.gateway.sources._payload import Payload, any_text, as_text, body_field, body_object
from services.gateway.sources._signing import verify_body_hmac
from services.gateway.sources.base import Ignored, Inbound, Source

ROLE_BY_TYPE = {"INPUT_EMAIL": "email", "INPUT_PHONE_NUMBER": "phone", "TEXTAREA": "message"}
CHOICE_TYPES = {"MULTIPLE_CHOICE", "CHECKBOXES", "DROPDOWN", "MULTI_SELECT", "RANKING"}


def field_value(field: dict[str, Any]) -> tuple[str, bool | None]:
    """A field's value as text (choice ids replaced by their option text) and any boolean."""
    value = field.get("value")
    if isinstance(value, bool):
        return ("true" if value else "false", value)
    kind = field.get("type")
    if isinstance(kind, str) and kind in CHOICE_TYPES and isinstance(value, list):
        options = field.get("options")
        names = {}
        if isinstance(options, list):
            for option in options:
                if isinstance(option, dict) and isinstance(option.get("id"), str):
                    names[option["id"]] = as_text(option.get("text")) or ""
        texts = [
            names.get(v, as_text(v) or "") if isinstance(v, str) else as_text(v) or ""
            for v in value
        ]
        return ("\n".join(texts), None)
    if kind == "MATRIX" and isinstance(value, dict):
        return (_matrix(field, value), None)
    return (any_text(value), None)


def _texts(items: Any) -> dict[str, str]:
    """id -> text of a Tally options/rows/columns list."""
    out: dict[str, str] = {}
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            out[item["id"]] = as_text(item.get("text")) or item["id"]
    return out


def _matrix(field: dict[str, Any], value: dict[str, Any]) -> str:
    """A matrix answer ({row id: [column ids]}) as "Row: Column, Column" lines, by label."""
    rows, columns = _texts(field.get("rows")), _texts(field.get("columns"))
    lines = []
    for row_id, chosen in value.items():
        picked = chosen if isinstance(chosen, list) else [chosen]
        names = [columns.get(c, as_text(c) or "") if isinstance(c, str) else as_text(c) or "" for c in picked]
        lines.append(f"{rows.get(row_id, row_id)}: {', '.join(names)}")
    return "\n".join(lines)


class TallySource(Source):
    """A Tally form with a webhook and a signing secret."""

    kind: ClassVar[str] = "tally"
    produces = ("contact.submitted",)
    signature_headers = ("Tally-Signature",)

    def verify(self, inbound: Inbound, now: dt.datetime) -> None:
        """Check Tally-Signature against every active secret."""
        verify_body_hmac(self.keys, inbound, ("Tally-Signature",))

    def delivery_id(self, inbound: Inbound) -> str | None:
        """The payload's `eventId`."""
        return body_field(inbound, "eventId")

    def parse(self, inbound: Inbound, event_id: str) -> list[AnyEvent] | Ignored:
        """FORM_RESPONSE -> contact.submitted; other event types are ignored."""
        p = Payload(body_object(inbound))
        kind = p.raw("eventType")
        if kind != "FORM_RESPONSE":
            return Ignored(f"unknown topic {kind!r}" if isinstance(kind, str) else "unknown topic")
        d = p.at("data")
        if not isinstance(d.data, dict):
            d.error((), "is required")
            p.check()
        contact = ContactBuilder()
        for i, field in enumerate(d.items("fields")):
            f = d.at("fields", i)
            if not isinstance(field, dict):
                f.error((), "must be an object")
                continue
            label, key, kind = f.text("label"), f.text("key"), f.text("type")
            role = ROLE_BY_TYPE.get(kind) or contact_role(label) or contact_role(key)
            text, flag = field_value(field)
            contact.add(role, label or key, text, flag)
        created = d.datetime("createdAt") or p.datetime("createdAt")
        form = d.text("formName") or d.text("formId")
        p.check()
        data = contact.data(form=form, external_id=d.text("respondentId"))
        return contact_submitted(self.name, event_id, inbound, data, created)
