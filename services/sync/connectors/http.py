"""Any JSON API: render a URL and a JSON body from the event, send it with an Idempotency-Key.

With a target secret, requests are signed per Standard Webhooks
(https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md):
`webhook-id` (derived from the idempotency key, so a resend carries the same id),
`webhook-timestamp`, and `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{ts}.{body}">`
with the key from `whsec_<base64>`. One action, `send`; its optional `url`/`body` fields
override the target's templates per flow (and are checked against the event's schema when
the config loads).

The event's values come from whoever filled in a form, so in a URL template every `{{ value }}`
is percent-encoded as one path segment or query value (`a@b/../admin?x=1` stays inside its
segment), and the rendered URL must stay under the target's base: `base_url` when set, else the
fixed start of `url` up to its last "/" before the first `{{`. Anything else is Permanent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, ClassVar
from urllib.parse import urljoin

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from yarl import URL

from schemas import encode_event
from services.common.config import TargetConfig, about
from services.common.errors import ConfigError
from services.common.signing import standard_key, standard_sign
from services.flows.context import event_context
from services.flows.templates import BoundedSandbox, url_value
from services.sync.connectors._vendor_http import (
    HttpConnectorMixin,
    decode_json,
    send_json,
    standard_retry_after,
)
from services.sync.connectors.base import JSON, ActionRequest, ActionSpec, Connector, Delivered, marker_token
from services.sync.errors import Permanent

# Target-level templates: `|tojson` encodes Decimals as exact strings and dates as ISO 8601.
_ENV = BoundedSandbox(undefined=jinja2.StrictUndefined, autoescape=False)
_ENV.policies["json.dumps_function"] = lambda obj, **_: JSON.encode(obj).decode()


# URL templates: every `{{ value }}` percent-encoded as one path segment or query value.
_URL_ENV = BoundedSandbox(undefined=jinja2.StrictUndefined, autoescape=False, finalize=url_value)


def _compile(text: str, key: str, env: ImmutableSandboxedEnvironment = _ENV) -> jinja2.Template | str:
    """A template, or the text itself when it has nothing to render (the common fixed URL)."""
    if "{{" not in text and "{%" not in text and "{#" not in text:
        # What Jinja would render: newlines normalised, one trailing newline dropped.
        return text.replace("\r\n", "\n").replace("\r", "\n").removesuffix("\n")
    try:
        return env.from_string(text)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"{key} template error: {exc.message}") from None


def url_bound(url_template: str, base_url: str) -> str:
    """What every rendered URL must stay under: base_url, else the fixed start of the url
    template up to its last "/" ("" when the template names no fixed scheme://host/)."""
    if base_url:
        return base_url.rstrip("/") + "/"
    cut = min((i for i in (url_template.find(m) for m in ("{{", "{%", "{#")) if i >= 0), default=-1)
    if cut < 0:
        return url_template  # a fixed URL: exactly that
    fixed = url_template[:cut]
    head, slash, _ = fixed.rpartition("/")
    bound = head + slash
    split = URL(bound) if "://" in bound else None
    return bound if split is not None and split.host and split.raw_path.startswith("/") else ""


def within(url: str, bound: str) -> bool:
    """True when `url` (normalised as the HTTP client will send it) is `bound` or below it."""
    try:
        u, b = URL(url), URL(bound)
    except ValueError:
        return False
    if (u.scheme, u.host, u.port, u.user, u.password) != (b.scheme, b.host, b.port, b.user, b.password):
        return False
    if bound.endswith("/"):
        return u.raw_path.startswith(b.raw_path)
    return u.raw_path == b.raw_path and (u.raw_query_string == b.raw_query_string or not b.raw_query_string)


class HttpConfig(TargetConfig, frozen=True, kw_only=True):
    """A JSON endpoint; `secret`/`secret_env` signs requests and fills `{secret}` in headers."""

    url: Annotated[str, about(
        "A Jinja2 template over the event; relative to base_url when that is set.",
        "https://hooks.example.com/orders/{{ order.number }}",
    )] = ""
    base_url: Annotated[str, about("A fixed scheme://host/ the url is joined to.", "https://api.example.com/")] = ""
    method: Annotated[str, about("POST, PUT, PATCH, DELETE or GET.", "POST")] = "POST"
    body: Annotated[str, about("A Jinja2 template rendering JSON; empty: the event itself as JSON.")] = ""
    headers: Annotated[dict[str, str], about(
        "Static headers; \"{secret}\" in a value is replaced by the secret.", {"Authorization": "Bearer {secret}"}
    )] = {}
    timeout_s: Annotated[float, about("Seconds per call; 0: the sync delivery timeout (also its ceiling).")] = 0.0
    id_field: Annotated[str, about(
        "Where the answer names the created record: a JSON pointer or a top-level key.", "/data/id"
    )] = "id"
    sign: Annotated[bool, about("Sign with Standard Webhooks headers when a secret is configured.")] = True

    def __post_init__(self) -> None:
        if not (self.url or self.base_url):
            raise ValueError("set url (or base_url)")
        if self.method.upper() not in ("POST", "PUT", "PATCH", "DELETE", "GET"):
            raise ValueError(f"unsupported method {self.method!r}")
        if self.timeout_s < 0:
            raise ValueError("timeout_s must be 0 (the delivery timeout) or more")
        _compile(self.url, "url", _URL_ENV)
        _compile(self.body, "body")
        if not url_bound(self.url, self.base_url):
            raise ValueError("url must start with a fixed scheme://host/ before any {{ }} (or set base_url)")


def webhook_id(idempotency_key: str) -> str:
    """The Standard Webhooks message id for an idempotency key: stable across resends."""
    return "msg_" + marker_token(idempotency_key)


def pick(data: Any, where: str) -> Any:
    """A value from a JSON answer by JSON pointer ("/data/id") or top-level key ("id")."""
    if not where.startswith("/"):
        return data.get(where) if isinstance(data, dict) else None
    current = data
    for raw in where[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def generic_message(data: Any) -> str:
    """A message from common error shapes: message, error(.message), detail, title."""
    if not isinstance(data, dict):
        return ""
    for key in ("message", "detail", "error_description", "title"):
        if isinstance(data.get(key), str):
            return data[key]
    error = data.get("error")
    if isinstance(error, dict):
        return generic_message(error)
    return str(error) if error else ""


class HttpConnector(HttpConnectorMixin, Connector):
    """Sends each action as one JSON request with an Idempotency-Key (the receiver dedupes)."""

    kind: ClassVar[str] = "http"
    Config = HttpConfig
    url_fields: ClassVar[tuple[str, ...]] = ("url",)  # flows render these with URL-encoded values
    actions = {
        "send": ActionSpec(
            description="send the event (or the rendered body) as JSON to the target's url",
            optional=("url", "body"),
        ),
    }
    idempotency = "key"
    times_itself = True  # one send_json per delivery, with its timeout
    config: HttpConfig
    clock: Callable[[], float] = staticmethod(time.time)

    async def start(self) -> None:
        """Compile the templates, check the signing secret, borrow (or open) the session."""
        self._url = _compile(self.config.url, "url", _URL_ENV)
        self._bound = url_bound(self.config.url, self.config.base_url)
        self._body = _compile(self.config.body, "body") if self.config.body else None
        self._key: bytes | None = None
        if self.spec.secret and self.config.sign:
            self._key = standard_key(self.spec.secret.reveal())
            if self._key is None:
                raise ConfigError(f"targets.{self.name}.secret", "the signing secret must be whsec_<base64>")
        await self._open_http()

    async def close(self) -> None:
        """Close a privately opened session."""
        await self._close_http()

    def _render(self, request: ActionRequest) -> tuple[str, bytes]:
        ctx: dict[str, Any] | None = None

        def render(template: jinja2.Template | str) -> str:
            nonlocal ctx
            if isinstance(template, str):
                return template
            if ctx is None:  # built only when a template needs it
                ctx = {**event_context(request.event), "fields": request.fields}
            return template.render(ctx)

        try:
            url = request.fields.get("url") or render(self._url)
            if self.config.base_url:
                url = urljoin(self.config.base_url.rstrip("/") + "/", url.lstrip("/"))
            if not within(url, self._bound):
                raise Permanent(f"http {self.name}: the rendered URL {url[:200]!r} leaves {self._bound!r}; not sent")
            if request.fields.get("body"):
                body = request.fields["body"].encode()
            elif self._body is not None:
                body = render(self._body).encode()
            else:
                return url, encode_event(request.event)  # JSON by construction
        except jinja2.TemplateError as exc:
            raise Permanent(f"http {self.name}: template failed: {exc}") from exc
        if decode_json(body.decode()) is None:
            raise Permanent(f"http {self.name}: the body did not render as JSON: {body[:200]!r}")
        return url, body

    async def deliver(self, request: ActionRequest) -> Delivered:
        """Send one request; the answer's id (or the HTTP status) is the external id."""
        url, body = self._render(request)
        secret = self.spec.secret.reveal() if self.spec.secret else ""
        headers = {k: v.replace("{secret}", secret) for k, v in self.config.headers.items()}
        headers["Idempotency-Key"] = request.idempotency_key
        if self._key is not None:
            msg_id = webhook_id(request.idempotency_key)
            timestamp = int(self.clock())
            headers["webhook-id"] = msg_id
            headers["webhook-timestamp"] = str(timestamp)
            headers["webhook-signature"] = standard_sign(self._key, msg_id, timestamp, body)
        answer = await send_json(
            self.session,
            self.config.method.upper(),
            url,
            target=f"http {self.name}",
            # Within the delivery timeout: shutdown and rebalances wait that long for a call.
            timeout_s=min(self.config.timeout_s or self.ctx.timeout_s, self.ctx.timeout_s),
            raw_body=body,
            headers=headers,
            message_of=generic_message,
            retry_after_of=standard_retry_after,
        )
        found = pick(answer.data, self.config.id_field)
        external_id = str(found) if found not in (None, "") else str(answer.status)
        return Delivered(external_id=external_id, detail=f"{self.config.method.upper()} {url}")
