"""Exactly once against vendor APIs without idempotency keys, on the real broker and ledger.

The Moneybird, HubSpot and Pipedrive fakes do the work and then lose the answer (late, a reset
connection, a 5xx); every case ends in one effect at the vendor, counted there by its business
key (invoice reference, task or activity marker), or in one ambiguous dead letter, never two.
"""

from __future__ import annotations

import datetime as dt
import signal
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiokafka.structs import ConsumerRecord

from schemas import AnyEvent, ContactSubmitted, OrderCreated, Person, encode_event
from schemas.topics import event_topic
from services.assembly import parse_settings
from services.common.embedded_broker import EmbeddedBroker
from services.common.kafka import Publisher
from services.flows.context import event_context
from services.ledger.store import SqlLedger, open_ledger
from services.runtime import Parts, Runtime
from services.sync.connectors import connector_kinds
from services.sync.connectors.base import ConnectorContext, marker_line
from services.sync.connectors.hubspot import task_token
from services.sync.deadletters import DeadLetter
from services.sync.replay import Replayer
from services.sync.runner import TargetWorker
from tests.config import QUICK_REBALANCE, action, config_toml, flow
from tests.conftest import wait_for
from tests.sync.conftest import MemoryIdMap, contact_event, make_request, order_event
from tests.sync.fakes.hubspot import FakeHubspot
from tests.sync.fakes.moneybird import FakeMoneybird
from tests.sync.fakes.pipedrive import FakePipedrive
from tests.sync.test_faults import SyncProcess

BOOKS, CRM, PD = "eo-books", "eo-crm", "eo-pd"
TAX = {"21": "400000000000000021", "9": "400000000000000009"}
SYNC = {"max_attempts": 6, "backoff_initial_s": 0.05, "backoff_max_s": 0.3, "delivery_timeout_s": 1,
        "concurrency": 8, "breaker_threshold": 100, "breaker_probe_s": 1}


def vendors_config(data_dir: Path, bootstrap: str, mb: str, hs: str, pd_url: str, books: str = BOOKS, crm: str = CRM,
           pd: str = PD, log_level: str = "warning") -> str:
    """An invoice in Moneybird for every order, a HubSpot task and a Pipedrive activity for every form."""
    return config_toml(
        data_dir, bootstrap, kafka=QUICK_REBALANCE, logging={"level": log_level}, sync=SYNC,
        targets={
            books: {"kind": "moneybird", "administration_id": "123456789012345678", "base_url": f"{mb}/api/v2",
                    "secret": "test-token", "tax_rates": TAX},
            crm: {"kind": "hubspot", "base_url": hs, "secret": "test-token"},
            pd: {"kind": "pipedrive", "base_url": pd_url, "secret": "test-token"},
        },
        flows=[
            flow("invoice", "order.created", action(books, "create_sales_invoice")),
            flow("task", "contact.submitted", action(crm, "create_task")),
            flow("activity", "contact.submitted", action(pd, "create_activity")),
        ],
    )


@dataclass
class World:
    """One running sync service with the three vendor fakes as its targets."""

    runtime: Runtime
    moneybird: FakeMoneybird
    hubspot: FakeHubspot
    pipedrive: FakePipedrive
    publisher: Publisher
    tmp: Path

    @property
    def ledger(self) -> SqlLedger:
        """The ledger the workers write."""
        assert isinstance(self.runtime.ledger, SqlLedger)
        return self.runtime.ledger

    def worker(self, target: str) -> TargetWorker:
        """One target's worker."""
        assert self.runtime.sync is not None
        return next(w for w in self.runtime.sync.workers if w.target == target)

    def ambiguous(self, target: str) -> float:
        """handover_delivery_ambiguous_total of a target."""
        registry = self.runtime.metrics.registry
        return registry.get_sample_value("handover_delivery_ambiguous_total", {"target": target}) or 0.0

    async def status(self, key: str) -> tuple[str, str]:
        """(status, external id) of one delivery ('' when it has no row yet)."""
        row = await self.ledger.delivery(key)
        return (row.status, row.external_id) if row else ("", "")

    async def dead_letters(self, target: str, event_id: str) -> list[DeadLetter]:
        """The dead letters of one event at one target."""
        replayer = Replayer(self.runtime.settings, self.ledger)
        try:
            return [dl for dl in await replayer.read(target) if dl.event_id == event_id]
        finally:
            await replayer.close()


