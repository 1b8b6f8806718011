"""Flows: on an event type, if a condition holds, render each action's fields and hand it over.

Conditions are a small safe expression language (Python's expression *syntax*, parsed with
`ast` and evaluated here over an allow-list: comparisons, and/or/not, literals, dotted fields,
`in`); never `eval`. Field mappings are sandboxed Jinja2 templates. Every dotted name a
condition or template uses is checked against the event type's schema when the config loads, and
every literal in a condition against the kind of the field it is compared with.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin
from urllib.parse import quote

import jinja2
import msgspec
from jinja2 import nodes
from jinja2.exceptions import SecurityError
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
    import typing

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
_SYMBOLS: dict[type, str] = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.In: "in", ast.NotIn: "not in",
}
_ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
_NUMBERS = (DECIMAL, INTEGER, NUMBER)
_AMOUNT_NAME = re.compile(r"total|amount|price")
_DECIMAL_COMMA = re.compile(r"[+-]?(\d{1,3}(\.\d{3})+|\d+),\d+")  # 100,00 or 1.000,50
_THOUSANDS_COMMA = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")  # 1,000.50


def _dotted(node: ast.AST) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id not in _NAMES:
        parts.append(node.id)
        return parts[::-1]
    return None


class _Unevaluable(Exception):
    """A condition met values it cannot compare; the message says which and why."""


class _NotANumber(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


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
        except _Unevaluable as exc:
            raise Permanent(f"condition {self.source!r} could not be evaluated: {exc}") from exc
        except (TypeError, KeyError, InvalidOperation) as exc:  # not expected: _eval explains its own
            reason = "a value is not a number" if isinstance(exc, InvalidOperation) else str(exc)
            raise Permanent(f"condition {self.source!r} could not be evaluated: {reason}") from exc


def _number(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _NotANumber(text) from None
    if value.is_nan():
        raise _NotANumber(text)
    return value


def _coerce(a: Any, b: Any) -> tuple[Any, Any]:
    # Amounts are Decimal in events and numbers in conditions: compare them as exact decimals.
    # Text meeting a number is read as a number ("100.00", or an order id of digits).
    if isinstance(a, Decimal) and isinstance(b, str):
        b = _number(b)
    elif isinstance(b, Decimal) and isinstance(a, str):
        a = _number(a)
    return a, b


def _equal(a: Any, b: Any) -> bool:
    """Equality as a condition means it: text that is not a number never equals a number
    ("#1001" == 1001 is false, not an error), the rest compares like the ordering operators."""
    try:
        a, b = _coerce(a, b)
    except _NotANumber:
        return False
    return bool(a == b)


def _value_word(value: Any) -> str:
    """What kind of value this is, in a user's words."""
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dt.datetime):
        return "a timestamp"
    if isinstance(value, dt.date):
        return "a date"
    if isinstance(value, dict):
        return "a group of fields"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _show(node: ast.AST, value: Any) -> str:
    """An operand for a run-time message: a field's name and value (text withheld), or a literal."""
    parts = _dotted(node)
    if parts is None:
        return ast.unparse(node)
    name = ".".join(parts)
    if value is None or isinstance(value, bool):
        return f"{name} ({'null' if value is None else str(value).lower()})"
    if isinstance(value, int | float | Decimal | dt.date):
        return f"{name} ({value.isoformat() if isinstance(value, dt.date) else value})"
    return f"{name} ({_value_word(value)})"  # text may be personal data: name it, never quote it


def _why(a_node: ast.AST, a: Any, b_node: ast.AST, b: Any, exc: Exception) -> str:
    if isinstance(exc, _NotANumber):
        for node, value in ((a_node, a), (b_node, b)):
            parts = _dotted(node)
            if parts is not None and isinstance(value, str) and value == exc.text:
                return f"the text in {'.'.join(parts)} is not a number"
        return f"{exc.text!r} is not a number"
    for node, value in ((a_node, a), (b_node, b)):
        parts = _dotted(node)
        if value is None and parts is not None:
            return f"{'.'.join(parts)} is empty (null) in this event"
    if isinstance(exc, InvalidOperation):
        return "a value is not a number"
    return f"{_value_word(a)} cannot be compared with {_value_word(b)}"


