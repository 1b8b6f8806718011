"""Reproduces the embedded test broker (Tansu 0.6, memory storage) losing acknowledged records.

Several producers (separate connections) write at the same moment to a partition that has
never been written to. Now and then the broker acknowledges every write, with distinct offsets,
but keeps fewer records than it acknowledged; its log shows `AlreadyExists` storage errors for
`records/00000000000000000000.batch` at the same time. A second write into a partition that
already has records has not lost anything here.

This is why the broker-outage chaos phase (the broker restarts empty, and the first writes after
it land in fresh partitions) sometimes reports "accepted event ... is not in Kafka": the gateway
answered 2xx only after the broker's ack, and the broker then did not keep the record.
Apache Kafka does not do this. Plain aiokafka, no Handover code:

    .venv/bin/python -m tests.chaos.repro_broker_fresh_partition --rounds 300

prints how many acknowledged records were lost (seen here: 0-2 per 100 rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.common.embedded_broker import EmbeddedBroker


async def main() -> None:
    """Create a fresh topic per round, write to it from several producers at once, count."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--producers", type=int, default=4)
    args = ap.parse_args()
    broker = EmbeddedBroker()
    broker.start()
    bootstrap = broker.bootstrap_servers
    producers = [AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
                 for _ in range(args.producers)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10)
    acked_total = lost_total = rounds_losing = 0
    try:
        for p in producers:
            await p.start()
        await admin.start()
        await consumer.start()
        for n in range(args.rounds):
            topic = f"fresh-{n}"
            await admin.create_topics([NewTopic(topic, 1, 1)])
            for p in producers:
                await p.client.force_metadata_update()
            acks = await asyncio.gather(*(p.send_and_wait(topic, f"v{i}".encode(), partition=0)
                                          for i, p in enumerate(producers)), return_exceptions=True)
            acked = [a for a in acks if not isinstance(a, BaseException)]
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            kept: list[bytes] = []
            deadline = time.monotonic() + 1.0
            while len(kept) < len(acked) and time.monotonic() < deadline:
                batch = await consumer.getmany(tp, timeout_ms=50)
                kept += [r.value for r in batch.get(tp, []) if r.value is not None]
            lost = len(acked) - len(kept)
            acked_total += len(acked)
            if lost > 0:
                lost_total += lost
                rounds_losing += 1
                print(f"round {n}: acknowledged offsets {sorted(a.offset for a in acked)}, kept {kept}", flush=True)
    finally:
        await consumer.stop()
        await admin.close()
        for p in producers:
            await p.stop()
        broker.stop()
    print(f"{args.rounds} rounds, {acked_total} writes acknowledged, {lost_total} of them lost "
          f"({rounds_losing} rounds lost some)")


if __name__ == "__main__":
    asyncio.run(main())
