"""The sync runner's repository: each action's delivery state, and the dead letters' kept copies.

It is the runner's `Ledger` (services.ledger.base): begin, sending, delivered, failed, retrying,
deadlettering, deadlettered, in_doubt.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from schemas import Event
from services.ledger.base import KeptDeadLetter, Prior
from services.ledger.db import Database
from services.ledger.rows import (
    DEADLETTERED,
    DEADLETTERING,
    DELIVERED,
    FAILED,
    PENDING,
    RETRYING,
    SENDING,
    DeliveryRow,
    fetch_delivery,
)


class Deliveries:
    """The `deliveries` and `dead_letter_copies` tables."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # SQLite: actions begun (looked up, found new) whose row is written with their first
        # status change, in the same transaction; key -> the row's identity columns.
        self._unwritten: dict[str, tuple[str, str, str, str, bool]] = {}
        self._writing: dict[str, int] = {}  # key -> status changes queued and not committed yet

    async def delivery(self, key: str) -> DeliveryRow | None:
        """One delivery by idempotency key."""
        return await fetch_delivery(self.db, key)

    async def begin(self, key: str, event: Event, target: str, flow: str, action: str, idempotency: str) -> Prior:
        """Register the action; "delivered" when done before, "deadlettered" when it went to the
        dead-letter topic, "ambiguous" when a non-idempotent call was interrupted between
        sending and confirmation."""
        if self.db.dialect == "sqlite":
            # An inline lookup on the loop (no thread hop, no write); a new action's row is
            # written together with its first status change (`_update`), one transaction less.
            if key in self._writing:  # queued behind our own write: read after it, in the queue
                row = await self.db.fetchrow("SELECT status FROM deliveries WHERE key = $1", key)
                rows = [row] if row else []
            else:
                rows = await self.db.lookup("SELECT status FROM deliveries WHERE key = $1", key)
            if not rows:
                self._unwritten[key] = (event.id, target, flow, action, event.test)
            status = rows[0][0] if rows else PENDING
        else:
            # One round trip: insert the row, or (a no-op update) hand back the existing status.
            row = await self.db.fetchrow(
                "INSERT INTO deliveries (key, event_id, target, flow, action, status, test) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7) "
                "ON CONFLICT (key) DO UPDATE SET status = deliveries.status RETURNING status",
                key, event.id, target, flow, action, PENDING, event.test,
            )
            status = row[0] if row else PENDING
        if status == DELIVERED:
            return "delivered"
        if status == DEADLETTERING:
            return "deadlettering"
        if status == DEADLETTERED:
            return "deadlettered"
        if status == SENDING and idempotency in ("none", "lookup"):
            return "ambiguous"
        return None

    async def _update(
        self, sql: str, key: str, *args: Any, also: Sequence[tuple[str, Sequence[Any]]] = ()
    ) -> None:
        """An UPDATE of one delivery row (key = $1); first makes the row of a just-begun action,
        and runs the `also` statements after it, all in one group-committed transaction."""
        identity = self._unwritten.pop(key, None)
        self._writing[key] = self._writing.get(key, 0) + 1
        try:
            if identity is None and not also:
                await self.db.execute(sql, key, *args)
                return
            first = [] if identity is None else [
                ("INSERT INTO deliveries (key, event_id, target, flow, action, status, test) "
                 "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING",
                 (key, *identity[:4], PENDING, identity[4])),
            ]
            await self.db.execute_together([*first, (sql, (key, *args)), *also])
        except BaseException:
            if identity is not None:
                self._unwritten.setdefault(key, identity)  # not written: the next change makes the row
            raise
        finally:
            self._writing[key] -= 1
            if not self._writing[key]:
                del self._writing[key]

    async def sending(self, key: str, attempt: int) -> None:
        """The call starts now."""
        now = time.time()
        await self._update(
            "UPDATE deliveries SET status = $2, attempts = $3, last_attempt_at = $4, "
            "first_attempt_at = COALESCE(first_attempt_at, $4), next_attempt_at = NULL WHERE key = $1",
            key, SENDING, attempt, now,
        )

    async def delivered(self, key: str, external_id: str, attempts: int) -> None:
        """The target confirmed."""
        now = time.time()
        await self._update(
            "UPDATE deliveries SET status = $2, attempts = $3, external_id = $4, delivered_at = $5, "
            "last_attempt_at = $5, first_attempt_at = COALESCE(first_attempt_at, $5), "
            "next_attempt_at = NULL, last_error = '' WHERE key = $1",
            key, DELIVERED, attempts, external_id, now,
        )

    async def failed(self, key: str, error: str, attempts: int) -> None:
        """An attempt failed."""
        await self._update(
            "UPDATE deliveries SET status = $2, attempts = $3, last_error = $4, last_attempt_at = $5, "
            "first_attempt_at = COALESCE(first_attempt_at, $5) WHERE key = $1",
            key, FAILED, attempts, error[:2000], time.time(),
        )

    async def retrying(self, key: str, next_attempt_at: float) -> None:
        """The next attempt is scheduled."""
        await self._update(
            "UPDATE deliveries SET status = $2, next_attempt_at = $3 WHERE key = $1", key, RETRYING, next_attempt_at
        )

    async def deadlettering(self, key: str, copy: KeptDeadLetter | None = None) -> None:
        """The dead-letter record is being written now; `copy` is kept until it is delivered."""
        also = [] if copy is None else [(
            "INSERT INTO dead_letter_copies (key, target, record_key, value, headers, written_at) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key) DO UPDATE SET target = excluded.target, "
            "record_key = excluded.record_key, value = excluded.value, headers = excluded.headers, "
            "written_at = excluded.written_at",
            (key, copy.target, copy.record_key, copy.value, json.dumps(copy.headers), time.time()),
        )]
        await self._update("UPDATE deliveries SET status = $2 WHERE key = $1", key, DEADLETTERING, also=also)

    async def dead_letter_copies(self) -> list[KeptDeadLetter]:
        """The kept copies of the actions not delivered since, oldest first: dead-lettered, or
        left mid-way (killed while writing the dead letter, stopped during a replay)."""
        rows = await self.db.fetch(
            "SELECT c.key, c.target, c.record_key, c.value, c.headers, c.written_at FROM dead_letter_copies c "
            "JOIN deliveries d ON d.key = c.key WHERE d.status <> $1 ORDER BY c.written_at, c.key",
            DELIVERED,
        )
        return [KeptDeadLetter(r[1], bytes(r[3]), json.loads(r[4]), None if r[2] is None else bytes(r[2]),
                               key=r[0], written_at=r[5]) for r in rows]

    async def dead_letter_restored(self, key: str, dlq_offset: int) -> None:
        """Its copy is in the dead-letter topic again: dead-lettered there, unless it was
        delivered meanwhile (attempts and the last error stay as they were)."""
        await self.db.execute(
            "UPDATE deliveries SET status = $2, dlq_offset = $3, next_attempt_at = NULL "
            "WHERE key = $1 AND status <> $4",
            key, DEADLETTERED, dlq_offset, DELIVERED,
        )

    async def forget_copy(self, key: str) -> None:
        """Drop one action's dead-letter copy (it has been delivered)."""
        await self.db.execute("DELETE FROM dead_letter_copies WHERE key = $1", key)

    async def forget_delivered_copies(self) -> None:
        """Drop the copies of dead letters that have been delivered since (replayed)."""
        await self.db.execute(
            "DELETE FROM dead_letter_copies WHERE EXISTS "
            "(SELECT 1 FROM deliveries d WHERE d.key = dead_letter_copies.key AND d.status = $1)", DELIVERED,
        )

    async def deadlettered(self, key: str, error: str, attempts: int, dlq_offset: int) -> None:
        """The action is in the dead-letter topic."""
        await self._update(
            "UPDATE deliveries SET status = $2, attempts = $3, last_error = $4, "
            "dlq_offset = CASE WHEN $5 >= 0 THEN $5 ELSE dlq_offset END, next_attempt_at = NULL WHERE key = $1",
            key, DEADLETTERED, attempts, error[:2000], dlq_offset,
        )

    async def in_doubt(self, key: str, error: str, attempts: int) -> None:
        """The attempt may have taken effect: the row stays "sending" (a restart reconciles
        first), with the error and attempts for the owner's pages."""
        await self._update(
            "UPDATE deliveries SET attempts = $2, last_error = $3, last_attempt_at = $4, "
            "first_attempt_at = COALESCE(first_attempt_at, $4) WHERE key = $1",
            key, attempts, error[:2000], time.time(),
        )

    # What each action sent and what the target answered (the audit trail's "what was sent";
    # the table is migration 3).

    async def record_sent(
        self, key: str, fields: dict[str, Any], answer: str, secrets: Iterable[str] = ()
    ) -> None:
        """Keep the fields an action rendered and sent, and the target's answer, secrets masked
        (a value holding one of `secrets`, or a field named like a credential, reads "•••")."""
        shown = {str(k): _masked(str(k), v, [s for s in secrets if s]) for k, v in fields.items()}
        for secret in (s for s in secrets if s):
            answer = answer.replace(secret, "•••")
        await self.db.execute(
            "INSERT INTO sent_actions (key, fields, answer, recorded_at) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (key) DO UPDATE SET fields = excluded.fields, answer = excluded.answer, "
            "recorded_at = excluded.recorded_at",
            key, json.dumps(shown, ensure_ascii=False, default=str), answer[:2000], time.time(),
        )



_CREDENTIAL = ("password", "secret", "token", "api_key", "apikey", "authorization")


def _masked(name: str, value: Any, secrets: Sequence[str]) -> Any:
    if any(word in name.casefold() for word in _CREDENTIAL):
        return "•••"
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "•••")
        return value
    if isinstance(value, dict):
        return {str(k): _masked(str(k), v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(name, v, secrets) for v in value]
    return value