def _compare(a_node: ast.AST, a: Any, op: ast.cmpop, b_node: ast.AST, b: Any) -> bool:
    try:
        if isinstance(op, ast.In | ast.NotIn) and isinstance(b, list):
            # `x in [1, 2]` is `x == 1 or x == 2`: the same exact-decimal comparison as `==`.
            found = any(_equal(a, item) for item in b)
            return found if isinstance(op, ast.In) else not found
        if isinstance(op, ast.Eq | ast.NotEq):
            return _equal(a, b) == isinstance(op, ast.Eq)
        a2, b2 = _coerce(a, b)
        return bool(_OPS[type(op)](a2, b2))
    except (TypeError, InvalidOperation, _NotANumber) as exc:
        symbol = _SYMBOLS[type(op)]
        raise _Unevaluable(
            f"cannot compare {_show(a_node, a)} {symbol} {_show(b_node, b)}: {_why(a_node, a, b_node, b, exc)}"
        ) from exc


def _eval(node: ast.AST, ctx: dict[str, Any]) -> Any:
    if isinstance(node, ast.BoolOp):
        values = (_eval(v, ctx) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _eval(node.operand, ctx)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _eval(node.operand, ctx)
        if not isinstance(value, int | float | Decimal) or isinstance(value, bool):
            raise _Unevaluable(f"cannot negate {_show(node.operand, value)}: it is not a number")
        return -value
    if isinstance(node, ast.Compare):
        left_node, left = node.left, _eval(node.left, ctx)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _eval(right_node, ctx)
            if not _compare(left_node, left, op, right_node, right):
                return False
            left_node, left = right_node, right
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
    for i, part in enumerate(parts):
        if isinstance(value, dict) and part in value:
            value = value[part]
            continue
        name, missing = ".".join(parts[:i]), ".".join(parts)
        if value is None:
            raise _Unevaluable(f"{name} is empty (null) in this event, so {missing} cannot be read")
        raise _Unevaluable(f"this event has no {missing}")
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


# --- conditions: literal and field kinds, checked when the config loads -------------------------


@dataclass(frozen=True)
class _Field:
    """A dotted name in a condition and the kind of value it holds (None: any kind)."""

    name: str
    kind: str | None  # a leaf kind, "group", "list", or None when unknown (form fields)
    shape: Any

    @property
    def what(self) -> str:
        """The field's kind in a user's words: "an amount", "text"."""
        if self.kind == DECIMAL:
            return "an amount" if _AMOUNT_NAME.search(self.name.rsplit(".", 1)[-1]) else "a decimal number"
        return {
            INTEGER: "a whole number", NUMBER: "a number", BOOLEAN: "true or false", TEXT: "text",
            TIMESTAMP: "a timestamp", DATE: "a date", "group": "a group of fields", "list": "a list",
        }.get(self.kind or "", "a value")


def _field(node: ast.AST, shape: dict[str, Any]) -> _Field | None:
    parts = _dotted(node)
    if parts is None:
        return None
    current: Any = shape
    for part in parts:
        if current == ANY:
            return _Field(".".join(parts), None, None)
        if isinstance(current, ListShape):
            current = current.item
            if part.isdigit():
                continue
        current = current[part]  # the name was checked by _validate
    if isinstance(current, dict):
        kind: str | None = "group"
    elif isinstance(current, ListShape):
        kind = "list"
    else:
        kind = None if current in (ANY, LEAF) else current
    return _Field(".".join(parts), kind, current)


_NOT_A_LITERAL = object()


def _literal(node: ast.AST) -> Any:
    """A literal's value (`-5` included), or _NOT_A_LITERAL."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return _NAMES[node.id]
    if (
        isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int | float) and not isinstance(node.operand.value, bool)
    ):
        return -node.operand.value
    return _NOT_A_LITERAL


def _decimal_fix(text: str) -> str:
    """How to write a mistyped amount: "100,00" -> "100.00", else an example."""
    stripped = text.strip()
    comma = _DECIMAL_COMMA.fullmatch(stripped)
    thousands = _THOUSANDS_COMMA.fullmatch(stripped)
    if comma and thousands:  # "1,000": one thousand, or one with a decimal comma
        return f"{stripped.replace(',', '')} or {stripped.replace(',', '.')}"
    if comma:
        return stripped.replace(".", "").replace(",", ".")
    if thousands:
        return stripped.replace(",", "")
    return "a number like 100.00"


def _check_literal(field: _Field, node: ast.AST, op: ast.cmpop, where: str) -> None:
    """Raise ConfigError unless the literal can be compared with the field with `op`."""
    value, src, name = _literal(node), ast.unparse(node), field.name
    if value is None:
        if isinstance(op, _ORDERING):
            raise ConfigError(
                where, f"null can only be compared with == or !=, like {name} != null"
            )
        return
    if not isinstance(value, str | int | float):
        raise ConfigError(where, f"{src} is not a value a condition knows; use text in quotes, "
                          "numbers, true, false or null")
    if field.kind is None:
        return
    if field.kind == "group":
        example = next(iter(field.shape), "name")
        raise ConfigError(
            where, f"{name} is a group of fields, not one value, so it cannot be compared with {src}; "
            f"compare one of its fields, like {name}.{example}"
        )
    if field.kind == "list":
        raise ConfigError(where, f"{name} is a list, so it cannot be compared with {src}")
    if field.kind in _NUMBERS:
        if isinstance(value, bool):
            raise ConfigError(
                where, f"{src} is not a number; {name} is {field.what}, compare it with a number like 100"
            )
        if not isinstance(value, str):
            return
        if field.kind == INTEGER:
            fix = value.strip() if value.strip().lstrip("+-").isdigit() else "a whole number like 5"
            raise ConfigError(where, f"{src} is text; {name} is {field.what}, write {fix} without quotes")
        try:
            _number(value)
        except _NotANumber:
            raise ConfigError(
                where, f"{src} is not a number; {name} is {field.what}, write {_decimal_fix(value)} "
                "without quotes"
            ) from None
        return  # a quoted number: compared as the exact decimal it spells
    if field.kind == BOOLEAN:
        if isinstance(value, bool):
            return
        fix = value.strip().lower() if isinstance(value, str) else ""
        fix = fix if fix in ("true", "false") else "true or false"
        raise ConfigError(
            where, f"{src} is not true or false; {name} is true or false, write {fix} without quotes, "
            f"like {name} == true"
        )
    if field.kind == TEXT:
        if isinstance(value, bool):
            word = "true" if value else "false"
            raise ConfigError(
                where, f"{src} is not text; {name} is text, write '{word}' in quotes to compare with "
                "that word"
            )
        return  # a number: the text is read as a number (an order id of digits)
    if field.kind in (TIMESTAMP, DATE):
        raise ConfigError(
            where, f"{name} is {field.what}; a condition cannot compare {field.what} with {src}, "
            f"only test whether it is set: {name} != null"
        )


def _check_fields(a: _Field, b: _Field, where: str) -> None:
    kinds = {a.kind, b.kind}
    if None in kinds or "group" in kinds or "list" in kinds or len(kinds) == 1:
        return
    if kinds <= {*_NUMBERS, TEXT}:
        return  # numbers compare as numbers; text meeting a number is read as one
    raise ConfigError(
        where, f"{a.name} is {a.what} and {b.name} is {b.what}; they cannot be compared"
    )


def _check_in(a_node: ast.AST, op: ast.cmpop, b_node: ast.AST, shape: dict[str, Any], where: str) -> None:
    symbol = _SYMBOLS[type(op)]
    a_field = _field(a_node, shape)
    if isinstance(b_node, ast.List | ast.Tuple):  # x in [1, 2]: x == 1 or x == 2
        for item in b_node.elts:
            _check_pair(a_node, ast.Eq(), item, shape, where)
        return
    b_field = _field(b_node, shape)
    b_value = _literal(b_node)
    if b_field is not None and b_field.kind is None:
        return
    if (b_field is not None and b_field.kind == TEXT) or isinstance(b_value, str):
        # Looking for text inside text: `'VIP' in order.note`.
        a_value = _literal(a_node)
        container = ast.unparse(b_node)
        if a_field is not None and a_field.kind not in (None, TEXT):
            raise ConfigError(
                where, f"`{symbol} {container}` looks for text inside text, and {a_field.name} is "
                f"{a_field.what}; to test several values use a list, like {a_field.name} {symbol} [1, 2]"
            )
        if a_value is not _NOT_A_LITERAL and not isinstance(a_value, str):
            raise ConfigError(
                where, f"`{symbol} {container}` looks for text inside text, and {ast.unparse(a_node)} is "
                f"not text; write it in quotes: '{ast.unparse(a_node)}' {symbol} {container}"
            )
        return
    if b_field is not None:
        raise ConfigError(
            where, f"`{symbol}` needs a list like ['DKK', 'SEK'] or text after it, not {b_field.name}, "
            f"which is {b_field.what}"
        )
    if b_value is not _NOT_A_LITERAL:
        raise ConfigError(
            where, f"`{symbol}` needs a list like ['DKK', 'SEK'] or text after it, not {ast.unparse(b_node)}"
        )


def _check_pair(a_node: ast.AST, op: ast.cmpop, b_node: ast.AST, shape: dict[str, Any], where: str) -> None:
    if isinstance(op, ast.In | ast.NotIn):
        _check_in(a_node, op, b_node, shape, where)
        return
    if isinstance(op, _ORDERING):
        for node in (a_node, b_node):
            if isinstance(node, ast.List | ast.Tuple):
                raise ConfigError(where, f"a list like {ast.unparse(node)} can only follow `in` or `not in`")
    a_field, b_field = _field(a_node, shape), _field(b_node, shape)
    if a_field is not None and b_field is not None:
        _check_fields(a_field, b_field, where)
    elif a_field is not None and _literal(b_node) is not _NOT_A_LITERAL:
        _check_literal(a_field, b_node, op, where)
    elif b_field is not None and _literal(a_node) is not _NOT_A_LITERAL:
        _check_literal(b_field, a_node, op, where)


def _check_kinds(tree: ast.AST, shape: dict[str, Any], where: str) -> None:
    """Raise ConfigError where a literal or field can never be compared as written."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for i, op in enumerate(node.ops):
                _check_pair(operands[i], op, operands[i + 1], shape, where)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            field = _field(node.operand, shape)
            value = _literal(node.operand)
            if field is not None and field.kind is not None and field.kind not in _NUMBERS:
                raise ConfigError(where, f"-{field.name}: {field.name} is {field.what}; only numbers can be negative")
            if field is None and (not isinstance(value, int | float) or isinstance(value, bool)):
                raise ConfigError(where, f"{ast.unparse(node)}: only numbers can be negative")


def compile_condition(text: str, where: str, event_type: str) -> Condition:
    """Parse and check an `if` expression; raise ConfigError naming the key.

    Every field must exist for the event type, and every literal must suit the field it is
    compared with: `order.total >= '100,00'` is refused here, not dead-lettered at run time.
    """
    text = text.strip()
    if not text:
        return Condition("", None)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ConfigError(where, f"cannot parse condition {text!r}: {exc.msg}") from None
    shape = context_shape(event_type)
    _validate(tree, shape, where, event_type)
    _check_kinds(tree.body, shape, where)
    return Condition(text, tree)


# --- templates ---------------------------------------------------------------------------------

class _Absent(jinja2.ChainableUndefined):
    """What a template reads through an empty optional parent: `order.shipping_address.city`
    on an order without a shipping address, `order.lines[0].name` on an order without lines.

    The name itself was checked against the schema when the config loaded, so this is data
    that is simply not there: it renders as "", is false in `{% if %}`, takes `|default(...)`,
    and `|tojson` gives null. Anything else that is undefined stays StrictUndefined (an error).
    """

    __slots__ = ()


def _finalize(value: Any) -> Any:
    """How a `{{ ... }}` value becomes text: null as "", dates and timestamps as ISO 8601.

    Decimals keep their exact text (str); `|tojson` output is already text and passes as is.
    """
    if value is None:
        return ""
    if isinstance(value, dt.date):  # datetimes too: 2017-03-22T16:28:02-03:00
        return value.isoformat()
    return value


def url_value(value: Any) -> str:
    """A `{{ ... }}` value in a URL template: one path segment or query value, percent-encoded
    (RFC 3986 unreserved characters kept), so data never adds a "/", "?", "#" or "&" of its own;
    a whole "." or ".." (a dot segment) is encoded too."""
    text = str(_finalize(value))
    if text in (".", ".."):
        return text.replace(".", "%2E")
    return quote(text, safe="")


def _json_default(value: Any) -> Any:
    """msgspec enc_hook for `|tojson` (which encodes dates itself): an absent value is null."""
    if isinstance(value, _Absent):
        return None
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    raise NotImplementedError(type(value))


# Decimals as exact strings (never through a float), like the http connector's templates.
_TOJSON = msgspec.json.Encoder(enc_hook=_json_default, decimal_format="string", order="sorted")


MAX_OUTPUT_CHARS = 100_000  # a rendered field, or a string/list a template builds
MAX_INT_BITS = 4096  # ~1,200 digits: more than any amount, far less than a crash


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with bounded work: `**`, `*` and `%` are checked before they
    run (and so never folded into a constant when a config is parsed), so `{{ 10 ** 100000 }}`
    or `{{ 'a' * 100000000 }}` is a SecurityError, not a traceback or 100 MB of text."""

    intercepted_binops = frozenset(["**", "*", "%"])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Filters whose width argument sizes the output.
        for name in ("center", "indent", "wordwrap", "truncate"):
            self.filters[name] = _bounded_filter(self.filters[name])
        self.filters["format"] = _bounded_format(self.filters["format"])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Refuse an operation whose result would be huge; else do it."""
        if operator == "**" and _is_int(left) and _is_int(right):
            if right < 0 or abs(left).bit_length() * right > MAX_INT_BITS:
                raise SecurityError(f"{left!r} ** {right!r} is too large")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and _is_int(n) and len(seq) * n > MAX_OUTPUT_CHARS:
                    raise SecurityError(f"a sequence of {len(seq)} repeated {n} times is too long")
            if _is_int(left) and _is_int(right) and abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
                raise SecurityError("the product is too large")
        if operator == "%" and isinstance(left, str):
            if _wide(left):
                raise SecurityError(f"a width over {MAX_OUTPUT_CHARS} is too large")
            result = super().call_binop(context, operator, left, right)
            if len(result) > MAX_OUTPUT_CHARS:
                raise SecurityError("the formatted text is too long")
            return result
        return super().call_binop(context, operator, left, right)


def _bounded_filter(inner: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(inner)
    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        widths = [a for a in (*args, *kwargs.values()) if _is_int(a)]
        if any(w > MAX_OUTPUT_CHARS for w in widths):
            raise SecurityError(f"a width over {MAX_OUTPUT_CHARS} is too large")
        return inner(value, *args, **kwargs)

    return bounded


def _bounded_format(inner: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(inner)
    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and _wide(value):
            raise SecurityError(f"a width over {MAX_OUTPUT_CHARS} is too large")
        return inner(value, *args, **kwargs)

    return bounded


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(\d*)(?:\.(\d*))?")


def _wide(template: str) -> bool:
    """True when a %-format asks for a width or precision over MAX_OUTPUT_CHARS."""
    return any(int(n) > MAX_OUTPUT_CHARS for spec in _PERCENT_SPEC.findall(template) for n in spec if n)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _TemplateEnvironment(BoundedSandbox):
    """The sandbox, except that reading through null, or past the end of a list, is absent."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if obj is None or isinstance(obj, _Absent):
            return _Absent(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if obj is None or isinstance(obj, _Absent):
            return _Absent(obj=obj, name=argument)
        if (
            isinstance(obj, list) and isinstance(argument, int) and not isinstance(argument, bool)
            and not -len(obj) <= argument < len(obj)
        ):
            return _Absent(obj=obj, name=argument)
        return super().getitem(obj, argument)


TEMPLATES = _TemplateEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False, finalize=_finalize
)
TEMPLATES.policies["json.dumps_function"] = lambda obj, **_: _TOJSON.encode(obj).decode()
# Fields a connector names in `url_fields` (the http target's per-flow `url`).
URL_TEMPLATES = _TemplateEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, finalize=url_value)


def _constant_key(node: nodes.Node) -> str | None:
    """The key of `[0]` or `['name']` as a dotted-name part; None for anything computed."""
    if isinstance(node, nodes.Const):
        value = node.value
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            return str(value)
    return None


def _template_names(tree: nodes.Template) -> list[list[str]]:
    """Dotted names rooted at context variables (loop and set targets excluded)."""
    local = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    found: list[list[str]] = []

    def visit(node: nodes.Node) -> None:
        if isinstance(node, nodes.Getattr | nodes.Getitem):
            # `order.lines[0].name` and `order['total']` are checked like dotted names.
            parts: list[str] = []
            cur: nodes.Node = node
            while True:
                if isinstance(cur, nodes.Getattr):
                    parts.append(cur.attr)
                elif isinstance(cur, nodes.Getitem) and _constant_key(cur.arg) is not None:
                    parts.append(_constant_key(cur.arg))  # type: ignore[arg-type]
                else:
                    break
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


_OPERATORS = {nodes.Pow: "**", nodes.Mul: "*", nodes.Mod: "%"}


def _constant(node: nodes.Node) -> Any:
    """The value of a constant expression, the bounded operators included (nodes.Impossible
    when it depends on the event)."""
    operator = _OPERATORS.get(type(node))
    if operator is not None:
        return TEMPLATES.call_binop(None, operator, _constant(node.left), _constant(node.right))  # type: ignore[arg-type, attr-defined]
    return node.as_const()  # type: ignore[attr-defined]


def _check_constant_work(tree: nodes.Template, where: str) -> None:
    """Refuse, when the config loads, a `**`/`*`/`%` of constants the sandbox would refuse later."""
    for node_type in _OPERATORS:
        for node in tree.find_all(node_type):
            try:
                _constant(node)
            except SecurityError as exc:
                raise ConfigError(where, f"template error: {exc}") from None
            except Exception:  # noqa: BLE001 - not constant, or e.g. 1 % 0: reported at render
                continue


def compile_template(text: str, where: str, event_type: str, url: bool = False) -> jinja2.Template:
    """Parse a field template and check every field it names; raise ConfigError on error.
    `url`: the template builds a URL, so its values are percent-encoded (`url_value`)."""
    try:
        tree = TEMPLATES.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(where, f"template error: {exc.message}") from None
    except (RecursionError, MemoryError, ValueError, OverflowError) as exc:  # deeply nested, huge
        raise ConfigError(where, f"template error: {type(exc).__name__}") from None
    _check_constant_work(tree, where)
    shape = context_shape(event_type)
    for parts in _template_names(tree):
        if parts[0] not in shape:
            raise ConfigError(
                where, f"unknown name '{parts[0]}'; use one of: {', '.join(sorted(shape))}"
            )
        check_path(shape, parts, where, event_type)
    try:
        return (URL_TEMPLATES if url else TEMPLATES).from_string(text)
    except jinja2.TemplateError as exc:
        raise ConfigError(where, f"template error: {exc}") from None
    except (RecursionError, MemoryError, ValueError, OverflowError) as exc:
        raise ConfigError(where, f"template error: {type(exc).__name__}") from None


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
