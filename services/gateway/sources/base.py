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
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgspec

from schemas import AnyEvent
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
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{source}:{delivery_id}"))


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


def decode_json(body: bytes) -> Any:
    """Parse a JSON body; a 400 `invalid_body` for anything that is not JSON in UTF-8."""
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise Rejected(400, "invalid_body", f"body is not valid JSON: {exc}") from None


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

    def verify(self, inbound: Inbound, now: dt.datetime) -> None:
        """Check signature then timestamp on the raw bytes; raise Rejected (401) if wrong."""

    def delivery_id(self, inbound: Inbound) -> str | None:
        """The vendor's delivery id (for the event id and dedupe); None when it has none."""
        return None

    def parse(self, inbound: Inbound, event_id: str) -> list[AnyEvent] | Ignored:
        """Map the verified body to events (ids derived from `event_id`), or Ignored."""
        raise NotImplementedError
