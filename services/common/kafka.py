"""Kafka plumbing shared by the services: topic set-up, the publisher, consumer settings."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

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


class Publisher:
    """Publishes events: acks=all, idempotent producer, keyed by the business key."""

    def __init__(self, config: KafkaConfig) -> None:
        self.config = config
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

    async def start(self) -> None:
        """Connect to the cluster."""
        await self.producer.start()

    async def stop(self) -> None:
        """Flush and disconnect."""
        await self.producer.stop()

    async def ready(self) -> str | None:
        """None when the cluster answers a metadata request within 2 s, else why not."""
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
        """Send events concurrently and wait for every ack within the publish timeout.

        EventTooLarge (before anything is sent) when one is over `kafka.max_record_bytes`."""
        records = [(event, encode_event(event), event.business_key.encode()) for event in events]
        for event, value, key in records:
            # Key, value and headers, plus the record batch's own overhead (~100 bytes).
            size = len(value) + len(key) + len(event.id) + len(event.type) + 128
            if size > self.config.max_record_bytes:
                raise EventTooLarge(size, self.config.max_record_bytes)
        futures = []
        try:
            async with asyncio.timeout(self.config.publish_timeout_s):
                if self._recheck_topics:
                    await ensure_topics(self.config, [event_topic(t) for t in EVENT_TYPES])
                    self._recheck_topics = False
                for event, value, key in records:
                    futures.append(
                        await self.producer.send(
                            event_topic(event.type),
                            value=value,
                            key=key,
                            headers=[("event-id", event.id.encode()), ("event-type", event.type.encode())],
                        )
                    )
                if len(futures) == 1:
                    await futures[0]  # the usual webhook: one event, no gather
                else:
                    await asyncio.gather(*futures)
        except MessageSizeTooLargeError as exc:  # the broker's limit is below ours
            for f in futures:
                f.cancel()
            raise EventTooLarge(sum(len(v) for _, v, _ in records), self.config.max_record_bytes) from exc
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
