"""The HTTP plumbing the vendor connectors share: one JSON request, error mapping, rate limits, id map, due dates.

`send_json` sends one request with the shared session and turns every failure into the
retry policy of `services.sync.errors`: timeouts and connection errors are Transient,
error answers go through `from_http` with the vendor's own message (parsed from its JSON
error body) and the wait the vendor asked for (Retry-After, else its rate-limit headers).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec

from services.common.ratelimit import Hold
from services.sync.connectors.base import JSON, ConnectorContext
from services.sync.errors import DeliveryError, Permanent, Transient, from_http, parse_retry_after

_decode = msgspec.json.Decoder()


@dataclass(frozen=True)
class Answer:
    """A successful answer: status, headers and the decoded JSON body (None when not JSON)."""

    status: int
    headers: Mapping[str, str]
    data: Any
    text: str


def decode_json(text: str) -> Any:
    """The JSON in a body, or None when it is empty or not JSON."""
    if not text.strip():
        return None
    try:
        return _decode.decode(text.encode())
    except msgspec.DecodeError:
        return None


def header_seconds(
    headers: Mapping[str, str], name: str, *, epoch_ok: bool = False
) -> float | None:
    """A rate-limit header as seconds to wait; with `epoch_ok`, large values are Unix times."""
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    if epoch_ok and value > 1_000_000_000:  # a Unix timestamp, not a delta
        value -= time.time()
    return max(0.0, value)


async def send_json(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    target: str,
    timeout_s: float,
    body: Any = None,
    raw_body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    message_of: Callable[[Any], str] = lambda data: "",
    retry_after_of: Callable[[int, Mapping[str, str], Any], float | None] = lambda s, h, d: None,
    on_headers: Callable[[Mapping[str, str]], None] | None = None,
) -> Answer:
    """Send one JSON request; return the 2xx answer or raise Transient/Permanent."""
    payload = raw_body if raw_body is not None else (None if body is None else JSON.encode(body))
    all_headers = {"Accept": "application/json", **(headers or {})}
    if payload is not None:
        all_headers.setdefault("Content-Type", "application/json")
    try:
        async with session.request(
            method,
            url,
            data=payload,
            headers=all_headers,
            params=params,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            allow_redirects=False,
        ) as resp:
            text = await resp.text(errors="replace")
            status = resp.status
            resp_headers = resp.headers
    except TimeoutError as exc:
        raise Transient(f"{target}: no answer from {method} {url} within {timeout_s} s") from exc
    except aiohttp.ClientConnectorError as exc:  # no connection: the request never went out
        raise Transient(f"{target}: {method} {url} failed: {exc}", sent=False) from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise Transient(f"{target}: {method} {url} failed: {exc}") from exc
    if on_headers is not None:
        on_headers(resp_headers)
    data = decode_json(text)
    if status < 300:
        return Answer(status, resp_headers, data, text)
    raise http_error(
        status, text, data, resp_headers, target=target, message_of=message_of,
        retry_after_of=retry_after_of,
    )


def http_error(
    status: int,
    text: str,
    data: Any,
    headers: Mapping[str, str],
    *,
    target: str,
    message_of: Callable[[Any], str],
    retry_after_of: Callable[[int, Mapping[str, str], Any], float | None],
) -> DeliveryError:
    """Map an error answer onto Transient/Permanent, keeping the vendor's own message."""
    message = ""
    if data is not None:
        try:
            message = message_of(data) or ""
        except (AttributeError, KeyError, TypeError, IndexError):
            message = ""
    error = from_http(status, message or text or "(empty body)", headers, target=target)
    if isinstance(error, Transient) and error.retry_after is None:
        error.retry_after = retry_after_of(status, headers, data)
    return error


def standard_retry_after(status: int, headers: Mapping[str, str], data: Any) -> float | None:
    """Retry-After alone (what a generic JSON API is expected to send)."""
    return parse_retry_after(headers.get("Retry-After"))


class RateGate(Hold):
    """Remembers when a vendor said its window is used up, so we stop asking until it resets."""

    def check(self, target: str) -> None:
        """Raise Transient (with retry_after) while the vendor's window is exhausted."""
        wait = self.take()
        if wait > 0:
            raise Transient(f"{target}: rate-limit window exhausted", retry_after=wait, sent=False)


class LocalIdMap:
    """Process-lifetime id map used when the sync service lends none (tests, one-off runs)."""

    def __init__(self) -> None:
        self._map: dict[tuple[str, str], str] = {}

    async def idmap_get(self, target: str, key: str) -> str | None:
        """The stored external id, or None."""
        return self._map.get((target, key))

    async def idmap_put(self, target: str, key: str, external_id: str) -> None:
        """Store an external id."""
        self._map[(target, key)] = external_id


class HttpConnectorMixin:
    """Session and id-map plumbing for connectors: borrow the service's, or own a private one."""

    ctx: ConnectorContext
    _own_session: aiohttp.ClientSession | None = None

    async def _open_http(self) -> None:
        if self.ctx.http is None:
            self._own_session = aiohttp.ClientSession()
        self._idmap = self.ctx.idmap if self.ctx.idmap is not None else LocalIdMap()

    async def _close_http(self) -> None:
        if self._own_session is not None:
            await self._own_session.close()
            self._own_session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session requests go through."""
        session = self.ctx.http or self._own_session
        if session is None:
            raise Permanent("connector used before start()")
        return session

    @property
    def idmap(self) -> Any:
        """Handover's key -> vendor id map."""
        return self._idmap


def add_working_days(start: dt.datetime, days: int) -> dt.datetime:
    """`start` moved `days` working days (Mon-Fri) ahead; 0 moves a weekend to Monday."""
    current = start
    if days == 0:
        while current.weekday() >= 5:
            current += dt.timedelta(days=1)
        return current
    counted = 0
    while counted < days:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            counted += 1
    return current


def working_days_option(options: Mapping[str, Any], default: int = 1) -> int:
    """The `due_in_working_days` option as a non-negative int (Permanent when it is not one)."""
    value = options.get("due_in_working_days", default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Permanent(f"option due_in_working_days must be a whole number >= 0, got {value!r}")
    return value
