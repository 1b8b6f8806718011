"""msgspec.convert for config tables, with its errors re-worded to name the dotted key path
(`sources.shop.max_body_bytes: must be at least 1 (got 0)`), and unknown keys answered with the
known ones and the closest match."""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Annotated, Any

import msgspec

from services.common.errors import ConfigError

_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_BOUND = re.compile(r"Expected `\w+` (>=|>|<=|<) (\S+)")
_BOUND_WORDS = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than"}


def _join(prefix: str, path: str) -> str:
    path = path.lstrip(".")
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix + ("" if path.startswith("[") else ".") + path


def _steps(path: str) -> list[str | int]:
    """A msgspec path (`.flows[0].actions`) as keys and indexes: ["flows", 0, "actions"]."""
    return [int(index) if index else key for key, index in _STEP.findall(path)]


def bare_type(tp: Any) -> Any:
    """A field's type without its annotations and without `| None`: `Annotated[X | None, m]` -> X."""
    while True:
        if typing.get_origin(tp) is Annotated:
            tp = typing.get_args(tp)[0]
        elif isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
            rest = [arg for arg in typing.get_args(tp) if arg is not type(None)]
            if len(rest) != 1:
                return tp
            tp = rest[0]
        else:
            return tp


def _known_keys(cls: Any, steps: list[str | int]) -> list[str]:
    """The keys of the table at `steps` in a document decoded as `cls` (structs and lists only)."""
    for step in steps:
        if isinstance(step, int):
            cls = bare_type(typing.get_args(bare_type(cls))[0])
        else:
            cls = bare_type(next(f.type for f in msgspec.structs.fields(bare_type(cls)) if f.encode_name == step))
    return sorted(f.encode_name for f in msgspec.structs.fields(bare_type(cls)))


def _unknown_key(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key; {hint}known keys: {', '.join(known)}"


def convert(raw: object, cls: type[Any], prefix: str) -> Any:
    """msgspec.convert with the error re-worded to name the dotted key path."""
    try:
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as exc:
        m = _AT.match(str(exc))
        assert m is not None
        msg = m.group("msg")
        steps = _steps(m.group("path") or "")
        path = _join(prefix, m.group("path") or "")
        unknown = re.match(r"Object contains unknown field `([^`]+)`", msg)
        if unknown:
            path = _join(path, unknown.group(1))
            msg = _unknown_key(unknown.group(1), _known_keys(cls, steps))
        bound = _BOUND.fullmatch(msg)
        if bound:
            value: Any = raw
            for step in steps:  # msgspec names the key of the value it refused
                value = value[step]
            limit = bound.group(2).removesuffix(".0")
            msg = f"must be {_BOUND_WORDS[bound.group(1)]} {limit} (got {value})"
        missing = re.match(r"Object missing required field `([^`]+)`", msg)
        if missing:
            path = _join(path, missing.group(1))
            msg = "required key is missing"
        raise ConfigError(path, msg) from None
