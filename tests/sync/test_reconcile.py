"""Connectors' lookups (`reconcile`) and natural-key races, against the vendor fakes.

The fakes answer only the documented request shapes (Moneybird's `filter` keys, HubSpot's
search body limits, Pipedrive's list parameters), so a lookup in another shape fails here.
"""

from __future__ import annotations

import asyncio

import pytest

from schemas import Person
from services.sync.connectors.hubspot import task_token
from services.sync.errors import Ambiguous, Permanent
from tests.sync.conftest import contact_event, make_request, order_event

TAX = {"21": "400000000000000021", "9": "400000000000000009"}
ADM = "123456789012345678"


@pytest.fixture
def moneybird_table(moneybird_fake):
    """A Moneybird target on the fake."""
    return {"kind": "moneybird", "base_url": moneybird_fake.url + "/api/v2", "administration_id": ADM,
            "tax_rates": TAX}


def invoice_request(event_id: str, number: str, buyer: str):
    """create_sales_invoice for an order of `buyer` with order number `number`."""
    customer = Person(email=f"{buyer}@example.nl", first_name="Zoë", last_name="Ørsted", external_id=buyer)
    return make_request("moneybird", "create_sales_invoice",
                        order_event(event_id=event_id, order_number=number, customer=customer))


async def test_two_processes_racing_for_one_customer_id_make_one_contact_and_both_invoices(
    moneybird_fake, connect, moneybird_table
) -> None:
    # Two connectors stand for two processes (their locks are their own): both look the contact
    # up and miss before either creates it; Moneybird refuses the second create with 422.
    first = await connect(moneybird_table, moneybird_fake.token)
    second = await connect(moneybird_table, moneybird_fake.token)
    moneybird_fake.meet("GET", "/contacts/customer_id/", parties=2)
    done = await asyncio.gather(
        first.deliver(invoice_request("ev-a", "#a", "buyer-1")),
        second.deliver(invoice_request("ev-b", "#b", "buyer-1")),
    )
    [contact] = moneybird_fake.contacts.values()
    assert len(moneybird_fake.calls("POST", "/contacts.json")) == 2  # the race did happen
    assert {inv["contact_id"] for inv in moneybird_fake.invoices.values()} == {contact["id"]}
    assert sorted(inv["reference"] for inv in moneybird_fake.invoices.values()) == ["#a", "#b"]
    assert all(d.external_id for d in done)


async def test_one_process_makes_one_buyers_contact_once_for_orders_at_the_same_moment(
    moneybird_fake, connect, moneybird_table
) -> None:
    moneybird = await connect(moneybird_table, moneybird_fake.token)
    await asyncio.gather(*(moneybird.deliver(invoice_request(f"ev-{i}", f"#{i}", "buyer-2")) for i in range(4)))
    assert len(moneybird_fake.contacts) == 1
    assert len(moneybird_fake.calls("POST", "/contacts.json")) == 1  # serialized: no race at all
    assert len(moneybird_fake.invoices) == 4


async def test_another_contact_error_is_still_permanent(moneybird_fake, connect, moneybird_table) -> None:
    moneybird = await connect(moneybird_table, moneybird_fake.token)
    request = invoice_request("ev-x", "#x", "buyer-3")
    fields = {**request.fields, "firstname": "", "lastname": "", "company_name": ""}
    with pytest.raises(Permanent, match="company_name"):
        await moneybird.deliver(type(request)(**{**request.__dict__, "fields": fields}))


async def test_moneybird_lookup_finds_only_the_orders_own_invoice(moneybird_fake, connect, moneybird_table) -> None:
    moneybird = await connect(moneybird_table, moneybird_fake.token)
    mine = invoice_request("ev-1", "#1001", "buyer-4")
    assert await moneybird.reconcile(mine) is None  # no contact yet: certainly no invoice
    await moneybird.deliver(invoice_request("ev-2", "#1002", "buyer-4"))  # same buyer, other order
    assert await moneybird.reconcile(mine) is None
    made = await moneybird.deliver(mine)
    found = await moneybird.reconcile(mine)
    assert found is not None and found.external_id == made.external_id


