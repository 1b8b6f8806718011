"""Flows: on an event type, if a condition holds, render each action's fields and hand it over.

Conditions are a small safe expression language (Python's expression *syntax*, parsed with
`ast` and evaluated here over an allow-list: comparisons, and/or/not, literals, dotted fields,
`in`); never `eval`. Field mappings are sandboxed Jinja2 templates. Every dotted name a
condition or template uses is checked against the event type's schema when the config loads.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import types
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin

import jinja2
import msgspec
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from schemas import EVENT_TYPES, AnyEvent, Event, Person
from services.common.config import ActionConfig, FlowConfig
from services.common.errors import ConfigError
from services.sync.errors import Permanent

if TYPE_CHECKING:
    from services.common.config import Settings

# --- the context conditions and templates see -------------------------------------------------

# Per event type: the friendly name of its data ("order.total"), and where its main person is.
ALIASES: dict[str, tuple[str, str]] = {
    "contact.submitted": ("contact", "contact"),
    "customer.created": ("customer", "customer"),
    "order.created": ("order", "customer"),
    "payment.received": ("payment", "payer"),
}
ENVELOPE = ("id", "type", "source", "time", "subject", "received_at", "test", "specversion")


def _builtins(value: Any) -> Any:
    return msgspec.to_builtins(value, builtin_types=(Decimal, dt.datetime, dt.date))


@functools.cache
def _person_defaults() -> tuple[tuple[str, Any], ...]:
    # msgspec.structs.fields() re-resolves annotations on every call (a quarter of the sync
    # hot path when called per event); the answer never changes, so ask once.
    return tuple((f.encode_name, None if f.encode_name == "address" else "") for f in msgspec.structs.fields(Person))


def _person(person: Person) -> dict[str, Any]:
    out = _builtins(person)
    # Every field present (empty when absent) so templates can test `person.phone` safely.
    for name, empty in _person_defaults():
        out.setdefault(name, empty)
    out["display_name"] = person.display_name
    return out


def event_context(event: AnyEvent) -> dict[str, Any]:
    """What conditions and templates see: `event`, `data`, `person` and the type's alias."""
    alias, person_field = ALIASES[event.type]
    data = _builtins(event.data)
    person: Person = getattr(event.data, person_field)
    envelope = {name: getattr(event, name) for name in ENVELOPE}
    # One person view, shared: conditions and (immutable sandboxed) templates only read it.
    who = _person(person)
    if alias in ("contact", "customer"):
        # `contact.email` and `contact.consent` both read naturally: flatten the person in.
        view = {**data, **who}
    else:
        view = dict(data)
        view[person_field] = who
    ctx: dict[str, Any] = {"event": envelope, "data": data, "person": who, alias: view}
    if alias in ("order", "payment"):
        ctx["customer"] = who
    return ctx


# --- shapes: which dotted names exist for an event type ---------------------------------------

ANY = "any"  # a free-form mapping (form fields): any key is allowed
LEAF = "leaf"
Shape = Union[dict[str, "Shape"], str, "ListShape"]


@dataclass(frozen=True)
class ListShape:
    """A list whose items have a shape (for `{% for line in order.lines %}`)."""

    item: Any


def _shape_of(tp: Any) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return _shape_of(args[0]) if len(args) == 1 else LEAF
    if origin is list:
        return ListShape(_shape_of(get_args(tp)[0]))
    if origin is dict:
        return ANY
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        shape = {f.encode_name: _shape_of(f.type) for f in msgspec.structs.fields(tp)}
        if tp is Person:
            shape["display_name"] = LEAF
        return shape
    return LEAF


@cache
def context_shape(event_type: str) -> dict[str, Any]:
    """The shape of `event_context` for one event type, for config-time name checks."""
    import typing

    cls = EVENT_TYPES[event_type]
    alias, _ = ALIASES[event_type]
    data_type = typing.get_type_hints(cls)["data"]
    data = _shape_of(data_type)
    person = _shape_of(Person)
    if alias in ("contact", "customer"):
        view = {**data, **person}
    else:
        view = dict(data)
    shape: dict[str, Any] = {
        "event": dict.fromkeys(ENVELOPE, LEAF),
        "data": data,
        "person": person,
        alias: view,
    }
    if alias in ("order", "payment"):
        shape["customer"] = person
    return shape


def check_path(shape: Any, parts: list[str], where: str, event_type: str) -> None:
    """Raise ConfigError unless the dotted name exists in the shape."""
    current = shape
    for i, part in enumerate(parts):
        if current == ANY:
            return
        if isinstance(current, ListShape):
            current = current.item
            if part.isdigit():
                continue
        if not isinstance(current, dict) or part not in current:
            name = ".".join(parts[: i + 1])
            known = ", ".join(sorted(current)) if isinstance(current, dict) else "none"
            raise ConfigError(where, f"{event_type} has no field '{name}'; known here: {known}")
        current = current[part]


# --- conditions --------------------------------------------------------------------------------

_OPS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}


def _dotted(node: ast.AST) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id not in _NAMES:
        parts.append(node.id)
        return parts[::-1]
    return None


