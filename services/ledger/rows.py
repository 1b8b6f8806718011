"""The ledger's row types and delivery statuses, shared by its repositories and their readers.

Times are epoch seconds (float) so both backends store and compare them the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from schemas import AnyEvent
from services.ledger.db import Database

# Delivery statuses.
PENDING, SENDING, RETRYING, DELIVERED, DEADLETTERED, FAILED, DEADLETTERING = (
    "pending", "sending", "retrying", "delivered", "deadlettered", "failed", "deadlettering",
)


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

    @classmethod
    def of(cls, row: Sequence[Any]) -> EventRow:
        """The row as read (SQLite hands `test` back as 0/1)."""
        values = list(row)
        values[7] = bool(values[7])
        return cls(*values)


async def fetch_delivery(db: Database, key: str) -> DeliveryRow | None:
    """One delivery by idempotency key."""
    row = await db.fetchrow(f"SELECT {DeliveryRow.COLUMNS} FROM deliveries WHERE key = $1", key)
    return DeliveryRow(*row) if row else None