async def test_moneybird_lookup_with_two_invoices_of_one_reference_is_ambiguous(
    moneybird_fake, connect, moneybird_table
) -> None:
    moneybird = await connect(moneybird_table, moneybird_fake.token)
    await moneybird.deliver(invoice_request("ev-1", "#77", "buyer-5"))
    await moneybird.deliver(invoice_request("ev-2", "#77", "buyer-5"))  # someone typed it in again
    with pytest.raises(Ambiguous, match="2 invoices carry this reference") as caught:
        await moneybird.reconcile(invoice_request("ev-1", "#77", "buyer-5"))
    assert "customer id 'buyer-5'" in caught.value.message


async def test_moneybird_lookup_of_a_reference_with_a_comma_matches_it_here(
    moneybird_fake, connect, moneybird_table
) -> None:
    moneybird = await connect(moneybird_table, moneybird_fake.token)
    request = invoice_request("ev-1", "#8, part 2", "buyer-6")
    made = await moneybird.deliver(request)
    found = await moneybird.reconcile(request)
    assert found is not None and found.external_id == made.external_id
    [lookup, *_] = moneybird_fake.calls("GET", "/sales_invoices.json")
    assert "reference:" not in lookup.query["filter"]  # the filter syntax cannot carry it


async def test_hubspot_lookup_finds_the_task_by_its_token_only(hubspot_fake, connect) -> None:
    hubspot = await connect({"kind": "hubspot", "base_url": hubspot_fake.url}, hubspot_fake.token)
    mine = make_request("hubspot", "create_task", contact_event(event_id="ev-1"))
    other = make_request("hubspot", "create_task", contact_event(event_id="ev-2"))
    await hubspot.deliver(other)
    assert await hubspot.reconcile(mine) is None
    made = await hubspot.deliver(mine)
    found = await hubspot.reconcile(mine)
    assert found is not None and found.external_id == made.external_id
    assert task_token(mine.idempotency_key) in hubspot_fake.tasks[made.external_id]["properties"]["hs_task_body"]


async def test_hubspot_lookup_refused_is_not_read_as_absent(hubspot_fake, connect) -> None:
    hubspot = await connect({"kind": "hubspot", "base_url": hubspot_fake.url}, hubspot_fake.token)
    hubspot_fake.fail_next(1, 403, "This app hasn't been granted all required scopes")
    with pytest.raises(Permanent):  # the runner turns a refused lookup into an ambiguous dead letter
        await hubspot.reconcile(make_request("hubspot", "create_task", contact_event(event_id="ev-1")))


async def test_pipedrive_lookups_find_the_person_and_the_activity(pipedrive_fake, connect) -> None:
    pipedrive = await connect({"kind": "pipedrive", "base_url": pipedrive_fake.url}, pipedrive_fake.token)
    activity = make_request("pipedrive", "create_activity", contact_event(event_id="ev-1"))
    person = make_request("pipedrive", "upsert_person", contact_event(event_id="ev-1"))
    assert await pipedrive.reconcile(person) is None
    assert await pipedrive.reconcile(activity) is None
    await pipedrive.deliver(make_request("pipedrive", "create_activity", contact_event(event_id="ev-0")))
    assert await pipedrive.reconcile(activity) is None  # the same person's other activity
    made = await pipedrive.deliver(activity)
    found = await pipedrive.reconcile(activity)
    assert found is not None and found.external_id == made.external_id
    # A person found is not "delivered": the update still has to go out, to that person.
    pipedrive.idmap.data.clear()
    assert await pipedrive.reconcile(person) is None
    person_id = str(pipedrive_fake.activities[int(made.external_id)]["person_id"])
    assert pipedrive.idmap.data == {("t1", "person:zoe@example.nl"): person_id}


async def test_pipedrive_activity_lookup_follows_the_cursor(pipedrive_fake, connect) -> None:
    pipedrive = await connect({"kind": "pipedrive", "base_url": pipedrive_fake.url}, pipedrive_fake.token)
    first = await pipedrive.deliver(make_request("pipedrive", "create_activity", contact_event(event_id="ev-0")))
    person_id = pipedrive_fake.activities[int(first.external_id)]["person_id"]
    for i in range(600):  # more of the person's activities than one page (500) holds, before ours
        pipedrive_fake.activities[10**6 + i] = {"id": 10**6 + i, "person_id": person_id, "note": ""}
    mine = make_request("pipedrive", "create_activity", contact_event(event_id="ev-1"))
    made = await pipedrive.deliver(mine)
    found = await pipedrive.reconcile(mine)
    assert found is not None and found.external_id == made.external_id
    pages = pipedrive_fake.calls("GET", "/api/v2/activities")
    assert [p.query.get("cursor") for p in pages] == [None, "500"]
