"""What a source kind is: verify a vendor's webhook on the raw bytes, then map it to events.

The gateway runs every request through the same order: size -> content type -> signature ->
timestamp -> dedupe -> parse/validate -> publish -> answer. A source kind supplies the vendor
parts (`verify`, `delivery_id`, `parse`) and raises `Rejected` with a stable reason code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import aiohttp

from schemas import AnyEvent
from services.common.config import SourceConfig, SourceSpec
from services.common.errors import ConfigError

# Event ids are uuid5 in this namespace over "<source name>:<vendor delivery id>", so a resent
# webhook maps to the same event id on any gateway replica.
EVENT_ID_NAMESPACE = uuid.UUID("5f1c1f0e-3a55-4c1e-9a55-68616e646f76")


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
    # What is read from the body once per request (its JSON object: the delivery id, the topic
    # check and the mapping all read it); see `_payload.body_object`.
    memo: dict[str, object] = field(default_factory=dict, repr=False, compare=False)


def event_id(source: str, delivery_id: str) -> str:
    """The deterministic event id for a vendor delivery at one source."""
    # uuid5 by hand: aiohttp decodes header bytes that are not UTF-8 as surrogate escapes, which
    # uuid.uuid5 cannot encode (a 500 found by fuzzing); the raw bytes give the same id otherwise.
    name = f"{source}:{delivery_id}".encode("utf-8", "surrogateescape")
    digest = hashlib.sha1(EVENT_ID_NAMESPACE.bytes + name, usedforsecurity=False).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


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


def header(inbound: Inbound, *names: str) -> str | None:
    """The first present, non-blank header among `names`, stripped; None when none is."""
    for name in names:
        value = inbound.headers.get(name)
        if value is not None and value.strip():
            return value.strip()
    return None
