"""Local stand-ins for vendor APIs: aiohttp apps that answer as the vendors document.

Every fake records each request it receives (`requests`), requires the vendor's auth, and can be
told to fail: `fail_next(n, status)` answers the next n requests with the vendor's error body,
`rate_limit_next(n)` with its 429 and rate-limit headers, `hang_next(n)` never answers them
(until the fake closes) so a client's timeout fires.

Faults after the vendor did the work (`fault_after`, for one method and path): "late" stores
and answers only after `late_s` (past the client's timeout), "reset" stores and drops the
connection without an answer, "error" stores and answers a 5xx, "kill" stores and SIGKILLs
the process `kill_pid()` names before it hears the answer. `meet(method, path, parties)`
holds requests until that many arrived (two workers that both looked a contact up and missed).
`misbehave(RandomFaults(...))` makes such faults random, for chaos runs: of the matching
requests, fractions fail before any work (a plain 500, a 429) or do the work and lose the answer.
`prefix` (set before `start`) serves every route under a path of its own, so a client left by
another test that reaches a reused port finds nothing there.
The Moneybird, HubSpot and Pipedrive fakes honour no idempotency key: those vendors document
none (only the generic JSON receiver, fakes/http.py, dedupes on Idempotency-Key).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.test_utils import TestServer

BODY = web.RequestKey("body", object)  # the decoded JSON body, for the routes


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw: bytes
    json: Any = None
    at: float = 0.0  # time.monotonic() when it arrived


@dataclass
class _Failure:
    status: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _After:
    kind: str  # "late" | "reset" | "error"
    method: str
    path_part: str
    status: int


@dataclass
class RandomFaults:
    """Random faults of the requests with `method` whose path contains `path_part`: the first
    two fractions fail before any work, the last three do the work and then lose the answer."""

    method: str
    path_part: str
    rng: random.Random
    error_500: float = 0.0  # a plain 500 in the vendor's error body, nothing stored
    throttle_429: float = 0.0  # the vendor's 429 with Retry-After: 1, nothing stored
    late: float = 0.0  # stored, answered after `late_s` (past the client's timeout)
    reset: float = 0.0  # stored, connection dropped without an answer
    error_after: float = 0.0  # stored, answered 502

    def roll(self) -> str:
        """Which fault (or "" for none) this request gets."""
        r = self.rng.random()
        shares = (("500", self.error_500), ("429", self.throttle_429), ("late", self.late),
                  ("reset", self.reset), ("error", self.error_after))
        for kind, share in shares:
            if r < share:
                return kind
            r -= share
        return ""


@dataclass
class _Meeting:
    method: str
    path_part: str
    parties: int
    arrived: int = 0
    everyone: asyncio.Event = field(default_factory=asyncio.Event)


class FakeVendor:
    """Base of the fakes: recording, auth, switchable failures; subclasses add the routes."""

    def __init__(self, token: str = "test-token") -> None:
        self.token = token
        self.requests: list[Recorded] = []
        self._failures: deque[_Failure] = deque()
        self._hang = 0
        self._release = asyncio.Event()
        self._after: list[_After] = []
        self._before: list[_After] = []
        self._meetings: list[_Meeting] = []
        self.late_s = 30.0  # how late a "late" answer comes (far past any client timeout)
        self.faults_done: list[str] = []  # kinds of the faults applied, in order
        self.kill_pid: Callable[[], int | None] = lambda: None  # the sender a "kill" fault kills
        self.kill_group = False  # a "kill" fault kills kill_pid()'s whole process group
        self.misbehaviours: list[RandomFaults] = []
        self.fault_counts: Counter[str] = Counter()  # random faults applied, by kind
        self.prefix = ""  # every route under this path (set before `start`)
        self.server: TestServer | None = None

    # --- what subclasses provide -------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        """Add the vendor's routes."""
        raise NotImplementedError

    def authorized(self, request: web.Request) -> bool:
        """Whether the request carries the vendor's auth with our token."""
        raise NotImplementedError

    def error(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        """An error answer in the vendor's own body format."""
        raise NotImplementedError

    def unauthorized(self) -> web.Response:
        """The vendor's 401."""
        return self.error(401, "unauthorized")

    def rate_limited(self, retry_after: str | None) -> web.Response:
        """The vendor's 429."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        return self.error(429, "rate limited", headers)

    # --- switches ------------------------------------------------------------------------------

    def fail_next(
        self, n: int, status: int, message: str = "", headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next n requests with `status` and the vendor's error body."""
        for _ in range(n):
            self._failures.append(_Failure(status, message or f"simulated {status}", headers or {}))

    def rate_limit_next(self, n: int = 1, retry_after: str | None = "7") -> None:
        """Answer the next n requests with the vendor's 429."""
        for _ in range(n):
            self._failures.append(_Failure(429, "", {"_retry_after": retry_after or ""}))

    def hang_next(self, n: int = 1) -> None:
        """Never answer the next n requests (released when the fake closes)."""
        self._hang += n

    def fault_after(self, kind: str, method: str, path_part: str, n: int = 1, status: int = 503) -> None:
        """The next n `method` requests whose path contains `path_part` do their work, then:
        "late" (answer after `late_s`), "reset" (drop the connection) or "error" (answer `status`)."""
        assert kind in ("late", "reset", "error", "kill"), kind
        self._after += [_After(kind, method, path_part, status) for _ in range(n)]

    def fail_path(self, method: str, path_part: str, n: int = 1, status: int = 503) -> None:
        """Answer the next n matching requests `status` before doing any work."""
        self._before += [_After("error", method, path_part, status) for _ in range(n)]

    def misbehave(self, *rules: RandomFaults) -> None:
        """Apply random faults to matching requests from now on (the first matching rule)."""
        self.misbehaviours += rules

    def meet(self, method: str, path_part: str, parties: int = 2) -> None:
        """Hold the next `parties` matching requests until all of them arrived, then let them on."""
        self._meetings.append(_Meeting(method, path_part, parties))

    def _matches(self, request: web.Request, method: str, path_part: str) -> bool:
        return request.method == method and path_part in request.path

    # --- plumbing ------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = msgspec.json.decode(raw) if raw else None
        except msgspec.DecodeError:
            body = None
        self.requests.append(
            Recorded(
                request.method, request.path, dict(request.query), dict(request.headers), raw, body,
                time.monotonic(),
            )
        )
        if self._hang:
            self._hang -= 1
            await self._release.wait()
            return web.Response(status=503)
        if self._failures:
            failure = self._failures.popleft()
            if failure.status == 429 and "_retry_after" in failure.headers:
                return self.rate_limited(failure.headers["_retry_after"] or None)
            return self.error(failure.status, failure.message, failure.headers)
        if not self.authorized(request):
            return self.unauthorized()
        before = next((b for b in self._before if self._matches(request, b.method, b.path_part)), None)
        if before is not None:
            self._before.remove(before)
            return self.error(before.status, f"simulated {before.status}")
        rule = next((m for m in self.misbehaviours if self._matches(request, m.method, m.path_part)), None)
        chance = rule.roll() if rule is not None else ""
        if chance in ("500", "429"):
            self.fault_counts[chance] += 1
            if chance == "429":
                return self.rate_limited("1")
            return self.error(500, "Internal server error")
        meeting = next((m for m in self._meetings if self._matches(request, m.method, m.path_part)), None)
        if meeting is not None:
            meeting.arrived += 1
            if meeting.arrived >= meeting.parties:
                self._meetings.remove(meeting)
                meeting.everyone.set()
            await meeting.everyone.wait()
        request[BODY] = body
        response = await handler(request)
        after = next((a for a in self._after if self._matches(request, a.method, a.path_part)), None)
        queued = after is not None
        if after is None and chance:
            after = _After(chance, request.method, request.path, 502)
        if after is None or response.status >= 300:
            return response
        if queued:
            self._after.remove(after)
        else:
            self.fault_counts[after.kind] += 1
        self.faults_done.append(after.kind)
        if after.kind == "late":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), self.late_s)
            return response
        if after.kind == "kill" and (pid := self.kill_pid()) is not None:
            if self.kill_group:
                os.killpg(pid, signal.SIGKILL)  # the work is done; the whole box dies before it hears so
            else:
                os.kill(pid, signal.SIGKILL)  # the work is done; its sender dies before it hears so
            return response
        if after.kind == "reset":
            assert request.transport is not None
            request.transport.abort()  # the work is done; the answer never leaves
            return response
        return self.error(after.status, f"simulated {after.status} after the work was done")

    async def start(self) -> str:
        """Serve on 127.0.0.1, a free port; return the base URL."""
        app = web.Application(middlewares=[self._middleware])
        if self.prefix:
            routes = web.Application()
            self.routes(routes)
            app.add_subapp(self.prefix, routes)
        else:
            self.routes(app)
        self.server = TestServer(app, host="127.0.0.1", port=0)
        await self.server.start_server()
        return self.url

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash."""
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/") + self.prefix

    async def close(self) -> None:
        """Release hung requests and stop serving."""
        self._release.set()
        if self.server is not None:
            await self.server.close()

    def calls(self, method: str, path_part: str = "") -> list[Recorded]:
        """Recorded requests with this method whose path contains `path_part`."""
        return [r for r in self.requests if r.method == method and path_part in r.path]


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer (msgspec-encoded)."""
    return web.Response(
        status=status,
        body=msgspec.json.encode(data),
        content_type="application/json",
        headers=headers,
    )
