"""Reading a vendor's JSON body: decoders that keep numbers exact, and a typed reader that
collects one FieldError per invalid field (so the 422 names them all)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import msgspec

from schemas import Address
from services.gateway.errors import FieldError, Rejected, invalid, too_deep
from services.gateway.sources.base import Inbound

T = TypeVar("T")

_exact_decoder = msgspec.json.Decoder(float_hook=Decimal)
_plain_decoder = msgspec.json.Decoder()


def decode_json_exact(body: bytes, decoder: msgspec.json.Decoder[Any] = _exact_decoder) -> Any:
    """Parse a JSON body keeping every number exact (big ints as int, fractions as Decimal).

    A 400 `invalid_body` for anything that is not JSON in UTF-8 (or, with a typed `decoder`,
    not of its type).
    """
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise Rejected(400, "invalid_body", f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise too_deep() from None


def decode_json(body: bytes) -> Any:
    """Parse a JSON body (fractions as float); a 400 `invalid_body` for anything that is not JSON in UTF-8."""
    return decode_json_exact(body, _plain_decoder)


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object (exact numbers); 400 for non-JSON, 422 for another JSON value."""
    data = decode_json_exact(body)
    if not isinstance(data, dict):
        raise invalid([FieldError("$", "must be a JSON object")])
    return data


def body_object(inbound: Inbound) -> dict[str, Any]:
    """`json_object(inbound.body)`, decoded once per request however many readers ask."""
    doc = inbound.memo.get("json")
    if doc is None:
        doc = inbound.memo["json"] = json_object(inbound.body)
    return doc  # type: ignore[return-value]


def _body_at(inbound: Inbound, path: tuple[str, ...]) -> Any:
    """The value at `path` in a JSON-object body; None when the body or the value is not there
    (parse then reports what is wrong)."""
    try:
        return dig(body_object(inbound), *path)
    except Rejected:
        return None


def body_field(inbound: Inbound, *path: str) -> str | None:
    """A non-empty text value at `path` in a JSON-object body (a vendor's delivery id); None
    when the body or the value is not there (parse then reports what is wrong)."""
    value = _body_at(inbound, path)
    return value if isinstance(value, str) and value else None


def body_id(inbound: Inbound, *path: str) -> str | None:
    """An id at `path` in a JSON-object body, given as an integer or a non-empty string, as
    exact text; None when the body or the value is not there."""
    value = _body_at(inbound, path)
    try:
        return exact_id(value, required=True)
    except ValueError:
        return None


def json_path(*keys: str | int) -> str:
    """A JSONPath for error messages: `$.a.b[0]['Phone Number']`."""
    out = "$"
    for key in keys:
        if isinstance(key, int):
            out += f"[{key}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            out += f".{key}"
        else:
            out += "['" + key.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out


def dig(data: Any, *keys: str | int) -> Any:
    """The value at a key path, or None if any step is missing or of the wrong shape."""
    cur = data
    for key in keys:
        if type(key) is str:  # an object member
            if not isinstance(cur, dict):
                return None
            cur = cur.get(key)
        else:
            if not isinstance(cur, list) or not -len(cur) <= key < len(cur):  # type: ignore[operator]
                return None
            cur = cur[key]  # type: ignore[index]
    return cur


def as_text(value: Any) -> str | None:
    """A scalar JSON value as text exactly as sent (numbers keep their digits); None otherwise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return None


def any_text(value: Any) -> str:
    """Any JSON value as text: a scalar as sent, a list or object as its JSON, null as ""."""
    text = as_text(value)
    if text is None and value is not None:
        text = msgspec.json.encode(value).decode()
    return text or ""


_LIMIT = 10**30


def _sane(amount: Decimal) -> bool:
    """Finite, at most 30 digits either side of the point (arithmetic on it cannot trap)."""
    if not amount.is_finite():
        return False
    exponent = amount.as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -30 and amount.adjusted() <= 30


def exact_id(value: Any, required: bool = False) -> str:
    """An identifier given as a JSON integer or a string, as exact text ('' when absent);
    ValueError (its message names what is wrong) for anything else."""
    if value is None:
        if required:
            raise ValueError("is required")
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and (value.strip() or not required):
        return value
    raise ValueError("must be an integer or a non-empty string id")


def exact_decimal(value: Any) -> Decimal | None:
    """An exact amount from a string ("414.95", blanks around allowed) or a JSON number (int or
    Decimal); None for absent, null or ""; ValueError for anything else or an insane amount."""
    if type(value) is str and value:  # the usual case, first
        try:
            amount = Decimal(value)  # blanks around are ignored
        except InvalidOperation:
            raise ValueError("must be a decimal number") from None
        # "414.95": short and without an exponent, so it cannot hold more than 30 digits
        if (len(value) <= 30 and "e" not in value and "E" not in value and amount.is_finite()) or _sane(amount):
            return amount
    elif value is None or value == "":
        return None
    elif type(value) is int and -_LIMIT < value < _LIMIT:  # a quantity
        return Decimal(value)
    elif isinstance(value, int | Decimal) and not isinstance(value, bool):
        amount = Decimal(value)
        if _sane(amount):
            return amount
    raise ValueError("must be a decimal number")


def iso_datetime(value: Any) -> dt.datetime | None:
    """An ISO 8601 / RFC 3339 timestamp with its offset kept; None for absent, null or "";
    ValueError for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("must be an ISO 8601 timestamp")


