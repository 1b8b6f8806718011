"""Conditions: a small safe expression language for a flow's `if`.

Python's expression *syntax*, parsed with `ast` and evaluated here over an allow-list
(comparisons, and/or/not, literals, dotted fields, `in`); never `eval`. Every dotted name is
checked against the event type's schema when the config loads, and every literal against the
kind of the field it is compared with.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from services.common.errors import ConfigError
from services.flows.context import (
    ANY,
    BOOLEAN,
    DATE,
    DECIMAL,
    INTEGER,
    LEAF,
    NUMBER,
    TEXT,
    TIMESTAMP,
    ListShape,
    check_path,
    context_shape,
)

# The runner's retry policy lives on the error class: a condition that fails on one event is Permanent.
from services.sync.errors import Permanent

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
