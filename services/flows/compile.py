"""Compiled flows: every flow of the config checked and compiled once, ready to run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jinja2

from schemas import EVENT_TYPES, Event
from services.common.config import ActionConfig, FlowConfig
from services.common.errors import ConfigError
from services.flows.conditions import Condition, compile_condition
from services.flows.templates import MAX_OUTPUT_CHARS, compile_template

# A field that cannot be rendered for one event fails that delivery for good (see conditions).
from services.sync.errors import Permanent

if TYPE_CHECKING:
    from services.common.config import Settings


@dataclass(frozen=True)
class CompiledAction:
    """One action ready to run: its config, connector kind and compiled field templates."""

    config: ActionConfig
    target: str
    templates: dict[str, jinja2.Template]

    @property
    def key(self) -> str:
        """The action's name within its flow."""
        return self.config.key

    def render(self, ctx: dict[str, Any]) -> dict[str, str]:
        """Render every field for one event; a template failing at run time is Permanent."""
        out: dict[str, str] = {}
        for name, template in self.templates.items():
            try:
                out[name] = template.render(ctx)
            except jinja2.TemplateError as exc:
                raise Permanent(f"field {name!r} could not be rendered: {exc}") from exc
            except (ValueError, OverflowError, RecursionError, MemoryError) as exc:  # e.g. a huge int as text
                raise Permanent(f"field {name!r} could not be rendered: {type(exc).__name__}") from exc
            if len(out[name]) > MAX_OUTPUT_CHARS:
                raise Permanent(f"field {name!r} rendered {len(out[name])} characters, over {MAX_OUTPUT_CHARS}")
        return out


@dataclass(frozen=True)
class CompiledFlow:
    """A flow ready to run."""

    config: FlowConfig
    condition: Condition
    actions: tuple[CompiledAction, ...]

    @property
    def name(self) -> str:
        """The flow's name."""
        return self.config.name


def idempotency_key(event: Event, flow: str, action: str) -> str:
    """Event id + flow + action: identical on every retry, redelivery and replay."""
    return f"{event.id}:{flow}:{action}"


def compile_flows(settings: Settings, kinds: Mapping[str, Any]) -> list[CompiledFlow]:
    """Check and compile every flow against the connector `kinds`; raise ConfigError naming the key."""
    compiled: list[CompiledFlow] = []
    names: set[str] = set()
    for i, flow in enumerate(settings.flows):
        path = f"flows[{i}]"
        if flow.name in names:
            raise ConfigError(f"{path}.name", f"another flow is already named {flow.name!r}")
        names.add(flow.name)
        if flow.on not in EVENT_TYPES:
            raise ConfigError(
                f"{path}.on", f"unknown event type {flow.on!r}; known: {', '.join(EVENT_TYPES)}"
            )
        try:
            condition = compile_condition(flow.condition, f"{path}.if", flow.on)
        except ConfigError as exc:  # name the flow too: `flows[3]` is hard to find in a long file
            raise ConfigError(exc.path, f"{exc.message} (flow {flow.name!r})") from None
        if not flow.actions:
            raise ConfigError(f"{path}.actions", "a flow needs at least one action")
        actions = []
        keys: set[str] = set()
        for j, action in enumerate(flow.actions):
            apath = f"{path}.actions[{j}]"
            if action.target not in settings.targets:
                known = ", ".join(sorted(settings.targets)) or "none configured"
                raise ConfigError(
                    f"{apath}.target", f"unknown target {action.target!r}; known: {known}"
                )
            if action.key in keys:
                raise ConfigError(
                    f"{apath}.name", f"two actions named {action.key!r}: give one a `name`"
                )
            keys.add(action.key)
            if action.minutes_saved is not None and not 0 <= action.minutes_saved <= 24 * 60:
                raise ConfigError(f"{apath}.minutes_saved", "must be between 0 and 1440 minutes")
            connector = kinds[settings.targets[action.target].kind]
            connector.check_action(action, apath, flow.on)
            spec = connector.action_spec(action.action)
            allowed = set(spec.required) | set(spec.optional) | set(spec.defaults)
            templates = {}
            for field, text in {**spec.defaults, **action.fields}.items():
                if connector.actions is not None and field not in allowed:
                    raise ConfigError(
                        f"{apath}.fields.{field}",
                        f"{action.action} takes no field {field!r}; "
                        f"it takes: {', '.join(sorted(allowed))}",
                    )
                templates[field] = compile_template(
                    text, f"{apath}.fields.{field}", flow.on, url=field in getattr(connector, "url_fields", ())
                )
            for field in spec.required:
                if field not in templates:
                    raise ConfigError(f"{apath}.fields.{field}", "required field has no mapping")
            actions.append(CompiledAction(action, action.target, templates))
        compiled.append(CompiledFlow(flow, condition, tuple(actions)))
    return compiled
