"""When the sync worker commits its offsets: every interval, and at once when its work is done."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer, TopicPartition

from schemas import ContactData, ContactSubmitted, Person, encode_event
from schemas.topics import event_topic
from services.common.embedded_broker import EmbeddedBroker
from tests.conftest import wait_for
from tests.sync.handover import start_sync
from tests.sync.target import TargetServer


async def test_a_drained_backlog_is_committed_at_once_not_a_commit_interval_later(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    target = TargetServer()
    await target.start()
    runtime, worker = await start_sync(broker, tmp_path, "commits", target, sync={"commit_interval_s": 3600})
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    await producer.start()
    try:
        assert runtime.sync is not None
        await runtime.sync.wait_assigned()
        now = dt.datetime.now(dt.UTC)
        events = [
            ContactSubmitted(id=f"commit-{uuid.uuid4()}", source="website", time=now, received_at=now,
                             subject=f"c{i}@example.nl", data=ContactData(contact=Person(email=f"c{i}@example.nl")))
            for i in range(20)
        ]
        ends: dict[TopicPartition, int] = {}
        for event in events:
            meta = await producer.send_and_wait(event_topic(event.type), encode_event(event),
                                                key=event.business_key.encode())
            tp = TopicPartition(meta.topic, meta.partition)
            ends[tp] = max(ends.get(tp, 0), meta.offset + 1)
        keys = {f"{e.id}:f:send" for e in events}
        await wait_for(lambda: target.delivered("commits", keys))

        async def committed_to_the_end() -> bool:
            found = [await worker.consumer.committed(tp) for tp in ends]
            return all((c or 0) >= end for c, end in zip(found, ends.values(), strict=True))

        # With a one-hour interval, only the "work in hand is done" commit can get there in time.
        await wait_for(committed_to_the_end, timeout=10)
    finally:
        await producer.stop()
        await runtime.stop()
        await target.close()
