"""What a source kind is: verify a vendor's webhook on the raw bytes, then map it to events.

The gateway runs every request through the same order: size -> content type -> signature ->
timestamp -> dedupe -> parse/validate -> publish -> answer. A source kind supplies the vendor
parts (`verify`, `delivery_id`, `parse`) and raises `Rejected` with a stable reason code.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import aiohttp
import msgspec

from schemas import Address, AnyEvent, ContactData, ContactSubmitted, Person
from services.common.config import SourceConfig, SourceSpec
from services.common.errors import ConfigError

# Event ids are uuid5 in this namespace over "<source name>:<vendor delivery id>", so a resent
# webhook maps to the same event id on any gateway replica.
EVENT_ID_NAMESPACE = uuid.UUID("5f1c1f0e-3a55-4c1e-9a55-68616e646f76")


@dataclass(frozen=True)
class FieldError:
    """One invalid field: its JSON path in the payload and why."""

    path: str
    message: str


class Rejected(Exception):
    """The request is refused: an HTTP status, a stable reason code, a human detail."""

    def __init__(
        self,
        status: int,
        reason: str,
        detail: str,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {reason}: {detail}")
        self.status = status
        self.reason = reason
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})


def invalid(errors: Iterable[FieldError], detail: str = "") -> Rejected:
    """A 422 naming every invalid field."""
    errs = list(errors)
    text = detail or "; ".join(f"{e.path}: {e.message}" for e in errs)
    return Rejected(422, "invalid_payload", text, errs)


def missing_signature(header: str) -> Rejected:
    """401: the signature header is absent."""
    return Rejected(401, "missing_signature", f"header {header} is missing")


def invalid_signature(header: str) -> Rejected:
    """401: the signature does not match any active secret (or is malformed)."""
    return Rejected(401, "invalid_signature", f"header {header} does not match the body")


@dataclass(frozen=True)
class Ignored:
    """A well-formed delivery Handover does not act on (pings, unknown topics): answered 200."""

    reason: str


@dataclass(frozen=True)
class Inbound:
    """One webhook request as the gateway read it: raw bytes plus the headers that matter."""

    source: str
    headers: Mapping[str, str]  # case-insensitive (aiohttp's CIMultiDictProxy)
    body: bytes
    content_type: str  # the media type alone, lower-case ("application/json")
    received_at: dt.datetime  # UTC
    params: Mapping[str, str] = field(default_factory=dict)  # content-type parameters (charset)


def event_id(source: str, delivery_id: str) -> str:
    """The deterministic event id for a vendor delivery at one source."""
    # uuid5 by hand: aiohttp decodes header bytes that are not UTF-8 as surrogate escapes, which
    # uuid.uuid5 cannot encode (a 500 found by fuzzing); the raw bytes give the same id otherwise.
    name = f"{source}:{delivery_id}".encode("utf-8", "surrogateescape")
    digest = hashlib.sha1(EVENT_ID_NAMESPACE.bytes + name, usedforsecurity=False).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 digest."""
    return hmac.new(key, message, hashlib.sha256).digest()


def matches_any(expected: Iterable[bytes], given: bytes) -> bool:
    """Constant-time comparison of `given` against every candidate (no early exit on a match)."""
    found = False
    for candidate in expected:
        found |= hmac.compare_digest(candidate, given)
    return found


def b64decode_or_none(value: str) -> bytes | None:
    """Strict base64 decode; None instead of an exception for garbage."""
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (ValueError, TypeError):
        return None


def too_deep() -> Rejected:
    """400: JSON nested deeper than the decoder's recursion limit (a hostile body, not data)."""
    return Rejected(400, "invalid_body", "body is not valid JSON: nested too deeply")


