"""The SQL ledger: what the recorder saw, what each flow expects, and what each delivery did.

One implementation over `Database` (SQLite or PostgreSQL); the same tests run on both.
Times are epoch seconds (float) so both backends store and compare them the same way.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from schemas import AnyEvent, ContactSubmitted, CustomerCreated, Event, OrderCreated, PaymentReceived
from services.ledger.base import KeptDeadLetter, Prior
from services.ledger.db import Database, connect
from services.ledger.migrations import migrate

# Delivery statuses.
PENDING, SENDING, RETRYING, DELIVERED, DEADLETTERED, FAILED, DEADLETTERING = (
    "pending", "sending", "retrying", "delivered", "deadlettered", "failed", "deadlettering",
)


def search_keys(event: AnyEvent) -> str:
    """The business keys an owner searches by: order number, e-mail, names (lower-case)."""
    keys = [event.subject, event.id]
    match event:
        case OrderCreated(data=d):
            keys += [d.order_number, d.order_id, d.customer.email, d.customer.display_name, d.customer.company]
        case ContactSubmitted(data=d):
            keys += [d.contact.email, d.contact.display_name, d.contact.company, d.contact.phone]
        case CustomerCreated(data=d):
            keys += [d.customer.email, d.customer.display_name, d.customer.company, d.customer.external_id]
        case PaymentReceived(data=d):
            keys += [d.payment_id, d.order_number, d.invoice_number, d.payer.email, d.payer.display_name]
    return "\n".join(sorted({k.strip().lower() for k in keys if k and k.strip()}))


def summary(event: AnyEvent) -> str:
    """One plain-language line about the event for the owner's pages."""
    match event:
        case OrderCreated(data=d):
            return f"order {d.order_number} from {d.customer.display_name}: {d.currency} {d.total}"
        case ContactSubmitted(data=d):
            return f"form '{d.form}' from {d.contact.display_name}"
        case CustomerCreated(data=d):
            return f"new customer {d.customer.display_name}"
        case PaymentReceived(data=d):
            return f"payment {d.currency} {d.amount} from {d.payer.display_name}"
    return event.type  # pragma: no cover - every type is matched above


@dataclass(frozen=True)
class RecordedEvent:
    """An event as the recorder saw it on its topic."""

    event: AnyEvent
    topic: str
    partition: int
    offset: int
    expected: Sequence[tuple[str, str, str]]  # (flow, action, target) that this event should cause


@dataclass(frozen=True)
class DeliveryRow:
    """One delivery of one action, as the ledger has it."""

    key: str
    event_id: str
    target: str
    flow: str
    action: str
    status: str
    attempts: int
    external_id: str
    first_attempt_at: float | None
    last_attempt_at: float | None
    next_attempt_at: float | None
    delivered_at: float | None
    last_error: str
    dlq_offset: int | None

    COLUMNS = (
        "key, event_id, target, flow, action, status, attempts, external_id, first_attempt_at, "
        "last_attempt_at, next_attempt_at, delivered_at, last_error, dlq_offset"
    )


Missing = tuple[str, str, str, "DeliveryRow | None"]  # (flow, action, target, its delivery so far)


@dataclass(frozen=True)
class EventRow:
    """One recorded event."""

    id: str
    type: str
    source: str
    subject: str
    summary: str
    occurred_at: float
    recorded_at: float
    test: bool

    COLUMNS = "id, type, source, subject, summary, occurred_at, recorded_at, test"


