"""The gateway's dedupe memory: the delivery ids accepted within their vendor's retry window."""

from __future__ import annotations

import time
from collections.abc import Sequence

from services.ledger.db import Database

REMEMBER = (  # also the intake journal's, in the same transaction as its rows
    "INSERT INTO webhook_dedupe (event_id, expires_at) VALUES ($1, $2) "
    "ON CONFLICT (event_id) DO UPDATE SET expires_at = excluded.expires_at"
)


class WebhookDedupe:
    """The `webhook_dedupe` table, shared by every gateway replica on the same database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def seen(self, event_id: str) -> bool:
        """True when this delivery was accepted within its window."""
        row = await self.db.fetchrow(
            "SELECT 1 FROM webhook_dedupe WHERE event_id = $1 AND expires_at > $2", event_id, time.time()
        )
        return row is not None

    async def remember(self, event_id: str, ttl_s: float) -> None:
        """Remember an accepted delivery for `ttl_s` seconds."""
        await self.db.execute(REMEMBER, event_id, time.time() + ttl_s)

    async def seen_many(self, event_ids: Sequence[str]) -> set[str]:
        """Which of these deliveries were accepted within their window (one query)."""
        if not event_ids:
            return set()
        marks = ", ".join(f"${i}" for i in range(2, len(event_ids) + 2))
        rows = await self.db.lookup(
            f"SELECT event_id FROM webhook_dedupe WHERE expires_at > $1 AND event_id IN ({marks})",
            time.time(), *event_ids,
        )
        return {r[0] for r in rows}

    async def remember_many(self, items: Sequence[tuple[str, float]]) -> None:
        """Remember accepted deliveries, each for its ttl in seconds (one transaction)."""
        now = time.time()
        await self.db.executemany(REMEMBER, [(event_id, now + ttl) for event_id, ttl in items])

    async def forget_expired(self) -> None:
        """Drop dedupe entries past their window."""
        await self.db.execute("DELETE FROM webhook_dedupe WHERE expires_at <= $1", time.time())
