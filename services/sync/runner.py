"""The sync runner: one consumer group per target, each event's actions delivered exactly once.

Per target: the keyed consumer (services.sync.consumer) fetches the topics its flows listen to,
runs records of one key in order and different keys concurrently (bounded), and commits only
below the first unfinished offset. This worker handles each record: decode -> for each matching
flow action, deliver it (services.sync.delivery: the ledger, the connector, retries with backoff
from services.sync.retry, the outcome protocol) on a lane it lends: its call slots, its circuit
breaker (services.sync.breaker) pausing the whole target while it keeps failing, its dead letters
(services.sync.deadletter_writer)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import structlog
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition

from schemas import AnyEvent, decode_event
from schemas.topics import event_topic, sync_group
from services.common.config import Settings
from services.common.kafka import Doorbell
from services.common.kafka import consumer as make_consumer
from services.common.metrics import Metrics
from services.flows.compile import CompiledAction, CompiledFlow
from services.flows.context import event_context
from services.ledger.base import Ledger, NullLedger
from services.sync.breaker import Breaker
from services.sync.connectors import connector_kinds
from services.sync.connectors.base import Connector, ConnectorContext, IdMap
from services.sync.consumer import KeyedConsumer
from services.sync.deadletter_writer import DeadLetterWriter
from services.sync.deadletters import find_dead_letter
from services.sync.delivery import Abandoned, Delivery, FoundDeadLetter, Outcome
from services.sync.errors import DeliveryError, Permanent
from services.sync.retry import backoff

__all__ = ["Outcome", "SyncService", "TargetWorker"]  # Outcome: what replay and the CLI report

log = structlog.get_logger("handover.sync")

RECORDS_PER_SLOT = 4  # records a worker holds (calling, writing the ledger, waiting) per call slot


class TargetWorker:
    """Delivers every action of the configured flows to one target."""

    def __init__(
        self,
        settings: Settings,
        target: str,
        connector: Connector,
        flows: Sequence[CompiledFlow],
        metrics: Metrics,
        ledger: Ledger,
        dlq: AIOKafkaProducer | None,
        doorbell: Doorbell | None = None,
    ) -> None:
        self.settings = settings
        self.cfg = settings.sync
        self.target = target
        self.connector = connector
        self.flows = [
            (flow, tuple(a for a in flow.actions if a.target == target))
            for flow in flows
            if any(a.target == target for a in flow.actions)
        ]
        self.topics = sorted({event_topic(flow.config.on) for flow, _ in self.flows})
        self.metrics = metrics
        self.ledger = ledger
        self.dlq = dlq
        self.group = sync_group(target)
        self.log = log.bind(target=target)
        # Records with the same key in order, different keys concurrently: `slots` bounds the
        # calls to the target at once; the records in hand (calls, ledger writes, backoff waits)
        # are bounded apart, so ledger latency never idles a target slot.
        self.slots = asyncio.Semaphore(self.cfg.concurrency)
        self.feed = KeyedConsumer(
            make_consumer(settings.kafka, self.group), group=self.group, log=self.log, doorbell=doorbell,
            handle=self._handle_until_done, commit_interval_s=self.cfg.commit_interval_s,
            poll_s=settings.kafka.idle_fetch_poll_s, max_records=self.cfg.concurrency * 8,
            in_hand=self.cfg.concurrency * RECORDS_PER_SLOT, lag=metrics.consumer_lag,
            revoke_wait_s=settings.kafka.session_timeout_ms / 2000, on_assigned=self._assigned,
        )
        self.consumer = self.feed.consumer
        self.assigned = self.feed.assigned
        self.offsets = self.feed.offsets
        self.tasks = self.feed.tasks
        self.idle: set[asyncio.Task[Any]] = set()  # tasks in a backoff or breaker wait
        self.breaker = Breaker(self.cfg.breaker_threshold)
        self.delivery = Delivery(target, connector, ledger, self.cfg, metrics)
        self.deadletters = (
            DeadLetterWriter(target, dlq, ledger, metrics, self.delivery.count) if dlq is not None else None
        )
        # Conditions and field templates read the event's context; without them, skip making it.
        self.needs_context = any(
            flow.condition.tree is not None or any(a.templates for a in actions) for flow, actions in self.flows
        )

    @property
    def stopping(self) -> bool:
        """Set once the worker stops: nothing new goes out, waits end."""
        return self.feed.stopping

    @stopping.setter
    def stopping(self, value: bool) -> None:
        self.feed.stopping = value

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Join the target's consumer group."""
        await self.feed.start(self.topics)

    async def run(self) -> None:
        """Fetch and deliver until stopped."""
        await self.feed.run()

    async def stop(self) -> None:
        """Drain in-flight calls, abandon backoff/breaker waits, commit what is done, leave."""
        self.stopping = True
        for task in list(self.idle):
            task.cancel()  # waiting, not working: its record stays uncommitted for the next run
        # A call in flight finishes (bounded by the delivery timeout) so its offset commits.
        await self.feed.stop(drain_s=self.cfg.delivery_timeout_s + 1)

    async def commit(self, partitions: Sequence[TopicPartition] | None = None) -> None:
        """Commit, per partition, every offset below the first unfinished one."""
        await self.feed.commit(partitions)

    def _assigned(self, assigned: Any) -> None:
        self.log.info("partitions_assigned", partitions=sorted(f"{t.topic}:{t.partition}" for t in assigned))

    # --- dispatch ----------------------------------------------------------------------------

    async def _handle_until_done(self, record: ConsumerRecord[bytes, bytes]) -> bool:
        """Handle one record, retrying until it is done; False when stopping cut it short."""
        attempt = 0
        while True:
            try:
                await self._handle(record)
                return True  # every action delivered, skipped or dead-lettered
            except (Abandoned, asyncio.CancelledError):
                return False  # stopping mid-wait: unfinished, redelivered (and deduped) next time
            except Exception as exc:  # noqa: BLE001 - e.g. the ledger is down: retry, never skip
                attempt += 1
                delay = backoff(attempt, self.cfg, None)
                self.log.error("record_failed_retrying", error=repr(exc), retry_in_s=round(delay, 3))
                try:
                    await self._idle(functools.partial(asyncio.sleep, delay))
                except (Abandoned, asyncio.CancelledError):
                    return False

    async def _idle(self, waiting: Callable[[], Awaitable[Any]]) -> None:
        """Await a backoff sleep or breaker wait that `stop()` may cut short."""
        task = asyncio.current_task()
        assert task is not None
        if self.stopping:
            raise Abandoned
        self.idle.add(task)
        try:
            await waiting()
        except asyncio.CancelledError:
            if self.stopping:
                raise Abandoned from None
            raise
        finally:
            self.idle.discard(task)

    async def _take_slot(self, record: ConsumerRecord[bytes, bytes] | None) -> None:
        """Take one of the target's call slots for a call that may go out now. A live record
        never holds a slot while the breaker keeps it waiting (the prober needs one to probe),
        and one whose worker stops or whose partition was revoked meanwhile is left unfinished."""
        while True:
            if record is not None:
                await self._admit()
            await self.slots.acquire()
            if record is None:
                return
            if self.stopping or not self.feed.still_ours(record):
                self.slots.release()
                raise Abandoned  # redelivered to whoever owns the partition next (the ledger dedupes)
            if not self.breaker.open or self.breaker.prober is asyncio.current_task():
                return
            self.slots.release()  # the breaker opened while this waited for a slot: wait on it first

    async def _admit(self) -> None:
        """Wait while the breaker is open, unless this task is the one probing the target."""
        b = self.breaker
        if not b.open:
            return
        me = asyncio.current_task()
        while b.open:
            if b.prober is None or b.prober.done() or b.prober is me:
                b.prober = me
                return
            # Re-check now and then: a prober that ends with a Permanent error hands over.
            with contextlib.suppress(TimeoutError):
                await self._idle(lambda: asyncio.wait_for(b.resumed.wait(), self.cfg.breaker_probe_s))

    async def _handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        # Each record is handled in its own task: these stay with its log lines.
        structlog.contextvars.bind_contextvars(
            topic=record.topic, partition=record.partition, offset=record.offset, target=self.target
        )
        try:
            event = decode_event(record.value or b"")
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            assert self.deadletters is not None
            await self.deadletters.write(record, None, None, Permanent(f"undecodable event: {exc}"), 1, time.time())
            return
        structlog.contextvars.bind_contextvars(event_id=event.id)
        ctx = event_context(event) if self.needs_context else {}
        for flow, actions in self.flows:
            if flow.config.on != event.type:
                continue
            try:
                if not flow.condition(ctx):
                    continue
            except Permanent as exc:
                for action in actions:  # through deliver(): a redelivery must not dead-letter it again
                    await self.deliver(event, ctx, flow, action, record=record, failing=exc)
                continue
            for action in actions:
                await self._deliver(record, event, ctx, flow, action)

    async def _deliver(
        self,
        record: ConsumerRecord[bytes, bytes],
        event: AnyEvent,
        ctx: dict[str, Any],
        flow: CompiledFlow,
        action: CompiledAction,
    ) -> None:
        await self.deliver(event, ctx, flow, action, record=record)

    async def deliver(
        self,
        event: AnyEvent,
        ctx: dict[str, Any],
        flow: CompiledFlow,
        action: CompiledAction,
        record: ConsumerRecord[bytes, bytes],
        failing: Permanent | None = None,
    ) -> Outcome:
        """Deliver one action of the event a record carried, exactly once (services.sync.delivery);
        what cannot be delivered goes to the dead-letter topic."""
        return await self.delivery.deliver(event, ctx, flow, action, RecordLane(self, record), failing)

    def _failure(self) -> bool:
        if self.breaker.failed():
            self.metrics.target_paused.labels(self.target).set(1)
            self.feed.pause()
            self.log.warning("target_paused", failures=self.breaker.failures)
        return self.breaker.open

    def _success(self) -> None:
        if self.breaker.succeeded():
            self.metrics.target_paused.labels(self.target).set(0)
            self.feed.resume()
            self.log.info("target_resumed")


