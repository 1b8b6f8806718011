"""The gateway's memory of vendor deliveries, so a resent webhook publishes nothing new.

Two layers: in-process, concurrent resends wait for the first request's outcome (never a 2xx
for something Kafka has not acknowledged); across restarts and replicas, a store remembers
accepted event ids for the vendor's retry window (the ledger's table where configured).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Protocol

import structlog

log = structlog.get_logger("handover.gateway")


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


class BatchStore(Protocol):
    """A dedupe store that answers many ids per round trip (the ledger)."""

    async def seen_many(self, event_ids: Sequence[str]) -> set[str]:
        """The subset of ids accepted within their window."""
        ...

    async def remember_many(self, items: Sequence[tuple[str, float]]) -> None:
        """Remember (id, ttl_s) pairs."""
        ...


class BatchingDedupe:
    """Coalesces the concurrent requests' lookups and writes into one database round trip each.

    Under load every request would otherwise cost two trips to the ledger (look up before
    publishing, remember after the ack); here all requests waiting at the same moment share
    one query and one transaction. Nothing is remembered before its own Kafka ack.
    """

    def __init__(self, store: BatchStore) -> None:
        self.store = store
        self._lookups: list[tuple[str, asyncio.Future[bool]]] = []
        self._writes: list[tuple[str, float, asyncio.Future[None]]] = []
        self._lookup_task: asyncio.Task[None] | None = None
        self._write_task: asyncio.Task[None] | None = None

    async def seen(self, event_id: str) -> bool:
        """True when this delivery was accepted within its window."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._lookups.append((event_id, future))
        if self._lookup_task is None or self._lookup_task.done():
            self._lookup_task = asyncio.create_task(self._drain_lookups())
        return await future

    async def remember(self, event_id: str, ttl_s: float) -> None:
        """Remember an accepted delivery; returns once it is stored."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writes.append((event_id, ttl_s, future))
        if self._write_task is None or self._write_task.done():
            self._write_task = asyncio.create_task(self._drain_writes())
        await future

    async def _drain_lookups(self) -> None:
        while self._lookups:
            batch, self._lookups = self._lookups, []
            try:
                found = await self.store.seen_many(list(dict.fromkeys(i for i, _ in batch)))
            except Exception as exc:  # noqa: BLE001 - every waiter gets the error, none hangs
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for event_id, future in batch:
                if not future.done():
                    future.set_result(event_id in found)

    async def _drain_writes(self) -> None:
        while self._writes:
            batch, self._writes = self._writes, []
            try:
                await self.store.remember_many([(i, ttl) for i, ttl, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every waiter gets the error, none hangs
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, _, future in batch:
                if not future.done():
                    future.set_result(None)


class InFlight:
    """Makes concurrent requests for one event id queue behind the first one."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    def __call__(self, event_id: str) -> Guard:
        """`async with inflight(event_id):` serialises requests for the same event id."""
        return Guard(self, event_id)

    def __len__(self) -> int:
        """How many event ids are held (or waited for) right now."""
        return len(self._users)

    def queued(self) -> int:
        """How many requests wait behind another one with their event id ."""
        return sum(n - 1 for n in self._users.values())


class Guard:
    def __init__(self, owner: InFlight, key: str) -> None:
        self.owner = owner
        self.key = key

    async def acquire(self) -> None:
        """Wait for the requests before this one with the same event id."""
        o = self.owner
        o._users[self.key] = o._users.get(self.key, 0) + 1
        lock = o._locks.setdefault(self.key, asyncio.Lock())
        try:
            await lock.acquire()
        except BaseException:
            self._leave()  # cancelled while waiting: never held it
            raise

    def release(self) -> None:
        """Let the next request with this event id in (from whichever task holds it now)."""
        self.owner._locks[self.key].release()
        self._leave()

    def _leave(self) -> None:
        o = self.owner
        o._users[self.key] -= 1
        if o._users[self.key] == 0:
            del o._users[self.key]
            del o._locks[self.key]


class Remembering:
    """The dedupe writes that follow a 2xx: each holds its event id's guard until it is stored,
    and shutdown waits for them. Should one fail, a resend is published again with the same
    event id, which every consumer skips."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, store: DedupeStore, event_id: str, ttl_s: float, guard: Guard) -> None:
        """Remember `event_id` in the background, then release its guard (also if cancelled)."""
        task = asyncio.create_task(self._remember(store, event_id, ttl_s))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(lambda _: guard.release())

    @staticmethod
    async def _remember(store: DedupeStore, event_id: str, ttl_s: float) -> None:
        try:
            await store.remember(event_id, ttl_s)
        except Exception as exc:  # noqa: BLE001 - answered already; the consumers skip a re-publish
            log.warning("dedupe_remember_failed", event_id=event_id, error=repr(exc))

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait (bounded) for the writes still running; cancel what a hung store holds up."""
        if not self.tasks:
            return
        _, pending = await asyncio.wait(set(self.tasks), timeout=timeout_s)
        for task in pending:
            log.warning("dedupe_remember_abandoned")
            task.cancel()
        if pending:
            await asyncio.wait(pending)
