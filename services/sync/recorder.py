"""The recorder: its own consumer group reads every event topic into the ledger.

Kafka stays the source of truth and the gateway writes nowhere else: the ledger's view of
"what came in and what should happen" is rebuilt from the topics, idempotently.
"""

from __future__ import annotations

import asyncio

import msgspec
import structlog
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from schemas import EVENT_TYPES, decode_event
from schemas.topics import RECORDER_GROUP, event_topic
from services.common.config import Settings
from services.common.kafka import Doorbell, Dozer
from services.common.kafka import consumer as make_consumer
from services.common.metrics import Metrics
from services.ledger.events import EventLog
from services.ledger.rows import RecordedEvent
from services.sync.errors import Permanent
from services.sync.flows import compile_flows, event_context
from services.sync.offsets import CommitClock, forgotten_commits, recreated_logs, rewind

log = structlog.get_logger("handover.recorder")


class Recorder:
    """Consumes every event topic and records events plus their expected actions."""

    def __init__(
        self, settings: Settings, ledger: EventLog, metrics: Metrics, doorbell: Doorbell | None = None
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.metrics = metrics
        self.flows = compile_flows(settings)
        self.consumer = make_consumer(settings.kafka, RECORDER_GROUP)
        # Idle: stop fetching until something is published (or the poll interval passes).
        self.dozer = Dozer(self.consumer, doorbell, settings.kafka.idle_fetch_poll_s)
        self.task: asyncio.Task[None] | None = None
        self.assigned = asyncio.Event()
        # Per partition, the offset after the last record written to the ledger: only these are
        # ever committed (the consumer's position may be ahead, inside a batch being written).
        self.done: dict[TopicPartition, int] = {}
        self.committed: dict[TopicPartition, int] = {}
        self.commits_fenced = False  # after a failed commit, until the next assignment

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
        from aiokafka import ConsumerRebalanceListener

        recorder = self

        class Listener(ConsumerRebalanceListener):
            async def on_partitions_revoked(self, revoked: object) -> None:
                await recorder.commit(set(revoked))  # type: ignore[call-overload]
                for tp in revoked:  # type: ignore[attr-defined]
                    recorder.done.pop(tp, None)
                    recorder.committed.pop(tp, None)

            async def on_partitions_assigned(self, assigned: object) -> None:
                recorder.commits_fenced = False  # a new generation: positions from its commits
                recorder.assigned.set()

        self.consumer.subscribe([event_topic(t) for t in EVENT_TYPES], listener=Listener())
        await self.consumer.start()
        self.task = asyncio.create_task(self._run(), name="recorder")

    async def _run(self) -> None:
        clock = CommitClock(self.settings.sync.commit_interval_s)
        while True:
            try:
                await self._step(clock)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a surprise must not stop recording silently
                log.error("recorder_step_failed", error=repr(exc))
                await asyncio.sleep(1)

    async def _step(self, clock: CommitClock) -> None:
        """One fetch: record it, note what is done, rewind re-made logs, commit when due."""
        batches = await self.consumer.getmany(timeout_ms=200, max_records=1000)
        batch = []
        for records in batches.values():
            for record in records:
                try:
                    event = decode_event(record.value or b"")
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    log.warning("event_undecodable", topic=record.topic, offset=record.offset, error=str(exc))
                    continue
                batch.append(RecordedEvent(event, record.topic, record.partition, record.offset,
                                           self.expected(event)))
                self.metrics.events_recorded.labels(event.type).inc()
        if batch:
            await self._record(batch)
        for tp, records in batches.items():
            if records:
                self.done[tp] = records[-1].offset + 1
        for tp, position, high in await recreated_logs(self.consumer):
            log.warning("partition_log_recreated", partition=f"{tp.topic}:{tp.partition}",
                        position=position, log_end=high)
            await self._restart(tp)
        if clock.due():
            await self.commit()
        await self.dozer.after_fetch(bool(batch))

    async def _restart(self, tp: TopicPartition) -> None:
        """Read a partition again from its start (recording is idempotent)."""
        self.done.pop(tp, None)
        self.committed.pop(tp, None)
        await rewind(self.consumer, tp)  # revoked meanwhile: its next owner starts from the commits

    async def commit(self, partitions: set[TopicPartition] | None = None) -> None:
        """Commit what is in the ledger (of `partitions`, or all) and not committed yet."""
        mine = self.consumer.assignment()
        offsets = {
            tp: off for tp, off in self.done.items()
            if tp in mine and (partitions is None or tp in partitions) and self.committed.get(tp) != off
        }
        if not offsets or self.commits_fenced:
            return
        ours = {tp: self.committed[tp] for tp in offsets if tp in self.committed}
        for tp in await forgotten_commits(self.consumer, ours):
            # The broker lost its state (restarted empty): this position belongs to a log that is
            # gone, and committing it would skip the new log's first records.
            log.warning("partition_state_lost_by_broker", partition=f"{tp.topic}:{tp.partition}")
            del offsets[tp]
            await self._restart(tp)
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
        except CommitFailedError as exc:
            # The group moved on (a rebalance, or a coordinator that forgot the group): positions
            # from before must not go into the new generation. Commit nothing until the next
            # assignment; what was not committed is read again, and recording is idempotent.
            self.commits_fenced = True
            log.warning("commit_failed", error=repr(exc), fenced=True)
            return
        except KafkaError as exc:
            log.warning("commit_failed", error=repr(exc))
            return
        self.committed.update(offsets)

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
                await self.commit()  # only what reached the ledger: a batch cut short is read again
                await self.consumer.stop()
        except (KafkaError, TimeoutError) as exc:  # the broker may be gone; leaving is best effort
            log.warning("recorder_stop_failed", error=repr(exc))
