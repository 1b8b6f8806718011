"""What a connector is: a config struct, the actions it offers, and `deliver` for one action.

A connector's module holds everything about one target system: its `Config` (a TargetConfig
subclass), the actions with their default field mappings, the class, and its lifecycle
(`start`/`close`). It maps the target's answers onto `Transient` / `Permanent`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

import aiohttp
import msgspec

from schemas import AnyEvent
from services.common.config import ActionConfig, TargetConfig, TargetSpec
from services.common.errors import ConfigError
from services.sync.errors import Ambiguous

# How a repeat of an action is made safe at its target:
#   key      the target honours an idempotency key (the same key twice: one effect)
#   natural  a true upsert by a natural key (HubSpot contacts by e-mail), or a deterministic name
#   lookup   a create whose effect can be found again: Handover records the attempt as in flight
#            first, and after any doubt asks the target (`Connector.reconcile`) before repeating it
#   none     neither (SMTP): an attempt in doubt is dead-lettered for a person to decide
Repeat = Literal["key", "natural", "lookup", "none"]


@dataclass(frozen=True)
class ActionSpec:
    """One action a connector offers: the fields it needs and how they default."""

    description: str
    required: tuple[str, ...] = ()
    # Jinja2 templates over the event context (`person`, `contact`, `order`, `event`, ...).
    defaults: dict[str, str] = field(default_factory=dict)
    optional: tuple[str, ...] = ()
    # Which event types it makes sense for; empty: any.
    event_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class ActionRequest:
    """One action to perform for one event: what the runner hands a connector."""

    event: AnyEvent
    flow: str
    action: str  # the connector's action name ("upsert_contact")
    key: str  # the action's name within its flow
    idempotency_key: str  # event id + flow + action: the same on every retry and replay
    fields: dict[str, str]  # the rendered mapping
    options: dict[str, Any]
    attempt: int = 1


@dataclass(frozen=True)
class Delivered:
    """A successful delivery: the id the target gave the record, and a short human note."""

    external_id: str = ""
    detail: str = ""


class IdMap(Protocol):
    """Handover's own map from a business key to a target's record id (the ledger keeps it)."""

    async def idmap_get(self, target: str, key: str) -> str | None:
        """The target's id for the key, or None."""
        ...

    async def idmap_put(self, target: str, key: str, external_id: str) -> None:
        """Remember the target's id for the key."""
        ...


@dataclass
class ConnectorContext:
    """What the sync service lends every connector."""

    http: aiohttp.ClientSession | None
    data_dir: Path
    timeout_s: float = 10.0
    # Handover's own key -> target id map (Pipedrive has no upsert); None where not wired.
    idmap: IdMap | None = None


MARKER = "Handover ref"  # the line a "lookup" create carries, found again by `Connector.reconcile`


def marker_token(idempotency_key: str) -> str:
    """One word (32 hex) standing for an action's idempotency key: searchable as a token, and
    safe from what a vendor's rich-text field does to punctuation and spaces in flow names."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def marker_line(idempotency_key: str) -> str:
    """The marker line a created record carries (at the end of a body or note)."""
    return f"{MARKER} {marker_token(idempotency_key)}"


def with_marker(text: str, idempotency_key: str) -> str:
    """`text` with the marker line appended (the line alone when `text` is empty)."""
    line = marker_line(idempotency_key)
    return f"{text}\n\n{line}" if text else line


class KeyedLocks:
    """One lock per natural key (a customer_id, an e-mail): calls for the same key run one after
    the other within this process, so two orders of one buyer never race to create the contact."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold the lock of `key` (forgotten once nobody holds or waits for it)."""
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class Connector:
    """Base of every connector; subclasses set `kind`, `Config`, `actions` and `deliver`."""

    kind: ClassVar[str] = ""
    Config: ClassVar[type[TargetConfig]] = TargetConfig
    # None means: any action name is accepted (outboxes record whatever they are told).
    actions: ClassVar[dict[str, ActionSpec] | None] = {}
    # How repeats are prevented at the target (see `Repeat`); `repeats` overrides it per action.
    idempotency: ClassVar[Repeat] = "natural"
    repeats: ClassVar[dict[str, Repeat]] = {}
    # Seconds the target's lookup (a search index) may lag behind a create: a reconcile waits
    # at least this long after the attempt in doubt, so "not found" means not there.
    reconcile_after_s: float = 0.0
    # True: the target cannot work without `secret`/`secret_env` (an API token); checked at load.
    needs_secret: ClassVar[bool] = False
    # True: a delivery is one request bounded by its own timeout (the target's `timeout_s`,
    # else the delivery timeout), so the sync worker adds no timer of its own around it.
    times_itself: ClassVar[bool] = False

    def __init__(self, spec: TargetSpec, ctx: ConnectorContext) -> None:
        self.spec = spec
        self.name = spec.name
        self.config = spec.config
        self.ctx = ctx

    @classmethod
    def action_spec(cls, action: str) -> ActionSpec:
        """The spec of one action (a permissive one for connectors that take any action)."""
        if cls.actions is None:
            return ActionSpec(description="record the event")
        return cls.actions[action]

    @classmethod
    def check_action(cls, action: ActionConfig, path: str, event_type: str) -> None:
        """Config-time checks of one flow action beyond field references; raise ConfigError."""
        if cls.actions is not None and action.action not in cls.actions:
            raise ConfigError(
                f"{path}.action",
                f"unknown action {action.action!r} for a {cls.kind} target; "
                f"known: {', '.join(sorted(cls.actions))}",
            )
        spec = cls.action_spec(action.action)
        if spec.event_types and event_type not in spec.event_types:
            raise ConfigError(
                f"{path}.action",
                f"{action.action} works on {', '.join(spec.event_types)}, not {event_type}",
            )

    async def start(self) -> None:
        """Open what the connector needs (files, pools); called once before deliveries."""

    async def close(self) -> None:
        """Release what `start` opened."""

    async def deliver(self, request: ActionRequest) -> Delivered:
        """Perform one action; raise Transient or Permanent on failure."""
        raise NotImplementedError

    def repeat_of(self, action: str) -> Repeat:
        """How a repeat of `action` is made safe at this target."""
        return self.repeats.get(action, self.idempotency)

    async def reconcile(self, request: ActionRequest) -> Delivered | None:
        """For a "lookup" action whose attempt is in doubt: what the target holds for it
        (Delivered with its id), or None when the target says it is certainly not there.
        Raise Transient when the target cannot answer now, Ambiguous when it cannot tell."""
        raise Ambiguous(self.ambiguity(request, "this target offers no way to look the record up"))

    def check_hint(self, request: ActionRequest) -> str:
        """What the owner should look for in the target before deciding about an action in doubt."""
        return f"look in {self.kind} for the record of {request.action} for event {request.event.id}"

    def ambiguity(self, request: ActionRequest, why: str) -> str:
        """The message of an action in doubt: what happened, what to check, what replay does."""
        return (
            f"{self.kind} {self.name}: cannot tell whether {request.action} for event {request.event.id} "
            f"took effect ({why}). Check: {self.check_hint(request)}. A replay looks it up again first "
            "and creates it only if it is not there; delete a duplicate by hand if you find two."
        )


def json_default(value: object) -> object:
    """msgspec enc_hook for values templates produce (dates, paths)."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise NotImplementedError(type(value))


JSON = msgspec.json.Encoder(enc_hook=json_default, decimal_format="string")
