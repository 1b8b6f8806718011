"""Dead-letter records: what the worker writes to `handover.deadletter.<target>`, read back."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.topics import deadletter_topic
from services.common.config import KafkaConfig
from services.ledger.deliveries import Deliveries


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic, with the headers the worker wrote."""

    target: str
    partition: int
    offset: int
    value: bytes
    headers: dict[str, str]
    timestamp: float
    status: str = "dead"  # "dead", or "replayed" once the ledger has the action delivered

    @property
    def id(self) -> str:
        """Stable id: target:partition:offset."""
        return f"{self.target}:{self.partition}:{self.offset}"

    @property
    def event_id(self) -> str:
        """The original event's id ('' for an undecodable record)."""
        return self.headers.get("event-id", "")

    @property
    def error(self) -> str:
        """Error class and message."""
        return f"{self.headers.get('error-class', '')}: {self.headers.get('error-message', '')}"

    @property
    def when(self) -> dt.datetime:
        """When it was dead-lettered."""
        return dt.datetime.fromtimestamp(self.timestamp, dt.UTC)


async def read_dead_letters(kafka: KafkaConfig, targets: Sequence[str]) -> list[DeadLetter]:
    """Every dead letter of these targets, oldest first per partition."""
    out: list[DeadLetter] = []
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False,
        fetch_max_wait_ms=kafka.fetch_max_wait_ms,
    )
    await consumer.start()
    try:
        # Every topic's partitions up front, in one metadata request: once the consumer is
        # assigned one topic, its metadata refreshes cover only that topic, so a later target's
        # partitions would look unknown and its dead letters would be skipped.
        cluster = await consumer._client.fetch_all_metadata()
        for name in targets:
            parts = cluster.partitions_for_topic(deadletter_topic(name)) or set()
            out += [dl async for dl in _read_topic(consumer, name, parts)]
    finally:
        await consumer.stop()
    return out


async def find_dead_letter(kafka: KafkaConfig, target: str, idempotency_key: str) -> DeadLetter | None:
    """The dead letter written for one action, if there is one (after a crash, before writing again)."""
    for dl in await read_dead_letters(kafka, [target]):
        if dl.headers.get("idempotency-key") == idempotency_key:
            return dl
    return None


async def restore_dead_letters(kafka: KafkaConfig, ledger: Deliveries, targets: Collection[str]) -> int:
    """Write again the dead letters the ledger kept a copy of that the topic no longer holds (the
    embedded broker starts empty after a restart), so they can be seen and replayed; how many.

    Every action not delivered since comes back: dead-lettered, or left mid-way (killed while
    writing its dead letter, stopped during a replay). Each keeps its time; one delivered
    meanwhile by another process stays delivered."""
    await ledger.forget_delivered_copies()
    kept = [c for c in await ledger.dead_letter_copies() if c.target in targets]
    if not kept:
        return 0
    letters = await read_dead_letters(kafka, sorted({c.target for c in kept}))
    there = {dl.headers.get("idempotency-key") for dl in letters}
    missing = [c for c in kept if c.key not in there]
    if not missing:
        return 0
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, client_id=f"{kafka.client_id}-deadletter",
                                acks="all")
    await producer.start()
    try:
        sent = [
            await producer.send(
                deadletter_topic(copy.target), value=copy.value, key=copy.record_key,
                headers=[(k, v.encode()) for k, v in copy.headers.items()],
                timestamp_ms=int(copy.written_at * 1000) or None,
            )
            for copy in missing
        ]
        for copy, meta in zip(missing, await asyncio.gather(*sent), strict=True):
            await ledger.dead_letter_restored(copy.key, meta.offset)
    finally:
        await producer.stop()
    return len(missing)


async def _read_topic(consumer: AIOKafkaConsumer, target: str, parts: set[int]) -> AsyncIterator[DeadLetter]:
    topic = deadletter_topic(target)
    tps = [TopicPartition(topic, p) for p in sorted(parts)]
    if not tps:
        return
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    # end_offsets() is wrong for multi-record batches on the test broker (BROKER_NOTES 2):
    # read until a fetch comes back empty and the position reached the highwater.
    done: set[TopicPartition] = set()
    deadline = time.monotonic() + 30
    while len(done) < len(tps) and time.monotonic() < deadline:
        batch = await consumer.getmany(*tps, timeout_ms=200)
        for records in batch.values():
            for r in records:
                yield DeadLetter(
                    target, r.partition, r.offset, r.value or b"",
                    {k: v.decode("utf-8", "replace") for k, v in (r.headers or [])}, r.timestamp / 1000,
                )
        for tp in tps:
            high = consumer.highwater(tp)
            if high is not None and await consumer.position(tp) >= high:
                done.add(tp)