class Payload:
    """Typed reads from a decoded JSON payload that collect a FieldError per bad field.

    Most reads are one member of an object: `_get` takes that case without the general path walk
    (`dig`), since an order is ~70 reads.
    """

    __slots__ = ("_object", "base", "data", "errors")

    def __init__(self, data: Any, base: tuple[str | int, ...] = (), errors: list[FieldError] | None = None) -> None:
        """A reader of `data`, the value at `base` in the payload; `errors`: the list it adds to."""
        self.data = data
        self.base = base
        self.errors: list[FieldError] = [] if errors is None else errors
        self._object: dict[str, Any] | None = data if type(data) is dict else None

    def _get(self, keys: tuple[str | int, ...]) -> Any:
        """The value at `keys` (None when absent)."""
        if self._object is not None and len(keys) == 1:
            return self._object.get(keys[0])  # type: ignore[call-overload]
        return dig(self.data, *keys)

    def at(self, *keys: str | int) -> Payload:
        """A reader rooted deeper in the same payload, sharing this reader's error list."""
        return Payload(self._get(keys), self.base + keys, self.errors)

    def each(self, *keys: str | int) -> list[Payload]:
        """A reader for each element of the JSON array at `keys` (absent or null: none)."""
        base = self.base + keys
        return [Payload(item, (*base, i), self.errors) for i, item in enumerate(self.items(*keys))]

    def raw(self, *keys: str | int) -> Any:
        """The value at the path (None if absent)."""
        return self._get(keys)

    def error(self, keys: tuple[str | int, ...], message: str) -> None:
        """Record one invalid field."""
        self.errors.append(FieldError(json_path(*self.base, *keys), message))

    def text(self, *keys: str | int, required: bool = False) -> str:
        """A text field (a number is taken as its digits); '' when absent or null."""
        value = self._get(keys)
        if type(value) is str and (not required or value.strip()):
            return value  # the usual case, first
        if value is None:
            if required:
                self.error(keys, "is required")
            return ""
        out = as_text(value)
        if out is None:
            self.error(keys, "must be text")
            return ""
        if required and not out.strip():
            self.error(keys, "must not be empty")
        return out

    def id(self, *keys: str | int, required: bool = False) -> str:
        """An identifier given as an integer or a string, as exact text."""
        try:
            return exact_id(self._get(keys), required)
        except ValueError as exc:
            self.error(keys, str(exc))
            return ""

    def _converted(self, keys: tuple[str | int, ...], convert: Callable[[Any], T | None], required: bool) -> T | None:
        """The member at `keys` through `convert`; its ValueError, or a missing required
        member, is noted as that member's error (None then)."""
        try:
            value = convert(self._get(keys))
        except ValueError as exc:
            self.error(keys, str(exc))
            return None
        if value is None and required:
            self.error(keys, "is required")
        return value

    def decimal(self, *keys: str | int, required: bool = False) -> Decimal | None:
        """An exact amount from a string ("414.95") or a JSON number; None when absent."""
        return self._converted(keys, exact_decimal, required)

    def integer(self, *keys: str | int, required: bool = False) -> int | None:
        """A JSON integer; None when absent."""
        value = self._get(keys)
        if value is None:
            if required:
                self.error(keys, "is required")
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        self.error(keys, "must be an integer")
        return None

    def boolean(self, *keys: str | int) -> bool:
        """A JSON boolean (absent or null: False)."""
        value = self._get(keys)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        self.error(keys, "must be true or false")
        return False

    def datetime(self, *keys: str | int, required: bool = False) -> dt.datetime | None:
        """An ISO 8601 / RFC 3339 timestamp, offset kept; None when absent."""
        return self._converted(keys, iso_datetime, required)

    def epoch(self, *keys: str | int, required: bool = False) -> dt.datetime | None:
        """Unix seconds as an aware UTC datetime; None when absent."""
        seconds = self.integer(*keys, required=required)
        if seconds is None:
            return None
        try:
            return dt.datetime.fromtimestamp(seconds, dt.UTC)
        except (OverflowError, OSError, ValueError):
            self.error(keys, "is not a valid unix timestamp")
            return None

    def items(self, *keys: str | int) -> list[Any]:
        """A JSON array (absent or null: empty)."""
        value = self._get(keys)
        if value is None:
            return []
        if isinstance(value, list):
            return value
        self.error(keys, "must be an array")
        return []

    def check(self) -> None:
        """Raise the 422 naming every invalid field, if there is any."""
        if self.errors:
            raise invalid(self.errors)


def address_from(p: Payload, mapping: Mapping[str, str]) -> Address | None:
    """An Address from the fields in `mapping` (Address field -> payload key); None if empty."""
    if not isinstance(p.data, dict):
        if p.data is not None:
            p.error((), "must be an object")
        return None
    data = p.data
    values = {name: v if type(v := data.get(key)) is str else p.text(key) for name, key in mapping.items()}
    if not any(values.values()):
        return None
    return Address(**values)
