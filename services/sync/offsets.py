"""Which offsets of a partition are safe to commit: everything below the first unfinished one;
and how a consumer notices that the broker lost a partition's log or its commits (a test broker
restarted empty), so that an old position never skips the new log's records."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError


class PartitionOffsets:
    """Offsets of one partition handed out (in order) and not yet finished."""

    def __init__(self) -> None:
        self.pending: set[int] = set()
        self.highest_started: int | None = None
        self.committed: int | None = None
        # A commit failed: until a new record shows the log goes on, commit nothing (the broker
        # may have come back without this log, and an old position would skip the new records).
        self.unconfirmed = False

    def started(self, offset: int) -> None:
        """An offset was handed out for processing (offsets arrive in increasing order)."""
        self.pending.add(offset)
        self.highest_started = offset
        self.unconfirmed = False

    def finished(self, offset: int) -> None:
        """An offset's work is done: delivered, skipped, or dead-lettered."""
        self.pending.discard(offset)

    def first_unfinished(self) -> int | None:
        """The lowest offset not done yet (last started + 1 when all are); None before any."""
        if self.highest_started is None:
            return None
        return min(self.pending) if self.pending else self.highest_started + 1

    def commit_offset(self) -> int | None:
        """The offset to commit now (first unfinished, or last started + 1); None if unchanged."""
        if self.highest_started is None or self.unconfirmed:
            return None
        safe = min(self.pending) if self.pending else self.highest_started + 1
        return None if safe == self.committed else safe


class CommitClock:
    """Says when the next periodic commit is due: every `interval_s`, the first one interval_s
    after it is made."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.next_at = time.monotonic() + interval_s

    def due(self) -> bool:
        """True once per interval; the caller commits then."""
        now = time.monotonic()
        if now < self.next_at:
            return False
        self.next_at = now + self.interval_s
        return True


async def recreated_logs(consumer: AIOKafkaConsumer) -> list[tuple[TopicPartition, int, int]]:
    """(partition, position, log end) of assigned partitions whose log end fell below our
    position: deleted and made again (a broker that lost its data). Kafka would answer their
    fetch with OFFSET_OUT_OF_RANGE; a broker that stays silent instead would let the new records
    below our position go unread. Partitions revoked meanwhile are left out."""
    out = []
    for tp in list(consumer.assignment()):
        if tp not in consumer.assignment():
            continue  # revoked while we waited for an earlier one's position
        high = consumer.highwater(tp)
        if high is None:
            continue
        try:
            position = await consumer.position(tp)
        except (KafkaError, IllegalStateError):
            continue
        if position > high:
            out.append((tp, position, high))
    return out


async def rewind(consumer: AIOKafkaConsumer, tp: TopicPartition) -> bool:
    """Read a partition again from its start; False when it is no longer ours (revoked)."""
    try:
        await consumer.seek_to_beginning(tp)
    except IllegalStateError:
        return False
    return True


async def forgotten_commits(consumer: AIOKafkaConsumer, ours: dict[TopicPartition, int]) -> list[TopicPartition]:
    """Partitions whose last commit (`ours`) the broker no longer has: only we commit them while
    we hold them, so anything less means the broker forgot, and our position is from a log
    that is gone."""
    if not ours:
        return []
    known = list(ours)
    try:
        found = await asyncio.gather(*(consumer.committed(tp) for tp in known))
    except KafkaError:
        return []  # cannot tell now; the commit that follows fails the same way
    return [tp for tp, c in zip(known, found, strict=True) if c is None or c < ours[tp]]
