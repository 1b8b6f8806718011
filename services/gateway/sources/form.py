"""Plain website forms: urlencoded, multipart or JSON posts, unsigned, with a honeypot for bots."""

from __future__ import annotations

import email.parser
import email.policy
import re
from typing import Annotated, ClassVar
from urllib.parse import parse_qsl

from schemas import AnyEvent, ContactData, ContactSubmitted, Person
from services.common.config import SourceConfig, about
from services.gateway.captcha import CaptchaConfig, token_field
from services.gateway.errors import FieldError, Rejected, invalid
from services.gateway.sources._payload import decode_json
from services.gateway.sources.base import Ignored, Inbound, Source

# Deliberately loose: one '@', no spaces, a dot in the domain. Plus-addresses and Unicode local
# parts are valid mail addresses and must pass through unchanged.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
KNOWN = ("email", "name", "first_name", "last_name", "phone", "company", "message")
TRUTHY = {"1", "true", "yes", "on", "y", "ja", "checked"}


class FormConfig(SourceConfig, frozen=True, kw_only=True):
    """A website form: where browsers go afterwards, which field is the bot trap."""

    thank_you_url: Annotated[str, about(
        "Where browsers go (303) after posting; empty: a small built-in thank-you page.", "https://example.com/thanks"
    )] = ""
    honeypot_field: Annotated[str, about(
        "A hidden field humans leave empty; a post that fills it in is a bot's, and dropped.", "_gotcha"
    )] = "_gotcha"
    form: Annotated[str, about("A name for the form, carried into the event.", "contact")] = ""
    # Checked by the gateway before publishing.
    captcha: Annotated[CaptchaConfig | None, about("A captcha the form carries (provider, secret).")] = None


def valid_email(value: str) -> bool:
    """A plausible mail address (the receiving system has the last word)."""
    return len(value) <= 254 and EMAIL.match(value) is not None


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    raise TypeError


def _multipart(inbound: Inbound) -> list[tuple[str, str]]:
    boundary = inbound.params.get("boundary", "")
    if not boundary:
        raise Rejected(400, "invalid_body", "multipart/form-data without a boundary parameter")
    head = f"Content-Type: multipart/form-data; boundary=\"{boundary}\"\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + inbound.body)
    if not message.is_multipart() or message.defects:
        raise Rejected(400, "invalid_body", "multipart body could not be parsed")
    fields: list[tuple[str, str]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename():
            continue  # uploaded files are not part of a contact record
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        charset = part.get_content_charset() or inbound.params.get("charset") or "utf-8"
        try:
            fields.append((name, payload.decode(charset)))
        except (UnicodeDecodeError, LookupError):
            raise Rejected(400, "invalid_body", f"field {name!r} is not valid {charset}") from None
    return fields


def form_fields(inbound: Inbound) -> list[tuple[str, str]]:
    """The submitted (name, value) pairs, in order, decoded as the browser sent them."""
    if inbound.content_type == "application/json":
        data = decode_json(inbound.body)
        if not isinstance(data, dict):
            raise Rejected(400, "invalid_body", "JSON body must be an object of fields")
        pairs = []
        for key, value in data.items():
            try:
                pairs.append((key, _text(value)))
            except TypeError:
                raise invalid([FieldError(f"$.{key}", "must be text, a number or a boolean")]) from None
        return pairs
    if inbound.content_type == "multipart/form-data":
        return _multipart(inbound)
    charset = inbound.params.get("charset", "utf-8")
    try:
        text = inbound.body.decode(charset)
        return parse_qsl(text, keep_blank_values=True, encoding=charset, errors="strict")
    except (UnicodeDecodeError, LookupError, ValueError):
        raise Rejected(400, "invalid_body", f"form body is not valid {charset}") from None


class FormSource(Source):
    """A contact form on the business's own website."""

    kind: ClassVar[str] = "form"
    Config = FormConfig
    content_types = ("application/x-www-form-urlencoded", "multipart/form-data", "application/json")
    signed = False
    produces = ("contact.submitted",)
    config: FormConfig

    def delivery_id(self, inbound: Inbound) -> str | None:
        """A client may name its submission with Idempotency-Key; browsers send none."""
        return inbound.headers.get("Idempotency-Key") or None

    def parse(self, inbound: Inbound, event_id: str) -> list[AnyEvent] | Ignored:
        """Turn the submitted fields into one contact.submitted event."""
        pairs = form_fields(inbound)
        values: dict[str, str] = {}
        for name, value in pairs:
            if name == "_charset_":
                continue
            # A repeated field (checkbox group) keeps every value, one per line.
            values[name] = f"{values[name]}\n{value}" if name in values else value
        if values.pop(self.config.honeypot_field, ""):
            return Ignored("honeypot")
        if self.config.captcha is not None:
            values.pop(token_field(self.config.captcha), None)  # checked already; not contact data
        email_value = values.get("email", "").strip()
        if not email_value:
            raise invalid([FieldError("$.email", "is required")])
        if not valid_email(email_value):
            raise invalid([FieldError("$.email", "is not a valid e-mail address")])
        consent = values.pop("consent", "").strip().lower() in TRUTHY
        person = Person(
            email=email_value,
            name=values.get("name", ""),
            first_name=values.get("first_name", ""),
            last_name=values.get("last_name", ""),
            phone=values.get("phone", ""),
            company=values.get("company", ""),
        )
        now = inbound.received_at
        data = ContactData(
            contact=person,
            message=values.get("message", ""),
            form=self.config.form or self.name,
            consent=consent,
            fields={k: v for k, v in values.items() if k not in KNOWN},
        )
        event = ContactSubmitted(
            id=event_id, source=self.name, time=now, subject=email_value.lower(),
            received_at=now, data=data,
        )
        return [event]

