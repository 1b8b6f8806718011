"""A local HTTP target for fault tests: records every request, applies each key's effect once,
and misbehaves on command (5xx, 429 with Retry-After, 400 for poison, delays, SIGKILL a process)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from services.common.embedded_broker import free_port


@dataclass(frozen=True)
class Hit:
    """One request as it arrived: path, Idempotency-Key, arrival time, the status answered."""

    path: str
    key: str
    at: float
    status: int


@dataclass
class PathRules:
    """What one path (one target) does to the next requests."""

    fail: int = 0  # answer `fail_status` to this many requests (-1: until told otherwise)
    fail_status: int = 500
    rate_limited: int = 0  # answer 429 + Retry-After to this many requests
    retry_after_s: int = 2
    poison: set[str] = field(default_factory=set)  # a body containing one of these gets 400
    delay_s: float = 0.0
    slow: set[str] = field(default_factory=set)  # a body containing one of these waits `delay_s`
    kill: dict[str, Callable[[], int | None]] = field(default_factory=dict)  # key -> pid to SIGKILL


class TargetServer:
    """POST /{path}: the effect of each Idempotency-Key is applied once; repeats get the same answer."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.effects: Counter[tuple[str, str]] = Counter()  # (path, key) -> effects applied
        self.ok: Counter[tuple[str, str]] = Counter()  # (path, key) -> 2xx answers sent
        self.rules: dict[str, PathRules] = {}
        self.kills = 0
        self.killed: set[int] = set()
        self.in_flight: Counter[str] = Counter()  # path -> requests being answered
        self.peak_in_flight: Counter[str] = Counter()  # path -> most requests answered at once
        self.arrived: Counter[tuple[str, str]] = Counter()  # (path, key) -> requests received
        self.port = free_port()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def rule(self, path: str) -> PathRules:
        """The (mutable) rules of one path."""
        return self.rules.setdefault(path, PathRules())

    def hits_for(self, path: str, key: str) -> list[Hit]:
        """Every request for one key on one path, in arrival order."""
        return [h for h in self.hits if h.path == path and h.key == key]

    def delivered(self, path: str, keys: set[str]) -> bool:
        """True when every key has its effect at this path."""
        return all(self.effects[(path, k)] for k in keys)

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post("/{path}", self._receive)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def close(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        key = request.headers.get("Idempotency-Key", "")
        body = await request.read()
        rules = self.rule(path)
        now = time.time()
        self.in_flight[path] += 1
        self.peak_in_flight[path] = max(self.peak_in_flight[path], self.in_flight[path])
        self.arrived[(path, key)] += 1
        try:
            if rules.delay_s and (not rules.slow or any(m.encode() in body for m in rules.slow)):
                await asyncio.sleep(rules.delay_s)  # a slow target is the fault under test
            status, headers = 200, {}
            if any(p.encode() in body for p in rules.poison):
                status = 400
            elif rules.rate_limited:
                rules.rate_limited -= 1
                status, headers = 429, {"Retry-After": str(rules.retry_after_s)}
            elif rules.fail:
                rules.fail -= 1 if rules.fail > 0 else 0
                status = rules.fail_status
            self.hits.append(Hit(path, key, now, status))
            if status != 200:
                return web.json_response({"error": f"status {status}"}, status=status, headers=headers)
            if not self.effects[(path, key)]:
                self.effects[(path, key)] += 1
            pid_of = rules.kill.get(key)
            # A request still in flight from a process killed a moment ago must not count as
            # a second kill: each victim key takes down a different process.
            if pid_of is not None and (pid := pid_of()) is not None and pid not in self.killed:
                del rules.kill[key]
                # The effect is applied; the sender dies before it hears so.
                self.killed.add(pid)
                self.kills += 1
                os.kill(pid, signal.SIGKILL)
                return web.json_response({"id": "never heard"})
            self.ok[(path, key)] += 1
            return web.json_response({"id": f"{path}-{key}"})
        finally:
            self.in_flight[path] -= 1
