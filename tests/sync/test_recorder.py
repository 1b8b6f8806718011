"""The recorder's offsets: committed only for what reached the ledger, and when it stops."""

from __future__ import annotations

from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.topics import RECORDER_GROUP, event_topic
from services.common.embedded_broker import EmbeddedBroker
from services.common.kafka import Publisher, ensure_topics
from services.common.metrics import Metrics
from services.ledger.store import open_ledger
from services.sync.recorder import Recorder
from tests.config import QUICK_REBALANCE, make_settings
from tests.conftest import TopicWatcher, wait_for
from tests.sync.test_faults import customer


async def test_a_stopping_recorder_commits_everything_it_recorded(broker: EmbeddedBroker, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, broker.bootstrap_servers, kafka=QUICK_REBALANCE,
                             sync={"commit_interval_s": 3600})  # no periodic commit: only the one on stop counts
    topic = event_topic("customer.created")
    await ensure_topics(settings.kafka, [topic])
    watcher = TopicWatcher(broker.bootstrap_servers, [topic])
    await watcher.start()
    ledger = await open_ledger(settings.ledger.url)
    recorder = Recorder(settings, ledger.events, Metrics())
    publisher = Publisher(settings.kafka)
    await publisher.start()
    try:
        await recorder.start()
        await wait_for(recorder.assigned.is_set)
        events = [customer("trec", i) for i in range(9)]
        await publisher.publish_many(events)

        async def recorded() -> bool:
            return all([await ledger.event(e.id) is not None for e in events])

        await wait_for(recorded)
        ids = {e.id.encode() for e in events}
        await wait_for(lambda: len([r for r in watcher.records if dict(r.headers).get("event-id") in ids]) == 9)
        ours = [r for r in watcher.records if dict(r.headers).get("event-id") in ids]
        await recorder.stop()
    finally:
        await publisher.stop()
        await watcher.stop()
        await ledger.close()
    reader = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap_servers, group_id=RECORDER_GROUP,
                              enable_auto_commit=False)
    await reader.start()
    try:
        for record in ours:
            committed = await reader.committed(TopicPartition(record.topic, record.partition))
            assert committed is not None and committed > record.offset, (record.partition, record.offset, committed)
    finally:
        await reader.stop()
