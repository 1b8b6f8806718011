"""Writing a dead letter: the record, with its story in headers, to `handover.deadletter.<target>`.

The ledger keeps a copy first and learns the dead letter's offset after, so the action is
never silently dropped and a crash in between is recognised by the next owner.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable

import structlog
from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaError

from schemas import AnyEvent
from schemas.topics import deadletter_topic
from services.common.metrics import Metrics
from services.flows.compile import CompiledAction, CompiledFlow, idempotency_key
from services.ledger.base import KeptDeadLetter, Ledger
from services.sync.errors import DeliveryError


class DeadLetterWriter:
    """Writes one target's dead letters and records them in the ledger."""

    def __init__(
        self, target: str, producer: AIOKafkaProducer, ledger: Ledger, metrics: Metrics,
        count: Callable[[str, str], None],
    ) -> None:
        self.target = target
        self.producer = producer
        self.ledger = ledger
        self.metrics = metrics
        self.count = count  # handover_deliveries_total{action, outcome} += 1
        self.log = structlog.get_logger("handover.sync").bind(target=target)

    async def write(
        self,
        record: ConsumerRecord[bytes, bytes],
        event: AnyEvent | None,
        where: tuple[CompiledFlow, CompiledAction] | None,
        error: DeliveryError,
        attempts: int,
        first: float,
    ) -> None:
        """Dead-letter one action of a record (or the whole record, when it is not an event)."""
        flow, action = where if where else (None, None)
        key = idempotency_key(event, flow.name, action.key) if event and flow and action else ""
        headers = [
            ("original-topic", record.topic),
            ("original-partition", str(record.partition)),
            ("original-offset", str(record.offset)),
            ("target", self.target),
            ("flow", flow.name if flow else ""),
            ("action", action.key if action else ""),
            ("idempotency-key", key),
            ("event-id", event.id if event else ""),
            ("error-class", type(error).__name__),
            ("error-message", error.message[:2000]),
            ("attempts", str(attempts)),
            ("first-attempt", _iso(first)),
            ("last-attempt", _iso(time.time())),
        ]
        # Written and acknowledged before the offset can be committed: never silently dropped.
        if key:
            copy = KeptDeadLetter(self.target, record.value or b"", dict(headers), record.key)
            await self.ledger.deadlettering(key, copy)
        while True:
            try:
                meta = await self.producer.send_and_wait(
                    deadletter_topic(self.target), value=record.value, key=record.key,
                    headers=[(k, v.encode()) for k, v in headers],
                )
                break
            except KafkaError as exc:
                self.log.warning("deadletter_write_failed", error=repr(exc))
                await asyncio.sleep(1)
        if key and event is not None:
            await self.ledger.deadlettered(key, f"{type(error).__name__}: {error.message}", attempts, meta.offset)
        self.metrics.deadletters.labels(self.target).inc()
        if action is not None:
            self.count(action.config.action, "deadlettered")
        self.log.warning(
            "event_deadlettered", flow=flow.name if flow else "", action=action.key if action else "",
            outcome="deadlettered", attempts=attempts, error=error.message[:500],
        )


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()
