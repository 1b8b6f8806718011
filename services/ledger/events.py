"""The recorder's repository: every event seen on its topic, and the actions its flows expect."""

from __future__ import annotations

import time
from collections.abc import Iterable

from schemas import AnyEvent, ContactSubmitted, CustomerCreated, OrderCreated, PaymentReceived
from services.ledger.db import Database
from services.ledger.rows import RecordedEvent


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


class EventLog:
    """The `events` and `expected_actions` tables, written by the recorder."""

    def __init__(self, db: Database) -> None:
        self.db = db

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
        # The expected actions first: an event row whose actions are missing would look finished
        # to the intake journal (a power cut between the two writes lost a form's actions once).
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
