"""The read models behind the owner's pages: an event's trail, search, what is late, counts."""

from __future__ import annotations

import json
import time
from typing import Any

from services.ledger.db import Database
from services.ledger.rows import DEADLETTERED, DELIVERED, DeliveryRow, EventRow, Missing, fetch_delivery

# An expected action not delivered (yet), with the event it belongs to.
_OPEN_ACTIONS = (
    "FROM expected_actions x JOIN events e ON e.id = x.event_id "
    "LEFT JOIN deliveries d ON d.event_id = x.event_id AND d.flow = x.flow AND d.action = x.action "
    "WHERE e.recorded_at < $1 AND (d.status IS NULL OR d.status <> 'delivered')"
)


class Reports:
    """Reads over events, expected actions and deliveries; writes nothing."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def deliveries_for(self, event_id: str) -> list[DeliveryRow]:
        """Every delivery of one event."""
        rows = await self.db.fetch(
            f"SELECT {DeliveryRow.COLUMNS} FROM deliveries WHERE event_id = $1 ORDER BY flow, action", event_id
        )
        return [DeliveryRow(*r) for r in rows]

    async def delivery(self, key: str) -> DeliveryRow | None:
        """One delivery by idempotency key."""
        return await fetch_delivery(self.db, key)

    async def event(self, event_id: str) -> EventRow | None:
        """One recorded event."""
        row = await self.db.fetchrow(f"SELECT {EventRow.COLUMNS} FROM events WHERE id = $1", event_id)
        return EventRow.of(row) if row else None

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
        return [EventRow.of(r) for r in rows]

    async def incomplete(self, older_than_s: float, limit: int = 200) -> list[tuple[EventRow, list[Missing]]]:
        """Events whose expected actions are not all delivered `older_than_s` after recording,
        with each missing action (flow, action, target) and its delivery row if any."""
        rows = await self.db.fetch(
            f"SELECT x.event_id, x.flow, x.action, x.target {_OPEN_ACTIONS} ORDER BY e.recorded_at LIMIT $2",
            time.time() - older_than_s, limit,
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
            f"SELECT x.flow, COUNT(DISTINCT x.event_id) {_OPEN_ACTIONS} GROUP BY x.flow", time.time() - older_than_s
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

    async def all_deliveries(self, target: str | None = None) -> list[DeliveryRow]:
        """Every delivery (tests and the checker), optionally of one target."""
        if target is None:
            rows = await self.db.fetch(f"SELECT {DeliveryRow.COLUMNS} FROM deliveries ORDER BY key")
        else:
            rows = await self.db.fetch(
                f"SELECT {DeliveryRow.COLUMNS} FROM deliveries WHERE target = $1 ORDER BY key", target
            )
        return [DeliveryRow(*r) for r in rows]


    async def deadlettered_since(self, since: float, limit: int = 200) -> list[DeliveryRow]:
        """Dead-lettered deliveries whose last attempt was after `since`, oldest first (the
        owner's notifications, services.notify)."""
        rows = await self.db.fetch(
            f"SELECT {DeliveryRow.COLUMNS} FROM deliveries WHERE status = $1 AND last_attempt_at > $2 "
            "ORDER BY last_attempt_at, key LIMIT $3",
            DEADLETTERED, since, limit,
        )
        return [DeliveryRow(*r) for r in rows]

    async def delivered_between(self, start: float, end: float) -> dict[tuple[str, str, str], int]:
        """Deliveries confirmed in [start, end) per (flow, action, target), test events left out
        (the owner's weekly digest, services.notify)."""
        rows = await self.db.fetch(
            "SELECT flow, action, target, COUNT(*) FROM deliveries WHERE status = $1 AND NOT test "
            "AND delivered_at >= $2 AND delivered_at < $3 GROUP BY flow, action, target",
            DELIVERED, start, end,
        )
        return {(f, a, t): int(n) for f, a, t, n in rows}

    async def sent_for(self, event_id: str) -> dict[str, tuple[dict[str, Any], str]]:
        """What each action of one event sent and was answered: {delivery key: (fields, answer)}."""
        rows = await self.db.fetch(
            "SELECT s.key, s.fields, s.answer FROM sent_actions s JOIN deliveries d ON d.key = s.key "
            "WHERE d.event_id = $1",
            event_id,
        )
        return {k: (json.loads(f), a) for k, f, a in rows}