@pytest.fixture(scope="module")
async def world(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """Fakes, a sync service delivering to them, and a publisher."""
    fakes = FakeMoneybird(), FakeHubspot(), FakePipedrive()
    for fake in fakes:
        await fake.start()
    mb, hs, pd = fakes
    tmp = tmp_path_factory.mktemp("exactly-once")
    text = vendors_config(tmp, broker.bootstrap_servers, mb.url, hs.url, pd.url)
    runtime = Runtime(parse_settings(text, env={}), Parts(gateway=False, web=False, sync=True, recorder=False))
    await runtime.start()
    assert runtime.sync is not None
    await runtime.sync.wait_assigned()
    for worker in runtime.sync.workers:
        # The fakes' searches see a record at once: no index lag to wait out.
        worker.connector.reconcile_after_s = 0.0
    publisher = Publisher(runtime.settings.kafka)
    await publisher.start()
    yield World(runtime, mb, hs, pd, publisher, tmp)
    await publisher.stop()
    await runtime.stop()
    for fake in fakes:
        await fake.close()


def order(buyer: str | None = None, number: str | None = None) -> OrderCreated:
    """An order of a buyer (customer_id), keyed by its own order number (its partition)."""
    tag = uuid.uuid4().hex[:8]
    number = number or f"#eo-{tag}"
    customer = Person(email=f"{buyer or tag}@example.nl", first_name="Zoë", last_name="Ørsted",
                      external_id=buyer or f"cust-{tag}")
    event = order_event(event_id=f"eo-order-{tag}", order_number=number, customer=customer)
    now = dt.datetime.now(dt.UTC)
    return msgspec.structs.replace(event, subject=number, received_at=now)


def contact() -> ContactSubmitted:
    """A contact form submission from a new e-mail address."""
    tag = uuid.uuid4().hex[:8]
    event = contact_event(email=f"eo-{tag}@example.nl", event_id=f"eo-contact-{tag}")
    return msgspec.structs.replace(event, received_at=dt.datetime.now(dt.UTC))


def invoice_key(event: AnyEvent) -> str:
    """The idempotency key of an order's invoice."""
    return f"{event.id}:invoice:create_sales_invoice"


@pytest.mark.parametrize("fault", ["late", "reset", "error"])
async def test_an_invoice_stored_but_never_answered_is_found_not_made_twice(world: World, fault: str) -> None:
    mb = world.moneybird
    event = order()
    reference = event.data.order_number
    mb.fault_after(fault, "POST", "/sales_invoices.json")
    lookups_before = len(mb.calls("GET", "/sales_invoices.json"))
    await world.publisher.publish_many([event])
    status, external_id = await wait_for(
        lambda: _delivered(world, invoice_key(event)), timeout=30)
    assert status == "delivered"
    [invoice] = mb.invoices_with(reference)  # one effect, and it is the one recorded
    assert external_id == invoice["id"]
    assert len([c for c in mb.calls("POST", "/sales_invoices.json")
                if c.json["sales_invoice"]["reference"] == reference]) == 1  # never sent twice
    # The lookup asked Moneybird in its documented filter syntax: this contact's invoices of
    # the invoice date with this reference, every state.
    lookups = mb.calls("GET", "/sales_invoices.json")[lookups_before:]
    assert lookups, "no lookup before deciding"
    filters = dict(part.split(":", 1) for part in lookups[0].query["filter"].split(","))
    assert filters == {"period": "20260114..20260116", "state": "all", "contact_id": invoice["contact_id"],
                       "reference": reference}
    assert lookups[0].query["per_page"] == "100"


async def _delivered(world: World, key: str) -> tuple[str, str] | None:
    status, external_id = await world.status(key)
    return (status, external_id) if status in ("delivered", "deadlettered") else None


async def test_a_hubspot_task_answered_after_the_timeout_is_found_by_its_marker(world: World) -> None:
    hs = world.hubspot
    event = contact()
    key = f"{event.id}:task:create_task"
    hs.fault_after("late", "POST", "/crm/v3/objects/tasks")
    searches_before = len(hs.calls("POST", "/tasks/search"))
    await world.publisher.publish_many([event])
    status, external_id = await wait_for(lambda: _delivered(world, key), timeout=30)
    [task] = hs.tasks_with(task_token(key))
    assert (status, external_id) == ("delivered", task["id"])
    assert task["properties"]["hs_task_body"].endswith(f"Handover ref {task_token(key)}")
    [search] = hs.calls("POST", "/tasks/search")[searches_before:]
    assert search.json == {
        "filterGroups": [{"filters": [
            {"propertyName": "hs_task_body", "operator": "CONTAINS_TOKEN", "value": task_token(key)}]}],
        "properties": ["hs_task_body", "hs_task_subject"],
        "limit": 10,
    }


async def test_a_pipedrive_activity_whose_connection_dropped_is_found_among_its_persons_activities(
    world: World,
) -> None:
    pd = world.pipedrive
    event = contact()
    key = f"{event.id}:activity:create_activity"
    pd.fault_after("reset", "POST", "/api/v2/activities")
    lists_before = len(pd.calls("GET", "/api/v2/activities"))
    await world.publisher.publish_many([event])
    status, external_id = await wait_for(lambda: _delivered(world, key), timeout=30)
    [activity] = pd.activities_with(marker_line(key))
    assert (status, external_id) == ("delivered", str(activity["id"]))
    assert len(pd.persons_with(event.data.contact.email)) == 1
    [listing] = pd.calls("GET", "/api/v2/activities")[lists_before:]
    assert listing.query == {"person_id": str(activity["person_id"]), "limit": "500"}


async def test_a_person_created_but_answered_with_a_5xx_is_not_created_again(world: World) -> None:
    pd = world.pipedrive
    event = contact()
    key = f"{event.id}:activity:create_activity"
    pd.fault_after("error", "POST", "/api/v2/persons", status=502)
    await world.publisher.publish_many([event])
    status, _ = await wait_for(lambda: _delivered(world, key), timeout=30)
    assert status == "delivered"
    assert len(pd.persons_with(event.data.contact.email)) == 1
    assert len(pd.activities_with(marker_line(key))) == 1


async def test_a_vendor_that_cannot_answer_the_lookup_gets_an_ambiguous_dead_letter_and_replay_creates_nothing_twice(
    world: World,
) -> None:
    mb = world.moneybird
    event = order()
    key, reference = invoice_key(event), event.data.order_number
    before = world.ambiguous(BOOKS)
    mb.fault_after("late", "POST", "/sales_invoices.json")
    mb.fail_lookups = True  # the invoice list answers 500 from now on
    try:
        await world.publisher.publish_many([event])
        status, _ = await wait_for(lambda: _delivered(world, key), timeout=30)
    finally:
        mb.fail_lookups = False
    assert status == "deadlettered"
    assert len(mb.invoices_with(reference)) == 1  # stored once, never posted again
    assert world.ambiguous(BOOKS) == before + 1
    [dl] = await wait_for(lambda: world.dead_letters(BOOKS, event.id))
    message = dl.headers["error-message"]
    assert dl.headers["error-class"] == "Ambiguous"
    assert f"reference {reference!r}" in message and "customer id" in message  # what to check
    assert "replay looks it up again first" in message.lower()
    # The owner replays once Moneybird answers again: the invoice is found, not made twice.
    replayer = Replayer(world.runtime.settings, world.ledger)
    try:
        outcome = await replayer.replay(dl)
        again = await replayer.replay(dl)
    finally:
        await replayer.close()
    [invoice] = mb.invoices_with(reference)
    assert (outcome.status, outcome.detail) == ("delivered", invoice["id"])
    assert again.status == "already_delivered"
    assert await world.status(key) == ("delivered", invoice["id"])


async def test_replaying_an_ambiguous_dead_letter_creates_it_when_the_vendor_says_it_is_not_there(
    world: World,
) -> None:
    mb = world.moneybird
    event = order()
    key, reference = invoice_key(event), event.data.order_number
    mb.fail_path("POST", "/sales_invoices.json", 1, 503)  # refused before anything was stored
    mb.fail_lookups = True
    try:
        await world.publisher.publish_many([event])
        status, _ = await wait_for(lambda: _delivered(world, key), timeout=30)
        [dl] = await wait_for(lambda: world.dead_letters(BOOKS, event.id))
    finally:
        mb.fail_lookups = False
    assert status == "deadlettered" and dl.headers["error-class"] == "Ambiguous"
    assert mb.invoices_with(reference) == []
    replayer = Replayer(world.runtime.settings, world.ledger)
    try:
        outcome = await replayer.replay(dl)
    finally:
        await replayer.close()
    [invoice] = mb.invoices_with(reference)
    assert (outcome.status, outcome.detail) == ("delivered", invoice["id"])


async def deliver_live(worker: Any, event: Any) -> Any:
    """Deliver the worker's one action of `event` as the live consumer does (a record in hand)."""
    [(flow, [action])] = [(f, list(a)) for f, a in worker.flows]
    record = ConsumerRecord(event_topic(event.type), 0, 10**9, int(time.time() * 1000), 0,
                            event.subject.encode(), encode_event(event), None, 0, 0, ())
    return await worker.deliver(event, event_context(event), flow, action, record=record)


async def test_a_restart_that_finds_an_invoice_in_flight_looks_it_up_instead_of_creating_it(world: World) -> None:
    mb = world.moneybird
    worker = world.worker(BOOKS)
    event = order()
    key, reference = invoice_key(event), event.data.order_number
    # The previous process marked the call in flight, Moneybird stored the invoice, and the
    # process died before it heard so (its id map never learnt the invoice).
    await world.ledger.deliveries.begin(key, event, BOOKS, "invoice", "create_sales_invoice", "lookup")
    await world.ledger.deliveries.sending(key, 1)
    other = connector_kinds()["moneybird"](worker.connector.spec, ConnectorContext(
        http=None, data_dir=world.tmp, timeout_s=5, idmap=MemoryIdMap()))
    await other.start()
    try:
        await other.deliver(make_request("moneybird", "create_sales_invoice", event, flow="invoice"))
    finally:
        await other.close()
    [invoice] = mb.invoices_with(reference)
    posts = len(mb.calls("POST", "/sales_invoices.json"))
    outcome = await deliver_live(worker, event)
    assert (outcome.status, outcome.detail) == ("delivered", invoice["id"])
    assert len(mb.calls("POST", "/sales_invoices.json")) == posts
    assert len(mb.invoices_with(reference)) == 1


async def test_a_restart_that_finds_an_attempt_in_flight_that_never_arrived_creates_it_once(world: World) -> None:
    mb = world.moneybird
    worker = world.worker(BOOKS)
    event = order()
    key, reference = invoice_key(event), event.data.order_number
    await world.ledger.deliveries.begin(key, event, BOOKS, "invoice", "create_sales_invoice", "lookup")
    await world.ledger.deliveries.sending(key, 1)
    outcome = await deliver_live(worker, event)
    [invoice] = mb.invoices_with(reference)
    assert (outcome.status, outcome.detail) == ("delivered", invoice["id"])


async def test_two_orders_of_one_buyer_at_the_same_moment_make_one_contact_and_two_invoices(world: World) -> None:
    mb = world.moneybird
    buyer = f"buyer-{uuid.uuid4().hex[:8]}"
    first, second = order(buyer), order(buyer)  # different order numbers: different partitions
    await world.publisher.publish_many([first, second])
    for event in (first, second):
        status, _ = await wait_for(lambda e=event: _delivered(world, invoice_key(e)), timeout=30)
        assert status == "delivered"
    contacts = [c for c in mb.contacts.values() if c.get("customer_id") == buyer]
    assert len(contacts) == 1
    assert len(mb.invoices_with(first.data.order_number)) == 1
    assert len(mb.invoices_with(second.data.order_number)) == 1
    assert {inv["contact_id"] for inv in mb.invoices.values()
            if inv["reference"] in (first.data.order_number, second.data.order_number)} == {contacts[0]["id"]}
    assert len([c for c in mb.calls("POST", "/contacts.json") if c.json["contact"]["customer_id"] == buyer]) == 1


async def test_an_invoice_whose_id_map_write_failed_after_the_create_is_found_not_made_twice(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    mb = world.moneybird
    event = order()
    key, reference = invoice_key(event), event.data.order_number
    real_put = world.ledger.idmap.idmap_put
    failures = 0

    async def flaky_put(target: str, name: str, external_id: str) -> None:
        nonlocal failures
        if name == f"invoice:{key}" and not failures:
            failures += 1
            raise OSError("disk I/O error")  # Moneybird made the invoice; we cannot note it
        await real_put(target, name, external_id)

    monkeypatch.setattr(world.ledger.idmap, "idmap_put", flaky_put)
    await world.publisher.publish_many([event])
    status, external_id = await wait_for(lambda: _delivered(world, key), timeout=30)
    [invoice] = mb.invoices_with(reference)
    assert failures == 1 and (status, external_id) == ("delivered", invoice["id"])


async def test_a_lookup_waits_for_the_vendors_search_to_catch_up(world: World) -> None:
    hs = world.hubspot
    worker = world.worker(CRM)
    worker.connector.reconcile_after_s = 1.5  # as HubSpot's search lags behind its creates
    try:
        event = contact()
        key = f"{event.id}:task:create_task"
        hs.fault_after("reset", "POST", "/crm/v3/objects/tasks")
        await world.publisher.publish_many([event])
        status, _ = await wait_for(lambda: _delivered(world, key), timeout=30)
    finally:
        worker.connector.reconcile_after_s = 0.0
    assert status == "delivered" and len(hs.tasks_with(task_token(key))) == 1
    [create] = [r for r in hs.requests if r.method == "POST" and r.path == "/crm/v3/objects/tasks"
                and task_token(key) in r.json["properties"]["hs_task_body"]]
    [search] = [r for r in hs.requests if r.path.endswith("/tasks/search")
                and r.json["filterGroups"][0]["filters"][0]["value"] == task_token(key)]
    assert search.at - create.at >= 1.5


@pytest.mark.slow
async def test_a_sync_process_killed_after_moneybird_stored_the_invoice_finds_it_after_the_restart(
    broker: EmbeddedBroker, tmp_path: Path, processes: list[SyncProcess]
) -> None:
    mb = FakeMoneybird()
    await mb.start()
    try:
        nowhere = "http://127.0.0.1:9"
        text = vendors_config(tmp_path, broker.bootstrap_servers, mb.url, nowhere, nowhere,
                              books="kill-books", crm="kill-crm", pd="kill-pd", log_level="info")
        config = tmp_path / "handover.toml"
        config.write_text(text)
        settings = parse_settings(text, env={})
        proc = SyncProcess(config, tmp_path / "sync.log")
        processes.append(proc)
        events = [order() for _ in range(3)]
        mb.kill_pid = lambda: proc.pid
        mb.fault_after("kill", "POST", "/sales_invoices.json")  # the first invoice stored kills it
        publisher = Publisher(settings.kafka)
        await publisher.start()
        try:
            await publisher.publish_many(events)
        finally:
            await publisher.stop()
        proc.start()
        await wait_for(lambda: proc.exited() is not None, timeout=60)
        assert proc.exited() == -signal.SIGKILL and mb.faults_done == ["kill"]
        proc.start()  # its supervisor restarts it
        references = [e.data.order_number for e in events]
        await wait_for(lambda: all(mb.invoices_with(r) for r in references), timeout=60)
        ledger = await open_ledger(settings.ledger.url)
        try:
            async def recorded() -> bool:
                rows = [await ledger.delivery(invoice_key(e)) for e in events]
                return all(r is not None and r.status == "delivered" for r in rows)

            await wait_for(recorded, timeout=60)
            assert await proc.stop() == 0
            for event in events:
                [invoice] = mb.invoices_with(event.data.order_number)  # exactly one each
                row = await ledger.delivery(invoice_key(event))
                assert row is not None and row.external_id == invoice["id"]
        finally:
            await ledger.close()
        assert any(c.query.get("filter", "").count("reference:") for c in mb.calls("GET", "/sales_invoices.json"))
    finally:
        await mb.close()
