"""The context conditions and templates see of an event, and its shape for config-time checks."""

from __future__ import annotations

import datetime as dt
import functools
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, Union, get_args, get_origin

import msgspec

from schemas import EVENT_TYPES, AnyEvent, Event, Person
from services.common.errors import ConfigError

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
    out["given_name"], out["family_name"] = person.given_name, person.family_name
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
LEAF = "leaf"  # a single value of no one known kind
# A single value of a known kind (the leaves of a shape; conditions check literals against them).
DECIMAL, INTEGER, NUMBER, BOOLEAN, TEXT, TIMESTAMP, DATE = (
    "decimal", "integer", "number", "boolean", "text", "timestamp", "date"
)
_LEAF_KINDS: tuple[tuple[type, str], ...] = (
    # bool before int (a bool is an int), datetime before date (a datetime is a date).
    (bool, BOOLEAN), (Decimal, DECIMAL), (int, INTEGER), (float, NUMBER), (str, TEXT),
    (dt.datetime, TIMESTAMP), (dt.date, DATE),
)
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
            shape["display_name"] = shape["given_name"] = shape["family_name"] = TEXT
        return shape
    if isinstance(tp, type):
        for base, kind in _LEAF_KINDS:
            if issubclass(tp, base):
                return kind
    return LEAF


@cache
def context_shape(event_type: str) -> dict[str, Any]:
    """The shape of `event_context` for one event type, for config-time name checks."""


    cls = EVENT_TYPES[event_type]
    alias, _ = ALIASES[event_type]
    data_type = typing.get_type_hints(cls)["data"]
    data = _shape_of(data_type)
    person = _shape_of(Person)
    envelope = _shape_of(Event)  # `type` is a property, not a field: text
    if alias in ("contact", "customer"):
        view = {**data, **person}
    else:
        view = dict(data)
    shape: dict[str, Any] = {
        "event": {name: TEXT if name == "type" else envelope[name] for name in ENVELOPE},
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
