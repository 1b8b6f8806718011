"""The gateway's memory of vendor deliveries, so a resent webhook publishes nothing new.

Two layers: in-process, concurrent resends wait for the first request's outcome (never a 2xx
for something Kafka has not acknowledged); across restarts and replicas, a store remembers
accepted event ids for the vendor's retry window (the ledger's table where configured).
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class DedupeStore(Protocol):
    """Remembers accepted event ids for a while."""

    async def seen(self, event_id: str) -> bool:
        """True when this event id was accepted within its window."""
        ...

    async def remember(self, event_id: str, ttl_s: float) -> None:
        """Remember an accepted event id for `ttl_s` seconds."""
        ...


class MemoryDedupeStore:
    """A dict with expiry times: the fallback when no shared store is configured."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    async def seen(self, event_id: str) -> bool:
        """True when remembered and not expired."""
        until = self._until.get(event_id)
        if until is None:
            return False
        if until < time.monotonic():
            del self._until[event_id]
            return False
        return True

    async def remember(self, event_id: str, ttl_s: float) -> None:
        """Remember; expired entries are swept now and then."""
        now = time.monotonic()
        self._until[event_id] = now + ttl_s
        if len(self._until) % 10_000 == 0:
            self._until = {k: v for k, v in self._until.items() if v >= now}


class InFlight:
    """Makes concurrent requests for one event id queue behind the first one."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    def __call__(self, event_id: str) -> _Guard:
        """`async with inflight(event_id):` serialises requests for the same event id."""
        return _Guard(self, event_id)


class _Guard:
    def __init__(self, owner: InFlight, key: str) -> None:
        self.owner = owner
        self.key = key

    async def __aenter__(self) -> None:
        o = self.owner
        o._users[self.key] = o._users.get(self.key, 0) + 1
        lock = o._locks.setdefault(self.key, asyncio.Lock())
        await lock.acquire()

    async def __aexit__(self, *exc: object) -> None:
        o = self.owner
        o._locks[self.key].release()
        o._users[self.key] -= 1
        if o._users[self.key] == 0:
            del o._users[self.key]
            del o._locks[self.key]
