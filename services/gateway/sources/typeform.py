"""Typeform: `form_response` webhooks -> contact.submitted.

Typeform-Signature: `sha256=` + base64(HMAC-SHA256(secret, raw body)); Typeform signs only when
a secret is set on the webhook, and signs no timestamp
(https://www.typeform.com/developers/webhooks/secure-your-webhooks/).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from schemas import AnyEvent
from services.gateway.sources._forms import ContactBuilder, contact_role, contact_submitted
from services.gateway.sources._payload import Payload, any_text, as_text, body_field, body_object
from services.gateway.sources._signing import verify_body_hmac
from services.gateway.sources.base import Ignored, Inbound, Source

# The answer types Typeform sends, and where the value sits in the answer object.
ROLE_BY_TYPE = {"email": "email", "phone_number": "phone"}
ROLE_BY_FIELD_TYPE = {"email": "email", "phone_number": "phone", "long_text": "message"}


def answer_value(answer: dict[str, Any]) -> tuple[str, bool | None]:
    """An answer's value as text (choices one per line) and, for yes/no answers, the boolean."""
    kind = answer.get("type")
    value = answer.get(kind) if isinstance(kind, str) else None
    if isinstance(value, bool):
        return ("true" if value else "false", value)
    if kind == "choice" and isinstance(value, dict):
        return (as_text(value.get("label")) or as_text(value.get("other")) or "", None)
    if kind == "choices" and isinstance(value, dict):
        labels = value.get("labels")
        texts = [as_text(x) or "" for x in labels] if isinstance(labels, list) else []
        other = as_text(value.get("other"))
        return ("\n".join([*texts, *([other] if other else [])]), None)
    if kind == "payment" and isinstance(value, dict):
        return (as_text(value.get("amount")) or "", None)
    return (any_text(value), None)


class TypeformSource(Source):
    """A Typeform form with a webhook (secret set through the Webhooks API or the admin)."""

    kind: ClassVar[str] = "typeform"
    produces = ("contact.submitted",)
    signature_headers = ("Typeform-Signature",)

    def verify(self, inbound: Inbound, now: dt.datetime) -> None:
        """Check `Typeform-Signature: sha256=<base64>` against every active secret."""
        verify_body_hmac(self.keys, inbound, ("Typeform-Signature",), prefix="sha256=")

    def delivery_id(self, inbound: Inbound) -> str | None:
        """The payload's `event_id` (kept on Typeform's retries)."""
        return body_field(inbound, "event_id")

    def parse(self, inbound: Inbound, event_id: str) -> list[AnyEvent] | Ignored:
        """form_response -> contact.submitted; other event types are ignored."""
        p = Payload(body_object(inbound))
        kind = p.raw("event_type")
        if kind != "form_response":
            return Ignored(f"unknown topic {kind!r}" if isinstance(kind, str) else "unknown topic")
        r = p.at("form_response")
        if not isinstance(r.data, dict):
            r.error((), "is required")
            p.check()
        titles: dict[str, str] = {}
        for i, _ in enumerate(r.items("definition", "fields")):
            field = r.at("definition", "fields", i)
            if field.text("id"):
                titles[field.text("id")] = field.text("title")
        contact = ContactBuilder()
        for i, answer in enumerate(r.items("answers")):
            a = r.at("answers", i)
            if not isinstance(answer, dict):
                a.error((), "must be an object")
                continue
            ref, field_id = a.text("field", "ref"), a.text("field", "id")
            title = titles.get(field_id, "")
            role = (
                ROLE_BY_TYPE.get(a.text("type"))
                or ROLE_BY_FIELD_TYPE.get(a.text("field", "type"))
                or contact_role(ref)
                or contact_role(title)
            )
            if a.text("field", "type") == "legal":
                role = "consent"
            text, flag = answer_value(answer)
            contact.add(role, ref or title or field_id, text, flag)
        hidden = r.raw("hidden")
        if isinstance(hidden, dict):
            for key, value in hidden.items():
                contact.add("", f"hidden.{key}", as_text(value) or "")
        # Quiz scores and variables (https://www.typeform.com/developers/webhooks/example-payload/:
        # `calculated.score`, `variables[]` of {key, type, number|text}).
        for i, _ in enumerate(r.items("variables")):
            v = r.at("variables", i)
            key, kind = v.text("key"), v.text("type")
            if key:
                contact.add("", f"variables.{key}", any_text(v.raw(kind) if kind in ("number", "text") else None))
        score = r.raw("calculated", "score")
        if score is not None:
            contact.add("", "calculated.score", any_text(score))
        submitted = r.datetime("submitted_at")
        form = r.text("definition", "title") or r.text("form_id")
        p.check()
        data = contact.data(form=form, external_id=r.text("token"))
        return contact_submitted(self.name, event_id, inbound, data, submitted)
