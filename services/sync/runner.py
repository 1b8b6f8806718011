"""The sync runner: one consumer group per target, each event's actions delivered exactly once.

Per target: consume the topics its flows listen to -> decode -> for each matching flow action,
deliver it (services.sync.delivery: the ledger, the connector, retries with backoff from
services.sync.retry, the outcome protocol) on a lane this worker lends: its call slots, its
circuit breaker (services.sync.breaker) pausing the whole target while it keeps failing, its
dead letters (services.sync.deadletter_writer) -> mark the offset finished -> commit only
offsets below the first unfinished one. Records with the same key are processed in order;
different keys run concurrently (bounded).
"""

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
from aiokafka import AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from schemas import AnyEvent, decode_event
from schemas.topics import event_topic, sync_group
from services.common.config import Settings
from services.common.kafka import Doorbell, Dozer
from services.common.kafka import consumer as make_consumer
from services.common.logging import add_task_context, bind_task_context
from services.common.metrics import Metrics
from services.ledger.base import Ledger, NullLedger
from services.sync.breaker import Breaker
from services.sync.connectors import connector_kinds
from services.sync.connectors.base import Connector, ConnectorContext, IdMap
from services.sync.deadletter_writer import DeadLetterWriter
from services.sync.deadletters import find_dead_letter
from services.sync.delivery import Abandoned, Delivery, FoundDeadLetter, Outcome
from services.sync.errors import DeliveryError, Permanent
from services.sync.flows import CompiledAction, CompiledFlow, compile_flows, event_context
from services.sync.offsets import CommitClock, PartitionOffsets, forgotten_commits, recreated_logs, rewind
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
        self.consumer = make_consumer(settings.kafka, self.group)
        # Idle: stop fetching until something is published (or the poll interval passes).
        self.dozer = Dozer(self.consumer, doorbell, settings.kafka.idle_fetch_poll_s)
        self.offsets: dict[TopicPartition, PartitionOffsets] = {}
        self.commits_fenced = False  # after a failed commit, until the next assignment
        self.revoked: set[TopicPartition] = set()  # taken away by a rebalance, not assigned again
        self.lost_logs: set[TopicPartition] = set()  # the broker forgot their commits: read again
        self.commit_clock = CommitClock(self.cfg.commit_interval_s)
        self.commit_lock = asyncio.Lock()  # one commit at a time: a later one never goes back
        self.committing: asyncio.Task[None] | None = None  # the periodic commit, in the background
        self.key_tails: dict[tuple[TopicPartition, bytes | None], asyncio.Task[bool]] = {}
        # `slots` bounds the calls to the target at once; `records` bounds the records in hand
        # (calls, ledger writes, backoff waits), so ledger latency never idles a target slot.
        self.slots = asyncio.Semaphore(self.cfg.concurrency)
        self.records = asyncio.Semaphore(self.cfg.concurrency * RECORDS_PER_SLOT)
        self.tasks: set[asyncio.Task[bool]] = set()
        self.idle: set[asyncio.Task[Any]] = set()  # tasks in a backoff or breaker wait
        self.breaker = Breaker(self.cfg.breaker_threshold)
        self.log = log.bind(target=target)
        self.delivery = Delivery(target, connector, ledger, self.cfg, metrics)
        self.deadletters = (
            DeadLetterWriter(target, dlq, ledger, metrics, self.delivery.count) if dlq is not None else None
        )
        # Conditions and field templates read the event's context; without them, skip making it.
        self.needs_context = any(
            flow.condition.tree is not None or any(a.templates for a in actions) for flow, actions in self.flows
        )
        self.stopping = False
        self.assigned = asyncio.Event()

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Join the target's consumer group."""
        self.consumer.subscribe(self.topics, listener=_Rebalance(self))
        await self.consumer.start()

    async def run(self) -> None:
        """Fetch and dispatch until stopped."""
        try:
            while not self.stopping:
                batches = await self.consumer.getmany(timeout_ms=100, max_records=self.cfg.concurrency * 8)
                for tp, records in batches.items():
                    for record in records:
                        await self._dispatch(tp, record)
                await self._rewind_recreated_logs()
                # Commit every interval, and as soon as the work in hand is done (a drained
                # backlog is committed at once, not up to an interval later). In the background:
                # fetching and delivering go on while the broker answers.
                idle = not batches and not self.tasks
                if (self.committing is None or self.committing.done()) and (self.commit_clock.due() or idle):
                    self.committing = asyncio.create_task(self._commit_in_background())
                self.update_lag()
                await self.dozer.after_fetch(bool(batches) or bool(self.tasks), may_doze=not self.breaker.open)
        except asyncio.CancelledError:
            raise
        finally:
            self.stopping = True
            if self.committing is not None:  # stop() commits what is done, after this
                self.committing.cancel()
                await asyncio.gather(self.committing, return_exceptions=True)

    async def _rewind_recreated_logs(self) -> None:
        """Read a partition whose log was made again, or whose commits the broker forgot, from
        its start (whatever is read twice, the ledger skips)."""
        lost, self.lost_logs = self.lost_logs, set()
        for tp, position, high in await recreated_logs(self.consumer):
            self.log.warning("partition_log_recreated", partition=f"{tp.topic}:{tp.partition}",
                             position=position, log_end=high)
            lost.add(tp)
        for tp in lost:
            if await rewind(self.consumer, tp):
                self.offsets[tp] = PartitionOffsets()

    async def stop(self) -> None:
        """Drain in-flight calls, abandon backoff/breaker waits, commit what is done, leave."""
        self.stopping = True
        for task in list(self.idle):
            task.cancel()  # waiting, not working: its record stays uncommitted for the next run
        if self.tasks:
            # A call in flight finishes (bounded by the delivery timeout) so its offset commits.
            _, pending = await asyncio.wait(set(self.tasks), timeout=self.cfg.delivery_timeout_s + 1)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.commit()
        await self.consumer.stop()

    def update_lag(self) -> None:
        """Set handover_consumer_lag_messages: highwater minus the first unfinished offset, summed.

        From `highwater()` (the fetch answer), not `end_offsets()`, which the test broker gets
        wrong for multi-record batches (BROKER_NOTES 2).
        """
        lag = 0
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            if high is None:
                continue
            tracker = self.offsets.get(tp)
            done = tracker.first_unfinished() if tracker is not None else None
            if done is None:
                state = self.consumer._subscription.subscription.assignment.state_value(tp)
                done = state.position if state is not None and state.has_valid_position else high
            lag += max(0, high - done)
        self.metrics.consumer_lag.labels(self.group).set(lag)

    # --- dispatch ----------------------------------------------------------------------------

    async def _dispatch(self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes]) -> None:
        await self.records.acquire()
        offsets = self.offsets.get(tp)
        if offsets is None or (offsets.highest_started is not None and record.offset <= offsets.highest_started):
            # Offsets only grow within a log; a smaller one means the topic was deleted and made
            # again (a wiped broker). Track it afresh, or the commit would carry the old log's
            # position past records of the new one.
            if offsets is not None:
                self.log.warning("partition_offsets_went_back", partition=f"{tp.topic}:{tp.partition}",
                                 offset=record.offset, before=offsets.highest_started)
            offsets = self.offsets[tp] = PartitionOffsets()
        offsets.started(record.offset)
        tail = (tp, record.key)
        task = asyncio.create_task(self._process(record, self.key_tails.get(tail), offsets))
        self.key_tails[tail] = task
        self.tasks.add(task)
        task.add_done_callback(functools.partial(self._done, tail))

    def _done(self, tail: tuple[TopicPartition, bytes | None], task: asyncio.Task[bool]) -> None:
        if self.key_tails.get(tail) is task:  # the key's last record is done: forget the key
            del self.key_tails[tail]
        self.tasks.discard(task)
        self.records.release()
        if not task.cancelled() and task.exception() is not None:
            self.log.error("worker_task_failed", error=repr(task.exception()))

    async def _process(
        self,
        record: ConsumerRecord[bytes, bytes],
        previous: asyncio.Task[bool] | None,
        tracker: PartitionOffsets,
    ) -> bool:
        """Handle one record after the previous one of its key; True once it is finished."""
        if previous is not None:
            if not previous.done():
                await asyncio.wait([previous])  # per-key order; its outcome is its own business
            if previous.cancelled() or previous.exception() is not None or not previous.result():
                return False  # the earlier one was abandoned: keep the key's order, leave this too
        attempt = 0
        while True:
            try:
                await self._handle(record)
                break
            except (Abandoned, asyncio.CancelledError):
                return False  # stopping mid-wait: unfinished, redelivered (and deduped) next time
            except Exception as exc:  # noqa: BLE001 - e.g. the ledger is down: retry, never skip
                attempt += 1
                delay = backoff(attempt, self.cfg, None)
                self.log.error("record_failed_retrying", error=repr(exc), retry_in_s=round(delay, 3))
                try:
                    await self._idle(lambda d=delay: asyncio.sleep(d))
                except (Abandoned, asyncio.CancelledError):
                    return False
        # Only a record whose every action is delivered, skipped or dead-lettered counts as
        # done; a cancelled or failing one must never let the commit pass its offset.
        tracker.finished(record.offset)
        return True

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
            if self.stopping or (self.revoked and TopicPartition(record.topic, record.partition) in self.revoked):
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
        bind_task_context(topic=record.topic, partition=record.partition, offset=record.offset, target=self.target)
        try:
            event = decode_event(record.value or b"")
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            assert self.deadletters is not None
            await self.deadletters.write(record, None, None, Permanent(f"undecodable event: {exc}"), 1, time.time())
            return
        add_task_context(event_id=event.id)
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
            self.consumer.pause(*self.consumer.assignment())
            self.log.warning("target_paused", failures=self.breaker.failures)
        return self.breaker.open

    def _success(self) -> None:
        if self.breaker.succeeded():
            self.metrics.target_paused.labels(self.target).set(0)
            self.consumer.resume(*self.consumer.assignment())
            self.log.info("target_resumed")

    # --- commits -----------------------------------------------------------------------------

    async def commit(self, partitions: Sequence[TopicPartition] | None = None) -> None:
        """Commit, per partition, every offset below the first unfinished one."""
        async with self.commit_lock:
            await self._commit(partitions)

    async def _commit_in_background(self) -> None:
        try:
            await self.commit()
        except Exception as exc:  # noqa: BLE001 - the next one tries again; nothing is lost
            self.log.warning("commit_failed", error=repr(exc))

    async def _commit(self, partitions: Sequence[TopicPartition] | None) -> None:
        offsets = {}
        trackers = {}
        assigned = self.consumer.assignment()  # a partition no longer ours is not committed by us
        for tp, tracker in self.offsets.items():
            if (partitions is not None and tp not in partitions) or tp not in assigned:
                continue
            safe = tracker.commit_offset()
            if safe is not None:
                offsets[tp] = safe
                trackers[tp] = tracker
        if not offsets or self.commits_fenced:
            return
        ours = {tp: t.committed for tp, t in trackers.items() if t.committed is not None}
        for tp in await forgotten_commits(self.consumer, ours):
            # The broker lost its state (a test broker restarted empty): our position belongs to
            # a log that is gone, and committing it would skip the new log's first records. The
            # run loop reads it again from the start, between two batches (not mid-dispatch).
            self.log.warning("partition_state_lost_by_broker", partition=f"{tp.topic}:{tp.partition}",
                             committed=trackers[tp].committed)
            del offsets[tp]
            self.lost_logs.add(tp)
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
        except CommitFailedError as exc:
            # The group moved on without us (a rebalance, or a coordinator that forgot the group,
            # as a wiped broker does). Positions from before must not be committed into the new
            # generation: stop committing until the next assignment; whatever was not committed
            # is redelivered, and the ledger skips what was done.
            self.commits_fenced = True
            self.log.warning("commit_failed", error=repr(exc), fenced=True)
            return
        except KafkaError as exc:
            for tracker in trackers.values():
                tracker.unconfirmed = True
            self.log.warning("commit_failed", error=repr(exc))
            return
        for tp, off in offsets.items():
            trackers[tp].committed = off


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


class _Rebalance(ConsumerRebalanceListener):
    """Commit what is done before partitions move; forget the ones we lost."""

    def __init__(self, worker: TargetWorker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: Any) -> None:
        w = self.worker
        w.revoked.update(revoked)  # their records not yet at the target are left for the next owner
        # Wait (bounded) for in-flight work of the revoked partitions, then commit it.
        mine = [t for t in list(w.tasks)]
        if mine:
            await asyncio.wait(mine, timeout=w.settings.kafka.session_timeout_ms / 2000)
        await w.commit(list(revoked))  # their trackers go at the next assignment

    async def on_partitions_assigned(self, assigned: Any) -> None:
        w = self.worker
        w.commits_fenced = False  # a new generation: its positions start from committed offsets
        # Every partition's tracking starts afresh: the assigned ones from their committed offsets,
        # and the ones we lost must not be committed (their stragglers finish into old trackers).
        w.offsets.clear()
        w.revoked.difference_update(assigned)
        if w.breaker.open:
            w.consumer.pause(*assigned)
        w.assigned.set()
        w.log.info("partitions_assigned", partitions=sorted(f"{t.topic}:{t.partition}" for t in assigned))


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
        flows = compile_flows(settings)
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