@dataclass(frozen=True)
class Condition:
    """A compiled `if` expression."""

    source: str
    tree: ast.Expression | None

    def __call__(self, ctx: dict[str, Any]) -> bool:
        """True when the condition holds for this event context (an empty condition always does)."""
        if self.tree is None:
            return True
        try:
            return bool(_eval(self.tree.body, ctx))
        except (TypeError, KeyError, InvalidOperation) as exc:
            raise Permanent(f"condition {self.source!r} could not be evaluated: {exc}") from exc


def _coerce(a: Any, b: Any) -> tuple[Any, Any]:
    # Amounts are Decimal in events and numbers in conditions: compare them as exact decimals.
    if isinstance(a, Decimal) and isinstance(b, str):
        b = Decimal(b)
    elif isinstance(b, Decimal) and isinstance(a, str):
        a = Decimal(a)
    return a, b


def _eval(node: ast.AST, ctx: dict[str, Any]) -> Any:
    if isinstance(node, ast.BoolOp):
        values = (_eval(v, ctx) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _eval(node.operand, ctx)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand, ctx)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, ctx)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _eval(right_node, ctx)
            a, b = _coerce(left, right)
            if not _OPS[type(op)](a, b):
                return False
            left = right
        return True
    if isinstance(node, ast.Constant):
        constant = node.value
        if isinstance(constant, int | float) and not isinstance(constant, bool):
            return Decimal(str(constant))  # literals compare exactly with the events' amounts
        return constant
    if isinstance(node, ast.List | ast.Tuple):
        return [_eval(e, ctx) for e in node.elts]
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return _NAMES[node.id]
    parts = _dotted(node)
    assert parts is not None
    value: Any = ctx
    for part in parts:
        value = value[part]
    return value


def _validate(node: ast.AST, shape: dict[str, Any], where: str, event_type: str) -> None:
    allowed = (
        ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub,
        ast.Compare, ast.Constant, ast.List, ast.Tuple, ast.Load, *tuple(_OPS),
    )
    if isinstance(node, ast.Attribute | ast.Name):
        parts = _dotted(node)
        if parts is None:
            if isinstance(node, ast.Name):
                return
            raise ConfigError(where, "only dotted field names may be used, like order.total")
        check_path(shape, parts, where, event_type)
        return
    if not isinstance(node, allowed):
        raise ConfigError(
            where, f"'{type(node).__name__}' is not allowed; use fields, literals, comparisons, "
            "and/or/not and `in`"
        )
    for child in ast.iter_child_nodes(node):
        _validate(child, shape, where, event_type)


def compile_condition(text: str, where: str, event_type: str) -> Condition:
    """Parse and check an `if` expression; raise ConfigError naming the key."""
    text = text.strip()
    if not text:
        return Condition("", None)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ConfigError(where, f"cannot parse condition {text!r}: {exc.msg}") from None
    _validate(tree, context_shape(event_type), where, event_type)
    return Condition(text, tree)


# --- templates ---------------------------------------------------------------------------------

TEMPLATES = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


def _template_names(tree: nodes.Template) -> list[list[str]]:
    """Dotted names rooted at context variables (loop and set targets excluded)."""
    local = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    found: list[list[str]] = []

    def visit(node: nodes.Node) -> None:
        if isinstance(node, nodes.Getattr):
            parts: list[str] = []
            cur: nodes.Node = node
            while isinstance(cur, nodes.Getattr):
                parts.append(cur.attr)
                cur = cur.node
            if isinstance(cur, nodes.Name) and cur.name not in local:
                found.append([cur.name, *parts[::-1]])
                return
        if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in local:
            found.append([node.name])
            return
        for child in node.iter_child_nodes():
            visit(child)

    visit(tree)
    return found


def compile_template(text: str, where: str, event_type: str) -> jinja2.Template:
    """Parse a field template and check every field it names; raise ConfigError on error."""
    try:
        tree = TEMPLATES.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(where, f"template error: {exc.message}") from None
    shape = context_shape(event_type)
    for parts in _template_names(tree):
        if parts[0] not in shape:
            raise ConfigError(
                where, f"unknown name '{parts[0]}'; use one of: {', '.join(sorted(shape))}"
            )
        check_path(shape, parts, where, event_type)
    return TEMPLATES.from_string(text)


# --- compiled flows ----------------------------------------------------------------------------


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


def compile_flows(settings: Settings) -> list[CompiledFlow]:
    """Check and compile every flow in the settings; raise ConfigError naming the key."""
    from services.sync.connectors import connector_kinds

    kinds = connector_kinds()
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
        condition = compile_condition(flow.condition, f"{path}.if", flow.on)
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
                templates[field] = compile_template(text, f"{apath}.fields.{field}", flow.on)
            for field in spec.required:
                if field not in templates:
                    raise ConfigError(f"{apath}.fields.{field}", "required field has no mapping")
            actions.append(CompiledAction(action, action.target, templates))
        compiled.append(CompiledFlow(flow, condition, tuple(actions)))
    return compiled
