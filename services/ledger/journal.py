"""The intake journal: every event the gateway answered for, durable in the ledger.

The embedded broker keeps records in memory only, so in the one-box mode the journal is what
makes a 2xx true: the gateway writes the published records here, in the same transaction as
the delivery's dedupe entry, before it answers. When a broker comes up empty (a restart, a
crash, a rotation), every journaled event not yet finished is published again under its own
event id; the ledger makes the repeat harmless. A row goes once its event is finished (recorded,
and every expected action delivered or dead-lettered) and its dedupe window has passed.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Sequence

from services.common.kafka import OutRecord
from services.ledger.db import Database
from services.ledger.dedupe import REMEMBER

# An event is finished when the recorder has it and none of its expected actions is still open:
# each is delivered, or dead-lettered (visible, replayable, with its own kept copy).
_FINISHED = """EXISTS (SELECT 1 FROM events e WHERE e.id = j.event_id) AND NOT EXISTS (
    SELECT 1 FROM expected_actions x LEFT JOIN deliveries d
      ON d.event_id = x.event_id AND d.flow = x.flow AND d.action = x.action
    WHERE x.event_id = j.event_id AND (d.status IS NULL OR d.status NOT IN ('delivered', 'deadlettered')))"""

_INSERT = (
    "INSERT INTO intake_journal (event_id, topic, record_key, value, headers, journaled_at, keep_until) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING"
)


class IntakeJournal:
    """The journal's table, over the ledger's database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def accept(
        self, records: Sequence[OutRecord], keep_s: float, delivery_id: str | None = None
    ) -> None:
        """Journal the records of one webhook and remember its delivery id (for `keep_s` seconds),
        in one transaction; concurrent webhooks share one commit (SQLite's group commit)."""
        now = time.time()
        statements: list[tuple[str, Sequence[object]]] = [
            (_INSERT, (r.event_id, r.topic, r.key, r.value, _headers(r.headers), now, now + keep_s))
            for r in records
        ]
        if delivery_id:
            statements.append((REMEMBER, (delivery_id, now + keep_s)))
        await self.db.execute_together(statements)

    async def unfinished(self, page: int = 1000) -> list[OutRecord]:
        """Every journaled event that is not finished, oldest first: what a new broker lacks."""
        return [record async for rows in self.unfinished_pages(page) for record in rows]

    async def unfinished_pages(self, page: int = 1000) -> AsyncIterator[list[OutRecord]]:
        """`unfinished()` a page at a time, so a re-drive holds one page in memory, not the
        whole backlog (Python keeps the high-water mark of its heap). Only what was journaled
        before the first page: what the gateway accepts meanwhile went to the new broker itself."""
        after: tuple[float, str] = (-1.0, "")
        until = time.time()
        while True:
            rows = await self.db.fetch(
                "SELECT j.event_id, j.topic, j.record_key, j.value, j.headers, j.journaled_at FROM intake_journal j "
                f"WHERE (j.journaled_at > $1 OR (j.journaled_at = $1 AND j.event_id > $2)) AND j.journaled_at <= $4 "
                f"AND NOT ({_FINISHED}) ORDER BY j.journaled_at, j.event_id LIMIT $3",
                after[0], after[1], page, until,
            )
            if rows:
                yield [
                    OutRecord(r[0], r[1], None if r[2] is None else bytes(r[2]), bytes(r[3]),
                              tuple((k, v.encode()) for k, v in json.loads(r[4])))
                    for r in rows
                ]
            if len(rows) < page:
                return
            after = (float(rows[-1][5]), rows[-1][0])

    async def prune(self, now: float | None = None, limit: int = 5000) -> int:
        """Drop finished rows past their dedupe window, and expired dedupe entries; how many
        journal rows went (at most `limit` a call, so a large backlog is pruned in steps)."""
        now = time.time() if now is None else now
        rows = await self.db.fetch(
            f"SELECT j.event_id FROM intake_journal j WHERE j.keep_until < $1 AND {_FINISHED} LIMIT $2", now, limit
        )
        if rows:
            marks = ", ".join(f"${i}" for i in range(1, len(rows) + 1))
            await self.db.execute(f"DELETE FROM intake_journal WHERE event_id IN ({marks})", *(r[0] for r in rows))
        await self.db.execute("DELETE FROM webhook_dedupe WHERE expires_at <= $1", now)
        return len(rows)

    async def count(self) -> int:
        """How many rows the journal holds."""
        row = await self.db.fetchrow("SELECT COUNT(*) FROM intake_journal")
        return int(row[0]) if row else 0


def _headers(headers: Sequence[tuple[str, bytes]]) -> str:
    return json.dumps([[k, v.decode()] for k, v in headers])
