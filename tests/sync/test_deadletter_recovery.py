"""A sync process that dies while writing a dead letter: the next owner writes it once, never twice."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka.structs import ConsumerRecord

from schemas import ContactData, ContactSubmitted, Person, encode_event
from schemas.topics import deadletter_topic, event_topic
from services.common.embedded_broker import EmbeddedBroker
from services.common.kafka import ensure_topics
from services.flows.compile import idempotency_key
from services.flows.context import event_context
from services.runtime import Runtime
from services.sync.deadletters import read_dead_letters
from services.sync.runner import TargetWorker
from tests.sync.handover import start_sync
from tests.sync.target import TargetServer

TARGET = "dlq_recovery"


@pytest.fixture(scope="module")
async def world(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Runtime, TargetWorker, TargetServer]]:
    """A sync worker for one HTTP target that refuses every request with a 400."""
    target = TargetServer()
    await target.start()
    target.rule(TARGET).fail, target.rule(TARGET).fail_status = -1, 400
    runtime, worker = await start_sync(broker, tmp_path_factory.mktemp("dlq"), TARGET, target)
    yield runtime, worker, target
    await runtime.stop()
    await target.close()


def make_record(offset: int) -> tuple[ContactSubmitted, ConsumerRecord[bytes, bytes]]:
    """An event as the worker would have fetched it (a poison one: the target refuses it)."""
    event = ContactSubmitted(
        id=f"dlq-{uuid.uuid4()}", source="website", time=dt.datetime.now(dt.UTC),
        data=ContactData(contact=Person(email="x@example.com")),
    )
    value = encode_event(event)
    record = ConsumerRecord(event_topic(event.type), 0, offset, 0, 0, b"x@example.com", value, None, 13,
                            len(value), ())
    return event, record


async def dead_letters_for(runtime: Runtime, key: str) -> int:
    letters = await read_dead_letters(runtime.settings.kafka, [TARGET])
    return sum(dl.headers.get("idempotency-key") == key for dl in letters)


async def deliver(worker: TargetWorker, event: ContactSubmitted, record: ConsumerRecord[bytes, bytes]) -> str:
    [(flow, [action])] = [(f, list(a)) for f, a in worker.flows]
    outcome = await worker.deliver(event, event_context(event), flow, action, record=record)
    return outcome.status


async def test_a_dead_letter_written_before_the_crash_is_not_written_again(
    world: tuple[Runtime, TargetWorker, TargetServer],
) -> None:
    runtime, worker, _ = world
    ledger = runtime.ledger
    assert ledger is not None
    event, record = make_record(1_000_001)
    key = idempotency_key(event, "f", "send")
    assert await deliver(worker, event, record) == "deadlettered"
    assert await dead_letters_for(runtime, key) == 1
    # The process died after the dead letter was acknowledged, before the ledger heard of it.
    await ledger.db.execute("UPDATE deliveries SET status = 'deadlettering' WHERE key = $1", key)
    # The record comes again (its offset was never committed): it is found, not written twice.
    assert await deliver(worker, event, record) == "deadlettered"
    assert await dead_letters_for(runtime, key) == 1
    row = await ledger.delivery(key)
    assert row is not None and row.status == "deadlettered" and row.dlq_offset is not None


async def test_a_dead_letter_lost_in_the_crash_is_written_once(
    world: tuple[Runtime, TargetWorker, TargetServer],
) -> None:
    runtime, worker, _ = world
    ledger = runtime.ledger
    assert ledger is not None
    event, record = make_record(1_000_002)
    key = idempotency_key(event, "f", "send")
    await ledger.deliveries.begin(key, event, TARGET, "f", "send", "key")
    await ledger.deliveries.deadlettering(key)  # died before the dead letter reached Kafka
    assert await dead_letters_for(runtime, key) == 0
    assert await deliver(worker, event, record) == "deadlettered"
    assert await dead_letters_for(runtime, key) == 1


async def test_an_event_its_flow_condition_fails_on_gets_one_dead_letter_also_when_redelivered(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    # `contact.email > 5` compares text with a number: the condition cannot be evaluated, the
    # action is dead-lettered (nothing sent). Read again after a crash, it is not lettered twice.
    target = TargetServer()
    await target.start()
    name = f"cond_{uuid.uuid4().hex[:6]}"
    runtime, worker = await start_sync(broker, tmp_path, name, target, condition="contact.email > 5")
    try:
        event, record = make_record(0)
        key = idempotency_key(event, "f", "send")
        await worker._handle(record)
        await worker._handle(record)  # the same record again, as after a crash before the commit
        letters = await read_dead_letters(runtime.settings.kafka, [name])
        mine = [dl for dl in letters if dl.headers.get("idempotency-key") == key]
        assert len(mine) == 1 and "could not be evaluated" in mine[0].headers["error-message"]
        assert all(name not in path for path, _ in target.arrived)  # nothing was sent
        ledger = runtime.ledger
        assert ledger is not None
        [row] = [r for r in await ledger.all_deliveries(name) if r.key == key]
        assert row.status == "deadlettered"
    finally:
        await runtime.stop()
        await target.close()


async def test_the_dead_letters_of_several_targets_are_all_read_also_behind_an_empty_one(
    world: tuple[Runtime, TargetWorker, TargetServer],
) -> None:
    # The dead-letter page asks for every target at once; a target with no dead letters (an
    # empty topic, or none yet) listed first must not hide the others'.
    runtime, worker, _ = world
    event, record = make_record(1_000_003)
    key = idempotency_key(event, "f", "send")
    assert await deliver(worker, event, record) == "deadlettered"
    empty, missing = f"dlq_empty_{uuid.uuid4().hex[:6]}", f"dlq_missing_{uuid.uuid4().hex[:6]}"
    await ensure_topics(runtime.settings.kafka, [deadletter_topic(empty)])
    for targets in ([empty, TARGET], [missing, empty, TARGET], [TARGET, empty]):
        letters = await read_dead_letters(runtime.settings.kafka, targets)
        assert [dl.target for dl in letters if dl.headers.get("idempotency-key") == key] == [TARGET], targets
        assert {dl.target for dl in letters} == {TARGET}
