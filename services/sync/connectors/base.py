"""What a connector is: a config struct, the actions it offers, and `deliver` for one action.

A connector's module holds everything about one target system: its `Config` (a TargetConfig
subclass), the actions with their default field mappings, the class, and its lifecycle
(`start`/`close`). It maps the target's answers onto `Transient` / `Permanent`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import msgspec

from schemas import AnyEvent
from services.common.config import ActionConfig, TargetConfig, TargetSpec
from services.common.errors import ConfigError


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


@dataclass
class ConnectorContext:
    """What the sync service lends every connector."""

    http: aiohttp.ClientSession | None
    data_dir: Path
    timeout_s: float = 10.0
    # Handover's own key -> target id map (Pipedrive has no upsert); None where not wired.
    idmap: Any = None


class Connector:
    """Base of every connector; subclasses set `kind`, `Config`, `actions` and `deliver`."""

    kind: ClassVar[str] = ""
    Config: ClassVar[type[TargetConfig]] = TargetConfig
    # None means: any action name is accepted (outboxes record whatever they are told).
    actions: ClassVar[dict[str, ActionSpec] | None] = {}
    # How repeats are prevented at the target: "key" (Idempotency-Key), "natural"
    # (upsert/search by a natural key, or a deterministic file name), "none" (SMTP:
    # the ledger records sending/sent around the call).
    idempotency: ClassVar[str] = "natural"
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


def json_default(value: object) -> object:
    """msgspec enc_hook for values templates produce (dates, paths)."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise NotImplementedError(type(value))


JSON = msgspec.json.Encoder(enc_hook=json_default, decimal_format="string")
