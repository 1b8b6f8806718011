"""Field templates: Jinja2 in an immutable sandbox whose work is bounded, checked at load."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import jinja2
import msgspec
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from services.common.errors import ConfigError
from services.flows.context import check_path, context_shape


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


FIELD_TEMPLATES = _TemplateEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False, finalize=_finalize
)
FIELD_TEMPLATES.policies["json.dumps_function"] = lambda obj, **_: _TOJSON.encode(obj).decode()
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
        return FIELD_TEMPLATES.call_binop(None, operator, _constant(node.left), _constant(node.right))  # type: ignore[arg-type, attr-defined]
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
        tree = FIELD_TEMPLATES.parse(text)
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
        return (URL_TEMPLATES if url else FIELD_TEMPLATES).from_string(text)
    except jinja2.TemplateError as exc:
        raise ConfigError(where, f"template error: {exc}") from None
    except (RecursionError, MemoryError, ValueError, OverflowError) as exc:
        raise ConfigError(where, f"template error: {type(exc).__name__}") from None
