"""The keyed consumer: the transport loop the recorder and the sync workers share.

It fetches (`getmany`) and hands the records over, then takes care of everything Kafka asks of
a consumer that must never skip a record: which offsets are finished (services.sync.offsets),
commits below the first unfinished one only, rebalances, partitions whose log was made again or
whose commits the broker forgot (read again from their start), a target's pause, and dozing while
idle (services.common.kafka.Dozer). The handler knows nothing of groups, offsets or commits:

- `handle` (per record): records of one key (partition, record key) run in order, different keys
  concurrently, at most `in_hand` at once; the handler answers True once its record is finished.
- `handle_batch` (per fetch): the whole fetch at once; everything in it is finished on return.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from prometheus_client import Gauge

from services.common.kafka import Doorbell, Dozer
from services.sync.offsets import CommitClock, PartitionOffsets, forgotten_commits, recreated_logs, rewind

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
Handler = Callable[[Record], Awaitable[bool]]
BatchHandler = Callable[[list[Record]], Awaitable[None]]


class KeyedConsumer:
    """Fetches, hands over, and commits what its handler has finished."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        *,
        group: str,
        log: Any,
        commit_interval_s: float,
        poll_s: float,
        doorbell: Doorbell | None = None,
        handle: Handler | None = None,
        handle_batch: BatchHandler | None = None,
        fetch_timeout_ms: int = 100,
        max_records: int = 500,
        in_hand: int = 1000,
        commit_when_idle: bool = True,
        lag: Gauge | None = None,
        revoke_wait_s: float = 5.0,
        on_assigned: Callable[[Collection[TopicPartition]], None] | None = None,
    ) -> None:
        assert (handle is None) != (handle_batch is None), "one way of handing records over"
        self.consumer = consumer
        self.group = group
        self.log = log
        self.handle = handle
        self.handle_batch = handle_batch
        self.fetch_timeout_ms = fetch_timeout_ms
        self.max_records = max_records
        self.commit_when_idle = commit_when_idle  # a drained backlog is committed at once
        self.lag = lag
        self.on_assigned = on_assigned
        self.revoke_wait_s = revoke_wait_s  # how long a rebalance waits for the records in hand
        # Idle: stop fetching until something is published (or the poll interval passes).
        self.dozer = Dozer(consumer, doorbell, poll_s)
        self.offsets: dict[TopicPartition, PartitionOffsets] = {}
        self.commits_fenced = False  # after a failed commit, until the next assignment
        self.revoked: set[TopicPartition] = set()  # taken away by a rebalance, not assigned again
        self.lost_logs: set[TopicPartition] = set()  # the broker forgot their commits: read again
        self.commit_clock = CommitClock(commit_interval_s)
        self.commit_lock = asyncio.Lock()  # one commit at a time: a later one never goes back
        self.committing: asyncio.Task[None] | None = None  # the periodic commit, in the background
        self.key_tails: dict[tuple[TopicPartition, bytes | None], asyncio.Task[bool]] = {}
        self.in_hand = asyncio.Semaphore(in_hand)
        self.tasks: set[asyncio.Task[bool]] = set()
        self.paused = False  # the handler asked for a pause (a target's open breaker)
        self.stopping = False
        self.assigned = asyncio.Event()

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, topics: Sequence[str]) -> None:
        """Join the group on these topics."""
        self.consumer.subscribe(list(topics), listener=_Rebalance(self))
        await self.consumer.start()

    async def run(self) -> None:
        """Fetch and hand over until stopped; a surprise is logged and the loop goes on."""
        try:
            while not self.stopping:
                try:
                    await self.step()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a surprise must not stop consuming silently
                    self.log.error("consumer_step_failed", error=repr(exc))
                    await asyncio.sleep(1)
        finally:
            self.stopping = True
            if self.committing is not None:  # stop() commits what is done, after this
                self.committing.cancel()
                await asyncio.gather(self.committing, return_exceptions=True)

    async def step(self) -> None:
        """One fetch: hand it over, rewind re-made logs, commit when due, doze when idle."""
        batches = await self.consumer.getmany(timeout_ms=self.fetch_timeout_ms, max_records=self.max_records)
        if self.handle_batch is not None:
            await self._hand_batch(batches)
        else:
            for tp, records in batches.items():
                for record in records:
                    await self._dispatch(tp, record)
        await self._rewind_recreated_logs()
        # Commit every interval (and when the work in hand is done), in the background: fetching
        # and handling go on while the broker answers.
        idle = self.commit_when_idle and not batches and not self.tasks
        if (self.committing is None or self.committing.done()) and (self.commit_clock.due() or idle):
            self.committing = asyncio.create_task(self._commit_in_background())
        self.update_lag()
        await self.dozer.after_fetch(bool(batches) or bool(self.tasks), may_doze=not self.paused)

    async def stop(self, drain_s: float) -> None:
        """Let records in hand finish (up to `drain_s`), commit what is done, leave the group."""
        self.stopping = True
        if self.tasks:
            _, pending = await asyncio.wait(set(self.tasks), timeout=drain_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.commit()
        await self.consumer.stop()

    def still_ours(self, record: Record) -> bool:
        """False once a rebalance took the record's partition away (its next owner redoes it)."""
        return not self.revoked or TopicPartition(record.topic, record.partition) not in self.revoked

    def pause(self) -> None:
        """Stop fetching every partition (also ones assigned later) until `resume`."""
        self.paused = True
        self.consumer.pause(*self.consumer.assignment())

    def resume(self) -> None:
        """Fetch again."""
        self.paused = False
        self.consumer.resume(*self.consumer.assignment())

    def update_lag(self) -> None:
        """Set the lag gauge: highwater minus the first unfinished offset, summed.

        From `highwater()` (the fetch answer), not `end_offsets()`, which the test broker gets
        wrong for multi-record batches (BROKER_NOTES 2).
        """
        if self.lag is None:
            return
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
        self.lag.labels(self.group).set(lag)

    # --- handing over ------------------------------------------------------------------------

    def _tracker(self, tp: TopicPartition, offset: int) -> PartitionOffsets:
        """The partition's tracker, with `offset` started."""
        offsets = self.offsets.get(tp)
        if offsets is None or (offsets.highest_started is not None and offset <= offsets.highest_started):
            # Offsets only grow within a log; a smaller one means the topic was deleted and made
            # again (a wiped broker). Track it afresh, or the commit would carry the old log's
            # position past records of the new one.
            if offsets is not None:
                self.log.warning("partition_offsets_went_back", partition=f"{tp.topic}:{tp.partition}",
                                 offset=offset, before=offsets.highest_started)
            offsets = self.offsets[tp] = PartitionOffsets()
        offsets.started(offset)
        return offsets

    async def _hand_batch(self, batches: dict[TopicPartition, list[Record]]) -> None:
        assert self.handle_batch is not None
        started = [(self._tracker(tp, r.offset), r.offset) for tp, records in batches.items() for r in records]
        if not started:
            return
        await self.handle_batch([r for records in batches.values() for r in records])
        for tracker, offset in started:
            tracker.finished(offset)

    async def _dispatch(self, tp: TopicPartition, record: Record) -> None:
        await self.in_hand.acquire()
        tracker = self._tracker(tp, record.offset)
        tail = (tp, record.key)
        task = asyncio.create_task(self._process(record, self.key_tails.get(tail), tracker))
        self.key_tails[tail] = task
        self.tasks.add(task)
        task.add_done_callback(functools.partial(self._done, tail))

    def _done(self, tail: tuple[TopicPartition, bytes | None], task: asyncio.Task[bool]) -> None:
        if self.key_tails.get(tail) is task:  # the key's last record is done: forget the key
            del self.key_tails[tail]
        self.tasks.discard(task)
        self.in_hand.release()
        if not task.cancelled() and task.exception() is not None:
            self.log.error("worker_task_failed", error=repr(task.exception()))

    async def _process(self, record: Record, previous: asyncio.Task[bool] | None, tracker: PartitionOffsets) -> bool:
        """Hand one record over after the previous one of its key; True once it is finished."""
        assert self.handle is not None
        if previous is not None:
            if not previous.done():
                await asyncio.wait([previous])  # per-key order; its outcome is its own business
            if previous.cancelled() or previous.exception() is not None or not previous.result():
                return False  # the earlier one was abandoned: keep the key's order, leave this too
        try:
            finished = await self.handle(record)
        except asyncio.CancelledError:
            return False  # stopping: unfinished, redelivered (and deduped) next time
        # Only a finished record counts: a cancelled or failing one must never let the commit
        # pass its offset.
        if finished:
            tracker.finished(record.offset)
        return finished

    async def _rewind_recreated_logs(self) -> None:
        """Read a partition whose log was made again, or whose commits the broker forgot, from
        its start (whatever is read twice, the handler's ledger skips)."""
        lost, self.lost_logs = self.lost_logs, set()
        for tp, position, high in await recreated_logs(self.consumer):
            self.log.warning("partition_log_recreated", partition=f"{tp.topic}:{tp.partition}",
                             position=position, log_end=high)
            lost.add(tp)
        for tp in lost:
            if await rewind(self.consumer, tp):
                self.offsets[tp] = PartitionOffsets()

    # --- commits -----------------------------------------------------------------------------

    async def commit(self, partitions: Collection[TopicPartition] | None = None) -> None:
        """Commit, per partition, every offset below the first unfinished one."""
        async with self.commit_lock:
            await self._commit(partitions)

    async def _commit_in_background(self) -> None:
        try:
            await self.commit()
        except Exception as exc:  # noqa: BLE001 - the next one tries again; nothing is lost
            self.log.warning("commit_failed", error=repr(exc))

    async def _commit(self, partitions: Collection[TopicPartition] | None) -> None:
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
            # run loop reads it again from the start, between two fetches (not mid-dispatch).
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
            # is redelivered, and the handler's ledger skips what was done.
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


class _Rebalance(ConsumerRebalanceListener):
    """Commit what is done before partitions move; forget the ones we lost."""

    def __init__(self, feed: KeyedConsumer) -> None:
        self.feed = feed

    async def on_partitions_revoked(self, revoked: Any) -> None:
        f = self.feed
        f.revoked.update(revoked)  # their records not yet handled are left for the next owner
        # Wait (bounded) for the records in hand, then commit what of the revoked ones is done.
        if f.tasks:
            await asyncio.wait(list(f.tasks), timeout=f.revoke_wait_s)
        await f.commit(list(revoked))  # their trackers go at the next assignment

    async def on_partitions_assigned(self, assigned: Any) -> None:
        f = self.feed
        f.commits_fenced = False  # a new generation: its positions start from committed offsets
        # Every partition's tracking starts afresh: the assigned ones from their committed offsets,
        # and the ones we lost must not be committed (their stragglers finish into old trackers).
        f.offsets.clear()
        f.revoked.difference_update(assigned)
        if f.paused:
            f.consumer.pause(*assigned)
        f.assigned.set()
        if f.on_assigned is not None:
            f.on_assigned(assigned)

