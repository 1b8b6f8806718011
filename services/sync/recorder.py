"""The recorder: its own consumer group reads every event topic into the ledger.

Kafka stays the source of truth and the gateway writes nowhere else: the ledger's view of
"what came in and what should happen" is rebuilt from the topics, idempotently.
"""

from __future__ import annotations

import asyncio

import msgspec
import structlog
from aiokafka.errors import KafkaError

from schemas import EVENT_TYPES, decode_event
from schemas.topics import RECORDER_GROUP, event_topic
from services.common.config import Settings
from services.common.kafka import Doorbell
from services.common.kafka import consumer as make_consumer
from services.common.metrics import Metrics
from services.flows.context import event_context
from services.ledger.events import EventLog
from services.ledger.rows import RecordedEvent
from services.sync.consumer import KeyedConsumer, Record
from services.sync.errors import Permanent

log = structlog.get_logger("handover.recorder")


class Recorder:
    """Consumes every event topic and records events plus their expected actions."""

    def __init__(
        self, settings: Settings, ledger: EventLog, metrics: Metrics, doorbell: Doorbell | None = None
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.metrics = metrics
        self.flows = list(settings.compiled_flows)  # compiled once, by services.assembly
        # A whole fetch is recorded at once (one ledger transaction); only what the ledger has is
        # ever committed (the consumer's position may be ahead, inside a fetch being written).
        # Commits come every interval and when stopping, not on each idle fetch.
        self.feed = KeyedConsumer(
            make_consumer(settings.kafka, RECORDER_GROUP), group=RECORDER_GROUP, log=log, doorbell=doorbell,
            handle_batch=self._record_fetch, commit_interval_s=settings.sync.commit_interval_s,
            poll_s=settings.kafka.idle_fetch_poll_s, fetch_timeout_ms=200, max_records=1000,
            commit_when_idle=False, revoke_wait_s=settings.kafka.session_timeout_ms / 2000,
        )
        self.consumer = self.feed.consumer
        self.assigned = self.feed.assigned
        self.task: asyncio.Task[None] | None = None

    def expected(self, event: object) -> list[tuple[str, str, str]]:
        """(flow, action, target) for every action this event's flows should cause."""
        ctx = event_context(event)  # type: ignore[arg-type]
        out = []
        for flow in self.flows:
            if flow.config.on != event.type:  # type: ignore[attr-defined]
                continue
            try:
                if not flow.condition(ctx):
                    continue
            except Permanent:
                pass  # the sync worker dead-letters it; the owner should still see it as expected
            out += [(flow.name, a.key, a.target) for a in flow.actions]
        return out

    async def start(self) -> None:
        """Join the recorder's group and start consuming."""
        await self.feed.start([event_topic(t) for t in EVENT_TYPES])
        self.task = asyncio.create_task(self.feed.run(), name="recorder")

    async def _record_fetch(self, records: list[Record]) -> None:
        """Record one fetch's events; returns once the ledger has them all."""
        batch = []
        for record in records:
            try:
                event = decode_event(record.value or b"")
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.warning("event_undecodable", topic=record.topic, offset=record.offset, error=str(exc))
                continue
            batch.append(RecordedEvent(event, record.topic, record.partition, record.offset, self.expected(event)))
            self.metrics.events_recorded.labels(event.type).inc()
        if batch:
            await self._record(batch)

    async def commit(self) -> None:
        """Commit what is in the ledger and not committed yet."""
        await self.feed.commit()

    async def _record(self, batch: list[RecordedEvent]) -> None:
        """Write a batch to the ledger, retrying until the database takes it."""
        while True:
            try:
                await self.ledger.record(batch)
                return
            except Exception as exc:  # noqa: BLE001 - a database hiccup must not skip events
                log.warning("ledger_write_failed", error=repr(exc))
                await asyncio.sleep(1)

    async def stop(self) -> None:
        """Stop consuming and leave the group."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        try:
            async with asyncio.timeout(10):
                # Only what reached the ledger is committed: a fetch cut short is read again.
                await self.feed.stop(drain_s=0)
        except (KafkaError, TimeoutError) as exc:  # the broker may be gone; leaving is best effort
            log.warning("recorder_stop_failed", error=repr(exc))