class RecordLane:
    """A consumed record's lane (services.sync.delivery.Lane): the worker's call slots and
    breaker, waits that its stop cuts short, its dead letters."""

    live = True

    def __init__(self, worker: TargetWorker, record: ConsumerRecord[bytes, bytes]) -> None:
        self.worker = worker
        self.record = record

    async def slot(self) -> None:
        """A call slot, once the breaker admits this record and its partition is still ours."""
        await self.worker._take_slot(self.record)

    def release(self) -> None:
        """Give the call slot back."""
        self.worker.slots.release()

    async def wait(self, seconds: float) -> None:
        """A backoff wait that the worker's stop cuts short."""
        await self.worker._idle(lambda: asyncio.sleep(seconds))

    def failed(self) -> bool:
        """The breaker counts a transient failure; True while the target is paused."""
        return self.worker._failure()

    def succeeded(self) -> None:
        """The breaker resets (and resumes a paused target)."""
        self.worker._success()

    async def deadletter(
        self, event: AnyEvent, flow: CompiledFlow, action: CompiledAction, error: DeliveryError,
        attempts: int, first: float,
    ) -> None:
        """The action's one dead letter, with the record's story."""
        assert self.worker.deadletters is not None, "only the live worker dead-letters"
        await self.worker.deadletters.write(self.record, event, (flow, action), error, attempts, first)

    async def find_dead_letter(self, key: str) -> FoundDeadLetter | None:
        """The dead letter a previous owner of the partition wrote for this key, if any."""
        return await find_dead_letter(self.worker.settings.kafka, self.worker.target, key)