class SqlLedger:
    """The ledger on a SQL database; also the gateway's dedupe store and connectors' id map."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # SQLite: actions begun (looked up, found new) whose row is written with their first
        # status change, in the same transaction; key -> the row's identity columns.
        self._unwritten: dict[str, tuple[str, str, str, str, bool]] = {}
        self._writing: dict[str, int] = {}  # key -> status changes queued and not committed yet

    @classmethod
    async def open(cls, url: str) -> SqlLedger:
        """Connect and apply the schema migrations this ledger has not had yet."""
        db = await connect(url)
        try:
            await migrate(db, f"the ledger at {_printable(url)}")
        except BaseException:
            await db.close()
            raise
        return cls(db)

    async def close(self) -> None:
        """Close the database."""
        await self.db.close()

    async def ready(self) -> str | None:
        """None when the database answers within 2 s, else why not."""
        try:
            async with asyncio.timeout(2):
                await self.db.fetchrow("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any failure means: not ready, and says which
            return f"ledger: {type(exc).__name__}: {exc}"
        return None

    # --- the sync runner's calls (services.ledger.base.Ledger) -------------------------------

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

    async def idmap_get(self, target: str, key: str) -> str | None:
        """A target's id for one of Handover's keys."""
        row = await self.db.fetchrow("SELECT external_id FROM idmap WHERE target = $1 AND key = $2", target, key)
        return row[0] if row else None

    async def idmap_put(self, target: str, key: str, external_id: str) -> None:
        """Remember a target's id for one of Handover's keys."""
        await self.db.execute(
            "INSERT INTO idmap (target, key, external_id) VALUES ($1, $2, $3) "
            "ON CONFLICT (target, key) DO UPDATE SET external_id = excluded.external_id",
            target, key, external_id,
        )

    # --- the recorder ------------------------------------------------------------------------

    async def record(self, batch: Iterable[RecordedEvent]) -> None:
        """Record events and the actions their flows expect (idempotent: replays change nothing)."""
        now = time.time()
        events, expected = [], []
        for r in batch:
            e = r.event
            events.append((
                e.id, e.type, e.source, e.subject, search_keys(e), summary(e), e.time.timestamp(),
                e.received_at.timestamp() if e.received_at else None, now, e.test, r.topic, r.partition, r.offset,
            ))
            expected += [(e.id, flow, action, target) for flow, action, target in r.expected]
        # The expected actions first: an event's row says "recorded", and the intake journal counts
        # a recorded event with no open action as finished (never re-driven). A process killed
        # between the two writes must leave actions without their event, not the reverse.
        if expected:
            await self.db.executemany(
                "INSERT INTO expected_actions (event_id, flow, action, target) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (event_id, flow, action) DO NOTHING",
                expected,
            )
        if events:
            await self.db.executemany(
                "INSERT INTO events (id, type, source, subject, keys, summary, occurred_at, received_at, "
                "recorded_at, test, topic, kafka_partition, kafka_offset) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (id) DO NOTHING",
                events,
            )

    # --- the gateway's dedupe memory ---------------------------------------------------------

    async def seen(self, event_id: str) -> bool:
        """True when this delivery was accepted within its window."""
        row = await self.db.fetchrow(
            "SELECT 1 FROM webhook_dedupe WHERE event_id = $1 AND expires_at > $2", event_id, time.time()
        )
        return row is not None

    async def remember(self, event_id: str, ttl_s: float) -> None:
        """Remember an accepted delivery for `ttl_s` seconds."""
        await self.db.execute(
            "INSERT INTO webhook_dedupe (event_id, expires_at) VALUES ($1, $2) "
            "ON CONFLICT (event_id) DO UPDATE SET expires_at = excluded.expires_at",
            event_id, time.time() + ttl_s,
        )

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
        await self.db.executemany(
            "INSERT INTO webhook_dedupe (event_id, expires_at) VALUES ($1, $2) "
            "ON CONFLICT (event_id) DO UPDATE SET expires_at = excluded.expires_at",
            [(event_id, now + ttl) for event_id, ttl in items],
        )

    async def forget_expired(self) -> None:
        """Drop dedupe entries past their window."""
        await self.db.execute("DELETE FROM webhook_dedupe WHERE expires_at <= $1", time.time())

    # --- reading -----------------------------------------------------------------------------

    async def deliveries_for(self, event_id: str) -> list[DeliveryRow]:
        """Every delivery of one event."""
        rows = await self.db.fetch(
            f"SELECT {DeliveryRow.COLUMNS} FROM deliveries WHERE event_id = $1 ORDER BY flow, action", event_id
        )
        return [DeliveryRow(*r) for r in rows]

    async def delivery(self, key: str) -> DeliveryRow | None:
        """One delivery by idempotency key."""
        row = await self.db.fetchrow(f"SELECT {DeliveryRow.COLUMNS} FROM deliveries WHERE key = $1", key)
        return DeliveryRow(*row) if row else None

    async def event(self, event_id: str) -> EventRow | None:
        """One recorded event."""
        row = await self.db.fetchrow(f"SELECT {EventRow.COLUMNS} FROM events WHERE id = $1", event_id)
        return EventRow(*_bools(row, 7)) if row else None

    async def search(self, term: str, limit: int = 50) -> list[EventRow]:
        """Events whose business keys contain `term` (order number, e-mail, name), newest first."""
        # Escape LIKE's wildcards rather than dropping them: "first_last@..." is a real address.
        escaped = term.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = "%" + escaped + "%"
        rows = await self.db.fetch(
            f"SELECT {EventRow.COLUMNS} FROM events WHERE keys LIKE $1 ESCAPE '\\' "
            "ORDER BY recorded_at DESC LIMIT $2",
            like, limit,
        )
        return [EventRow(*_bools(r, 7)) for r in rows]

    async def incomplete(self, older_than_s: float, limit: int = 200) -> list[tuple[EventRow, list[Missing]]]:
        """Events whose expected actions are not all delivered `older_than_s` after recording,
        with each missing action (flow, action, target) and its delivery row if any."""
        cutoff = time.time() - older_than_s
        rows = await self.db.fetch(
            "SELECT x.event_id, x.flow, x.action, x.target FROM expected_actions x "
            "JOIN events e ON e.id = x.event_id "
            "LEFT JOIN deliveries d ON d.event_id = x.event_id AND d.flow = x.flow AND d.action = x.action "
            "WHERE e.recorded_at < $1 AND (d.status IS NULL OR d.status <> 'delivered') "
            "ORDER BY e.recorded_at LIMIT $2",
            cutoff, limit,
        )
        out: dict[str, list[Missing]] = {}
        for event_id, flow, action, target in rows:
            key = f"{event_id}:{flow}:{action}"
            out.setdefault(event_id, []).append((flow, action, target, await self.delivery(key)))
        result = []
        for event_id, missing in out.items():
            ev = await self.event(event_id)
            if ev is not None:
                result.append((ev, missing))
        return result

    async def incomplete_counts(self, older_than_s: float) -> dict[str, int]:
        """Per flow: events with an expected action not delivered after `older_than_s`."""
        rows = await self.db.fetch(
            "SELECT x.flow, COUNT(DISTINCT x.event_id) FROM expected_actions x "
            "JOIN events e ON e.id = x.event_id "
            "LEFT JOIN deliveries d ON d.event_id = x.event_id AND d.flow = x.flow AND d.action = x.action "
            "WHERE e.recorded_at < $1 AND (d.status IS NULL OR d.status <> 'delivered') GROUP BY x.flow",
            time.time() - older_than_s,
        )
        return {flow: int(n) for flow, n in rows}

    async def target_counts(self) -> dict[str, dict[str, int]]:
        """Per target: deliveries by status."""
        rows = await self.db.fetch("SELECT target, status, COUNT(*) FROM deliveries GROUP BY target, status")
        out: dict[str, dict[str, int]] = {}
        for target, status, n in rows:
            out.setdefault(target, {})[status] = int(n)
        return out

    async def source_activity(self, since: float) -> dict[str, tuple[float, int]]:
        """Per source: last event time and events since `since`."""
        rows = await self.db.fetch(
            "SELECT source, MAX(recorded_at), SUM(CASE WHEN recorded_at >= $1 THEN 1 ELSE 0 END) "
            "FROM events GROUP BY source",
            since,
        )
        return {s: (float(last), int(n or 0)) for s, last, n in rows}

    async def source_times(self, source: str, limit: int = 200) -> list[float]:
        """The latest event times of one source, oldest first (to learn its rhythm)."""
        rows = await self.db.fetch(
            "SELECT recorded_at FROM events WHERE source = $1 ORDER BY recorded_at DESC LIMIT $2", source, limit
        )
        return sorted(float(r[0]) for r in rows)

    async def weekly_deliveries(self, since: float, week_s: float = 7 * 86400) -> list[tuple[str, str, str, int, int]]:
        """Per (flow, action, target, week index since `since`): delivered actions, test events
        excluded; each idempotency key counts once however often it was redelivered."""
        rows = await self.db.fetch(
            "SELECT flow, action, target, delivered_at FROM deliveries "
            "WHERE status = 'delivered' AND NOT test AND delivered_at >= $1",
            since,
        )
        counts: dict[tuple[str, str, str, int], int] = {}
        for flow, action, target, at in rows:
            k = (flow, action, target, int((float(at) - since) // week_s))
            counts[k] = counts.get(k, 0) + 1
        return [(f, a, t, w, n) for (f, a, t, w), n in sorted(counts.items())]

    async def deadletter_counts(self) -> dict[tuple[str, str, str], int]:
        """Dead-lettered actions per (flow, action, target), test events excluded."""
        rows = await self.db.fetch(
            "SELECT flow, action, target, COUNT(*) FROM deliveries WHERE status = 'deadlettered' AND NOT test "
            "GROUP BY flow, action, target"
        )
        return {(f, a, t): int(n) for f, a, t, n in rows}

    async def get_value(self, name: str) -> str | None:
        """A stored setting (the calculator's typed-in handovers)."""
        row = await self.db.fetchrow("SELECT value FROM settings_store WHERE name = $1", name)
        return row[0] if row else None

    async def put_value(self, name: str, value: str) -> None:
        """Store a setting."""
        await self.db.execute(
            "INSERT INTO settings_store (name, value, updated_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            name, value, time.time(),
        )

    async def all_deliveries(self, target: str | None = None) -> list[DeliveryRow]:
        """Every delivery (tests and the checker), optionally of one target."""
        if target is None:
            rows = await self.db.fetch(f"SELECT {DeliveryRow.COLUMNS} FROM deliveries ORDER BY key")
        else:
            rows = await self.db.fetch(
                f"SELECT {DeliveryRow.COLUMNS} FROM deliveries WHERE target = $1 ORDER BY key", target
            )
        return [DeliveryRow(*r) for r in rows]

    # --- actions in doubt (#18: the outcome protocol of "lookup" creates) ----------------------

    async def in_doubt(self, key: str, error: str, attempts: int) -> None:
        """The attempt may have taken effect: the row stays "sending" (a restart reconciles
        first), with the error and attempts for the owner's pages."""
        await self._update(
            "UPDATE deliveries SET attempts = $2, last_error = $3, last_attempt_at = $4, "
            "first_attempt_at = COALESCE(first_attempt_at, $4) WHERE key = $1",
            key, attempts, error[:2000], time.time(),
        )


def _printable(url: str) -> str:
    """A ledger URL without its password, for messages."""
    return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", url)


def _bools(row: Sequence[Any], index: int) -> list[Any]:
    out = list(row)
    out[index] = bool(out[index])
    return out


async def open_ledger(url: str) -> SqlLedger:
    """Open the ledger a URL names (sqlite:///path or postgresql://...)."""
    return await SqlLedger.open(url)
