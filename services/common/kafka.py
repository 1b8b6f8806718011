"""Kafka plumbing shared by the services: topic set-up, the publisher, consumer settings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, TopicAlreadyExistsError

from schemas import EVENT_TYPES, Event, encode_event
from schemas.topics import deadletter_topic, event_topic
from services.common.config import KafkaConfig, Settings
from services.common.errors import BrokerUnavailable, EventTooLarge

log = structlog.get_logger(__name__)


def all_topics(settings: Settings) -> list[str]:
    """Every topic Handover uses with this config: one per event type, one dead-letter per target."""
    return [event_topic(t) for t in EVENT_TYPES] + [deadletter_topic(t) for t in settings.targets]


async def ensure_topics(config: KafkaConfig, topics: Iterable[str]) -> None:
    """Create the topics that do not exist yet (idempotent; safe from several processes)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=config.bootstrap_servers, client_id=config.client_id)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            new = [
                NewTopic(t, num_partitions=config.partitions, replication_factor=config.replication_factor)
                for t in missing
            ]
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another process won the race
            log.info("topics_created", topics=missing, partitions=config.partitions)
    finally:
        await admin.close()


@dataclass(frozen=True)
class OutRecord:
    """One event as a Kafka record: what the gateway publishes, and the intake journal keeps."""

    event_id: str
    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def event_record(event: Event) -> OutRecord:
    """The record an event is published as: on its type's topic, keyed by its business key."""
    return OutRecord(
        event.id, event_topic(event.type), event.business_key.encode(), encode_event(event),
        (("event-id", event.id.encode()), ("event-type", event.type.encode())),
    )


class Doorbell:
    """Rung by this process's publisher after every acknowledged publish, so this process's
    consumers can stop fetching from an idle broker (which costs CPU at both ends: the test broker
    answers every fetch only after its full wait, BROKER_NOTES 1) and still start at once."""

    def __init__(self) -> None:
        self._bells: set[asyncio.Event] = set()

    def listen(self) -> asyncio.Event:
        """An event that is set whenever something was published (the listener clears it)."""
        bell = asyncio.Event()
        self._bells.add(bell)
        return bell

    def ring(self) -> None:
        """Wake every listener."""
        for bell in self._bells:
            bell.set()


class Dozer:
    """Pauses a consumer's partitions once nothing came for `idle_after_s`, until the doorbell
    rings or `poll_s` passes (records published by other processes wait at most that long)."""

    def __init__(self, consumer: AIOKafkaConsumer, doorbell: Doorbell | None, poll_s: float,
                 idle_after_s: float = 2.0) -> None:
        self.consumer = consumer
        self.bell = doorbell.listen() if doorbell is not None and poll_s > 0 else None
        self.idle_after_s = idle_after_s
        self.poll_s = poll_s
        self.last_busy = time.monotonic()

    async def after_fetch(self, got_records: bool, may_doze: bool = True) -> None:
        """Call after every fetch; dozes when idle long enough (and `may_doze`), then resumes."""
        now = time.monotonic()
        if got_records or self.bell is None or not may_doze:
            self.last_busy = now
            return
        if now - self.last_busy < self.idle_after_s:
            return
        paused = set(self.consumer.assignment())
        self.consumer.pause(*paused)
        try:
            async with asyncio.timeout(self.poll_s):
                await self.bell.wait()
        except TimeoutError:
            pass
        finally:
            self.bell.clear()
            self.consumer.resume(*(paused & self.consumer.assignment()))