def decode_json(body: bytes) -> Any:
    """Parse a JSON body; a 400 `invalid_body` for anything that is not JSON in UTF-8."""
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise Rejected(400, "invalid_body", f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise too_deep() from None


def to_utc(value: dt.datetime | None) -> dt.datetime | None:
    """The same instant in UTC (naive values are taken as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


class Source:
    """Base of every source kind; subclasses set `kind` and override the vendor parts."""

    kind: ClassVar[str] = ""
    Config: ClassVar[type[SourceConfig]] = SourceConfig
    content_types: ClassVar[tuple[str, ...]] = ("application/json",)
    signed: ClassVar[bool] = True  # False: no signature scheme (plain website forms)
    # The event types this kind can publish (for /openapi.json, AsyncAPI and config checks).
    produces: ClassVar[tuple[str, ...]] = ()
    # The headers a signed request must carry (documented in /openapi.json).
    signature_headers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.config = spec.config
        self.keys: tuple[bytes, ...] = tuple(s.reveal().encode() for s in spec.secrets)

    @classmethod
    def check(cls, spec: SourceSpec) -> None:
        """Config-time checks beyond the struct's types (a signed kind needs a secret)."""
        if cls.signed and not spec.secrets:
            raise ConfigError(
                f"sources.{spec.name}.secret",
                f"a {cls.kind} source needs `secret`, `secrets` or `secret_env`",
            )

    def accepts_untyped(self, inbound: Inbound) -> bool:
        """True for a request this kind takes without any Content-Type header (none by default)."""
        return False

    def verify(self, inbound: Inbound, now: dt.datetime) -> None:
        """Check signature then timestamp on the raw bytes; raise Rejected (401) if wrong."""

    def delivery_id(self, inbound: Inbound) -> str | None:
        """The vendor's delivery id (for the event id and dedupe); None when it has none."""
        return None

    def content_id(self, inbound: Inbound) -> str | None:
        """What the signature covers that names the delivery (the resource and its version, or
        the vendor's event id in the body); None where the body names nothing (forms)."""
        return None

    def delivery_key(self, inbound: Inbound) -> str | None:
        """The key the event id and dedupe are derived from: the signed content's identity
        first (a captured body re-sent under new unsigned delivery headers is the same
        delivery), else the vendor's delivery id."""
        return self.content_id(inbound) or self.delivery_id(inbound)

    def parse(self, inbound: Inbound, event_id: str) -> list[AnyEvent] | Ignored:
        """Map the verified body to events (ids derived from `event_id`), or Ignored."""
        raise NotImplementedError

    async def enrich(self, events: list[AnyEvent], http: aiohttp.ClientSession) -> list[AnyEvent]:
        """Complete parsed events from the vendor's API before they are published (the body
        alone does not carry everything); by default they are complete already."""
        return events


# --- Helpers shared by the vendor kinds (shopify, woocommerce, stripe, forms, standard) ---------

_exact_decoder = msgspec.json.Decoder(float_hook=Decimal)


def decode_json_exact(body: bytes, decoder: msgspec.json.Decoder[Any] = _exact_decoder) -> Any:
    """Parse a JSON body keeping every number exact (big ints as int, fractions as Decimal).

    A 400 `invalid_body` for anything that is not JSON in UTF-8 (or, with a typed `decoder`,
    not of its type).
    """
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise Rejected(400, "invalid_body", f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise too_deep() from None


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object (exact numbers); 400 for non-JSON, 422 for another JSON value."""
    data = decode_json_exact(body)
    if not isinstance(data, dict):
        raise invalid([FieldError("$", "must be a JSON object")])
    return data


def body_field(inbound: Inbound, *path: str) -> str | None:
    """A non-empty text value at `path` in a JSON-object body (a vendor's delivery id); None
    when the body or the value is not there (parse then reports what is wrong)."""
    try:
        value: Any = json_object(inbound.body)
    except Rejected:
        return None
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) and value else None


def body_id(inbound: Inbound, *path: str) -> str | None:
    """An id at `path` in a JSON-object body, given as an integer or a non-empty string, as
    exact text; None when the body or the value is not there."""
    try:
        value: Any = json_object(inbound.body)
    except Rejected:
        return None
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    try:
        return exact_id(value, required=True)
    except ValueError:
        return None


def contact_submitted(
    source: str, event_id: str, inbound: Inbound, data: ContactData, occurred: dt.datetime | None
) -> list[AnyEvent]:
    """The one contact.submitted event a form builder's submission becomes."""
    return [
        ContactSubmitted(
            id=event_id,
            source=source,
            time=to_utc(occurred) or inbound.received_at,
            subject=data.contact.email.lower(),
            received_at=inbound.received_at,
            data=data,
        )
    ]


def header(inbound: Inbound, *names: str) -> str | None:
    """The first present, non-blank header among `names`, stripped; None when none is."""
    for name in names:
        value = inbound.headers.get(name)
        if value is not None and value.strip():
            return value.strip()
    return None


def hex_or_none(value: str) -> bytes | None:
    """Strict hex decode; None instead of an exception for garbage."""
    if not _HEX.fullmatch(value):
        return None
    return bytes.fromhex(value)


_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_DIGITS = re.compile(r"[0-9]{1,16}")


def unix_seconds(value: str | None) -> int | None:
    """A plain ASCII unsigned integer (seconds or ms since the epoch); None for anything else."""
    if value is None or not _DIGITS.fullmatch(value):
        return None
    return int(value)


def check_timestamp(signed_at: float, now: dt.datetime, tolerance_s: float, header: str) -> None:
    """401 `timestamp_out_of_tolerance` if `signed_at` (unix seconds) is further than the
    tolerance from `now`, in either direction (a tolerance <= 0 disables the check)."""
    if tolerance_s <= 0:
        return
    skew = now.timestamp() - signed_at
    if abs(skew) > tolerance_s:
        raise Rejected(
            401,
            "timestamp_out_of_tolerance",
            f"header {header} is {int(skew)} s from the server clock (tolerance {tolerance_s} s)",
        )


def json_path(*keys: str | int) -> str:
    """A JSONPath for error messages: `$.a.b[0]['Phone Number']`."""
    out = "$"
    for key in keys:
        if isinstance(key, int):
            out += f"[{key}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            out += f".{key}"
        else:
            out += "['" + key.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out


def dig(data: Any, *keys: str | int) -> Any:
    """The value at a key path, or None if any step is missing or of the wrong shape."""
    cur = data
    for key in keys:
        if type(key) is str:  # an object member: most steps (a parser reads every field this way)
            if not isinstance(cur, dict):
                return None
            cur = cur.get(key)
        else:
            if not isinstance(cur, list) or not -len(cur) <= key < len(cur):  # type: ignore[operator]
                return None
            cur = cur[key]  # type: ignore[index]
    return cur


def as_text(value: Any) -> str | None:
    """A scalar JSON value as text exactly as sent (numbers keep their digits); None otherwise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return None


def any_text(value: Any) -> str:
    """Any JSON value as text: a scalar as sent, a list or object as its JSON, null as ""."""
    text = as_text(value)
    if text is None and value is not None:
        text = msgspec.json.encode(value).decode()
    return text or ""


def _sane(amount: Decimal, text: str = "") -> bool:
    """Finite, at most 30 digits either side of the point (arithmetic on it cannot trap).
    `text`: what the amount was read from; a short one without an exponent cannot hold more."""
    if not amount.is_finite():
        return False
    if 0 < len(text) <= 30 and "e" not in text and "E" not in text:
        return True
    exponent = amount.as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -30 and amount.adjusted() <= 30


def exact_id(value: Any, required: bool = False) -> str:
    """An identifier given as a JSON integer or a string, as exact text ('' when absent);
    ValueError (its message names what is wrong) for anything else."""
    if value is None:
        if required:
            raise ValueError("is required")
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and (value.strip() or not required):
        return value
    raise ValueError("must be an integer or a non-empty string id")


def exact_decimal(value: Any) -> Decimal | None:
    """An exact amount from a string ("414.95", blanks around allowed) or a JSON number (int or
    Decimal); None for absent, null or ""; ValueError for anything else or an insane amount."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            amount = Decimal(text)
        except InvalidOperation:
            amount = None
        if amount is not None and _sane(amount, text):
            return amount
    elif isinstance(value, int | Decimal) and not isinstance(value, bool):
        amount = Decimal(value)
        if _sane(amount):
            return amount
    raise ValueError("must be a decimal number")


def iso_datetime(value: Any) -> dt.datetime | None:
    """An ISO 8601 / RFC 3339 timestamp with its offset kept; None for absent, null or "";
    ValueError for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("must be an ISO 8601 timestamp")


class Payload:
    """Typed reads from a decoded JSON payload that collect a FieldError per bad field."""

    def __init__(self, data: Any, *base: str | int) -> None:
        self.data = data
        self.base = base
        self.errors: list[FieldError] = []

    def at(self, *keys: str | int) -> Payload:
        """A reader rooted deeper in the same payload, sharing this reader's error list."""
        sub = Payload(dig(self.data, *keys), *self.base, *keys)
        sub.errors = self.errors
        return sub

    def raw(self, *keys: str | int) -> Any:
        """The value at the path (None if absent)."""
        return dig(self.data, *keys)

    def error(self, keys: tuple[str | int, ...], message: str) -> None:
        """Record one invalid field."""
        self.errors.append(FieldError(json_path(*self.base, *keys), message))

    def text(self, *keys: str | int, required: bool = False) -> str:
        """A text field (a number is taken as its digits); '' when absent or null."""
        value = dig(self.data, *keys)
        if type(value) is str and (not required or value.strip()):
            return value  # the usual case, first
        if value is None:
            if required:
                self.error(keys, "is required")
            return ""
        out = as_text(value)
        if out is None:
            self.error(keys, "must be text")
            return ""
        if required and not out.strip():
            self.error(keys, "must not be empty")
        return out

    def id(self, *keys: str | int, required: bool = False) -> str:
        """An identifier given as an integer or a string, as exact text."""
        try:
            return exact_id(dig(self.data, *keys), required)
        except ValueError as exc:
            self.error(keys, str(exc))
            return ""

    def decimal(self, *keys: str | int, required: bool = False) -> Decimal | None:
        """An exact amount from a string ("414.95") or a JSON number; None when absent."""
        try:
            amount = exact_decimal(dig(self.data, *keys))
        except ValueError as exc:
            self.error(keys, str(exc))
            return None
        if amount is None and required:
            self.error(keys, "is required")
        return amount

    def integer(self, *keys: str | int, required: bool = False) -> int | None:
        """A JSON integer; None when absent."""
        value = dig(self.data, *keys)
        if value is None:
            if required:
                self.error(keys, "is required")
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        self.error(keys, "must be an integer")
        return None

    def boolean(self, *keys: str | int) -> bool:
        """A JSON boolean (absent or null: False)."""
        value = dig(self.data, *keys)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        self.error(keys, "must be true or false")
        return False

    def datetime(self, *keys: str | int, required: bool = False) -> dt.datetime | None:
        """An ISO 8601 / RFC 3339 timestamp, offset kept; None when absent."""
        try:
            moment = iso_datetime(dig(self.data, *keys))
        except ValueError as exc:
            self.error(keys, str(exc))
            return None
        if moment is None and required:
            self.error(keys, "is required")
        return moment

    def epoch(self, *keys: str | int, required: bool = False) -> dt.datetime | None:
        """Unix seconds as an aware UTC datetime; None when absent."""
        seconds = self.integer(*keys, required=required)
        if seconds is None:
            return None
        try:
            return dt.datetime.fromtimestamp(seconds, dt.UTC)
        except (OverflowError, OSError, ValueError):
            self.error(keys, "is not a valid unix timestamp")
            return None

    def items(self, *keys: str | int) -> list[Any]:
        """A JSON array (absent or null: empty)."""
        value = dig(self.data, *keys)
        if value is None:
            return []
        if isinstance(value, list):
            return value
        self.error(keys, "must be an array")
        return []

    def check(self) -> None:
        """Raise the 422 naming every invalid field, if there is any."""
        if self.errors:
            raise invalid(self.errors)


def verify_body_hmac(
    keys: Iterable[bytes], inbound: Inbound, names: Sequence[str], prefix: str = ""
) -> None:
    """The common scheme: header = prefix + base64(HMAC-SHA256(secret, raw body)), no timestamp.

    `names` are alternative header names (the first is the one named in errors).
    """
    given = header(inbound, *names)
    if given is None:
        raise missing_signature(names[0])
    if prefix:
        if not given.startswith(prefix):
            raise invalid_signature(names[0])
        given = given[len(prefix) :]
    signature = b64decode_or_none(given)
    if not signature:
        raise invalid_signature(names[0])
    if not matches_any((hmac_sha256(key, inbound.body) for key in keys), signature):
        raise invalid_signature(names[0])


def address_from(p: Payload, mapping: Mapping[str, str]) -> Address | None:
    """An Address from the fields in `mapping` (Address field -> payload key); None if empty."""
    if not isinstance(p.data, dict):
        if p.data is not None:
            p.error((), "must be an object")
        return None
    values = {name: p.text(key) for name, key in mapping.items()}
    if not any(values.values()):
        return None
    return Address(**values)


# --- Contact forms hosted by a vendor (typeform, tally, webflow) ------------------------------

_ROLE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("email", ("email", "e mail", "mail", "e mail address", "email address")),
    ("phone", ("phone", "telephone", "tel", "mobile", "phone number", "telefon", "handy")),
    ("first_name", ("first name", "firstname", "given name", "vorname", "forename")),
    ("last_name", ("last name", "lastname", "surname", "family name", "nachname")),
    ("company", ("company", "organisation", "organization", "firma", "company name")),
    ("message", ("message", "comment", "comments", "nachricht", "enquiry", "inquiry")),
    ("consent", ("consent", "gdpr", "privacy", "agree", "i agree", "datenschutz", "terms")),
    ("name", ("name", "full name", "your name", "your full name")),
)
_TRUTHY = frozenset({"1", "true", "yes", "on", "y", "ja", "checked", "accepted"})


def contact_role(label: str) -> str:
    """Which contact attribute a form field holds, guessed from its label/ref/name ('' if none).

    Whole words only: "Phone Number" is a phone, "What's your full name?" a name, "Username"
    nothing.
    """
    words = re.sub(r"[^0-9a-z]+", " ", label.lower()).strip()
    padded = f" {words} "
    for role, phrases in _ROLE_WORDS:
        if any(f" {phrase} " in padded for phrase in phrases):
            return role
    return ""


class ContactBuilder:
    """Collects a form's answers: the first value of each contact role, the rest as `fields`."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.fields: dict[str, str] = {}
        self.consent = False

    def add(self, role: str, label: str, value: str, flag: bool | None = None) -> None:
        """One answer; `flag` is a boolean answer (checkbox) where the vendor gives one."""
        if role == "consent":
            given = flag if flag is not None else value.strip().lower() in _TRUTHY
            self.consent = self.consent or given
            return
        if role and role not in self.values and value:
            self.values[role] = value
            return
        key = label or role or "field"
        self.fields[key] = f"{self.fields[key]}\n{value}" if key in self.fields else value

    def person(self, external_id: str = "") -> Person:
        """The contact as a Person (text exactly as submitted)."""
        v = self.values
        return Person(
            email=v.get("email", "").strip(),
            first_name=v.get("first_name", ""),
            last_name=v.get("last_name", ""),
            name=v.get("name", ""),
            phone=v.get("phone", ""),
            company=v.get("company", ""),
            external_id=external_id,
        )

    def data(self, form: str, external_id: str = "") -> ContactData:
        """The ContactData of the submission."""
        return ContactData(
            contact=self.person(external_id),
            message=self.values.get("message", ""),
            form=form,
            consent=self.consent,
            fields=self.fields,
        )