class SyncService:
    """Runs a TargetWorker for every target (or the chosen ones) that a flow uses."""

    def __init__(
        self,
        settings: Settings,
        metrics: Metrics,
        targets: Sequence[str] | None = None,
        ledger: Ledger | None = None,
        doorbell: Doorbell | None = None,
        idmap: IdMap | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.doorbell = doorbell
        self.ledger = ledger or NullLedger()
        self.idmap = idmap  # None: each connector keeps its own for the process's lifetime
        flows: list[CompiledFlow] = list(settings.compiled_flows)  # compiled once, by services.assembly
        used = {a.target for f in flows for a in f.actions}
        self.target_names = [t for t in settings.targets if t in used and (targets is None or t in targets)]
        self.flows = flows
        self.workers: list[TargetWorker] = []
        self.connectors: list[Connector] = []
        self.run_tasks: list[asyncio.Task[None]] = []
        self.http: aiohttp.ClientSession | None = None
        self.dlq: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Start connectors, the dead-letter producer and one worker per target."""
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.sync.delivery_timeout_s))
        kafka = self.settings.kafka
        self.dlq = AIOKafkaProducer(
            bootstrap_servers=kafka.bootstrap_servers, client_id=f"{kafka.client_id}-deadletter",
            acks="all", enable_idempotence=kafka.idempotence,
        )
        await self.dlq.start()
        kinds = connector_kinds()
        ctx = ConnectorContext(
            http=self.http, data_dir=Path(self.settings.data_dir),
            timeout_s=self.settings.sync.delivery_timeout_s, idmap=self.idmap,
        )
        for name in self.target_names:
            spec = self.settings.targets[name]
            connector = kinds[spec.kind](spec, ctx)
            await connector.start()
            self.connectors.append(connector)
            worker = TargetWorker(self.settings, name, connector, self.flows, self.metrics, self.ledger, self.dlq,
                                  self.doorbell)
            self.workers.append(worker)
        # Joining a group takes seconds on some brokers: join every target's group at once.
        await asyncio.gather(*(worker.start() for worker in self.workers))
        for worker in self.workers:
            self.run_tasks.append(asyncio.create_task(worker.run(), name=f"sync-{worker.target}"))

    async def wait_assigned(self, timeout_s: float = 30.0) -> None:
        """Wait until every worker has its first partition assignment (tests, readiness)."""
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(*(w.assigned.wait() for w in self.workers))

    async def stop(self) -> None:
        """Stop fetching, drain in-flight deliveries, commit, close everything."""
        for worker in self.workers:
            worker.stopping = True
        for task in self.run_tasks:
            task.cancel()
        await asyncio.gather(*self.run_tasks, return_exceptions=True)
        for worker in self.workers:
            await worker.stop()
        for connector in self.connectors:
            await connector.close()
        if self.dlq is not None:
            await self.dlq.stop()
        if self.http is not None:
            await self.http.close()