class Publisher:
    """Publishes events: acks=all, idempotent producer, keyed by the business key."""

    def __init__(self, config: KafkaConfig, doorbell: Doorbell | None = None) -> None:
        self.config = config
        self.doorbell = doorbell
        self.producer = AIOKafkaProducer(
            bootstrap_servers=config.bootstrap_servers,
            client_id=f"{config.client_id}-gateway",
            acks="all",
            enable_idempotence=config.idempotence,
            linger_ms=0,
            max_request_size=config.max_record_bytes,
            request_timeout_ms=max(1000, int(config.publish_timeout_s * 1000)),
        )
        # After a failed publish the broker may have come back without our topics (a restarted
        # broker with memory storage, a wiped cluster): re-ensure them before the next send, so
        # they get the configured partition count instead of a broker's auto-create default.
        self._recheck_topics = False
        # Set while the embedded broker is known to be down (restarting): publishing fails at
        # once with this reason instead of waiting out the timeout.
        self.unavailable: str | None = None
        self.last_publish = 0.0  # time.monotonic() of the last acknowledged publish

    async def start(self) -> None:
        """Connect to the cluster."""
        await self.producer.start()

    async def stop(self) -> None:
        """Flush and disconnect."""
        await self.producer.stop()

    async def ready(self) -> str | None:
        """None when the cluster answers a metadata request within 2 s, else why not."""
        if self.unavailable:
            return f"kafka: {self.unavailable}"
        try:
            async with asyncio.timeout(2):
                await self.producer.client.fetch_all_metadata()
        except (TimeoutError, KafkaError) as exc:
            return f"kafka: no answer from {self.config.bootstrap_servers} ({type(exc).__name__})"
        return None

    async def publish(self, event: Event) -> None:
        """Send one event and wait for the broker's ack; BrokerUnavailable if none comes in time."""
        await self.publish_many([event])

    async def publish_many(self, events: list[Event]) -> None:
        """Send events concurrently and wait for every ack within the publish timeout."""
        await self.publish_records([event_record(e) for e in events])

    async def publish_records(self, records: Sequence[OutRecord]) -> None:
        """Send records concurrently and wait for every ack within the publish timeout.

        EventTooLarge (before anything is sent) when one is over `kafka.max_record_bytes`."""
        if self.unavailable:
            raise BrokerUnavailable(self.unavailable)
        for r in records:
            # Key, value and headers, plus the record batch's own overhead (~100 bytes).
            size = len(r.value) + len(r.key or b"") + sum(len(k) + len(v) for k, v in r.headers) + 128
            if size > self.config.max_record_bytes:
                raise EventTooLarge(size, self.config.max_record_bytes)
        futures = []
        try:
            async with asyncio.timeout(self.config.publish_timeout_s):
                if self._recheck_topics:
                    await ensure_topics(self.config, [event_topic(t) for t in EVENT_TYPES])
                    self._recheck_topics = False
                for r in records:
                    futures.append(await self.producer.send(r.topic, value=r.value, key=r.key, headers=list(r.headers)))
                if len(futures) == 1:
                    await futures[0]  # the usual webhook: one event, no gather
                else:
                    await asyncio.gather(*futures)
            self.last_publish = time.monotonic()
            if self.doorbell is not None:
                self.doorbell.ring()
        except MessageSizeTooLargeError as exc:  # the broker's limit is below ours
            for f in futures:
                f.cancel()
            raise EventTooLarge(sum(len(r.value) for r in records), self.config.max_record_bytes) from exc
        except (TimeoutError, KafkaError) as exc:
            for f in futures:
                f.cancel()
            self._recheck_topics = True
            raise BrokerUnavailable(f"Kafka did not acknowledge: {exc!r}") from exc


def consumer(config: KafkaConfig, group: str, **overrides: object) -> AIOKafkaConsumer:
    """A consumer with Handover's defaults: manual commits, earliest, short fetch wait."""
    options: dict[str, object] = {
        "bootstrap_servers": config.bootstrap_servers,
        "client_id": f"{config.client_id}-{group}",
        "group_id": group,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": config.fetch_max_wait_ms,
        "session_timeout_ms": config.session_timeout_ms,
        "heartbeat_interval_ms": config.heartbeat_interval_ms,
        "metadata_max_age_ms": config.metadata_max_age_ms,
        "max_poll_records": 500,
        **overrides,
    }
    return AIOKafkaConsumer(**options)  # type: ignore[arg-type]
