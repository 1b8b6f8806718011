"""HubSpot specifics: property mapping fidelity, task due dates, task dedupe, rate-limit waits."""

from __future__ import annotations

import datetime as dt

import pytest

from services.sync.connectors._vendor_http import add_working_days
from services.sync.errors import Permanent, Transient
from tests.sync.conftest import contact_event, make_request, order_event


@pytest.fixture
async def hubspot(hubspot_fake, connect):
    """A HubSpot connector pointed at the fake."""
    return await connect({"kind": "hubspot", "base_url": hubspot_fake.url}, hubspot_fake.token)


@pytest.mark.parametrize("phone", ["+31 (0)6 1234 5678", "0031612345678"])
async def test_contact_values_arrive_exactly(hubspot, hubspot_fake, phone: str) -> None:
    event = contact_event(phone=phone)
    delivered = await hubspot.deliver(make_request("hubspot", "upsert_contact", event))
    (call,) = hubspot_fake.calls("POST", "batch/upsert")
    assert call.headers["Authorization"] == "Bearer test-token"
    (item,) = call.json["inputs"]
    assert item["idProperty"] == "email" and item["id"] == "zoe@example.nl"
    assert item["objectWriteTraceId"] == "ev-1:flow:upsert_contact"
    assert item["properties"] == {
        "email": "zoe@example.nl",
        "firstname": "Zoë",
        "lastname": "Ålesund-Ørsted",
        "phone": phone,
        "company": "Ærø Bådværft ApS",
    }
    assert hubspot_fake.contacts["zoe@example.nl"]["id"] == delivered.external_id
    assert delivered.detail == "contact created"


async def test_order_customer_with_a_64_bit_id_upserts_by_email(hubspot, hubspot_fake) -> None:
    event = order_event()
    await hubspot.deliver(make_request("hubspot", "upsert_contact", event))
    props = hubspot_fake.contacts["zoe@example.nl"]["properties"]
    assert props["phone"] == "0031612345678"
    assert "company" not in props  # empty values are not sent (they would wipe HubSpot's)


async def test_invalid_email_is_permanent_with_hubspots_message(hubspot) -> None:
    event = contact_event(email="not-an-email")
    with pytest.raises(Permanent) as info:
        await hubspot.deliver(make_request("hubspot", "upsert_contact", event))
    assert info.value.status == 400
    assert "Email address not-an-email is invalid" in info.value.message


async def test_429_without_retry_after_waits_out_the_window(hubspot, hubspot_fake) -> None:
    hubspot_fake.rate_limit_next(1, retry_after=None)
    with pytest.raises(Transient) as info:
        await hubspot.deliver(make_request("hubspot", "upsert_contact", contact_event()))
    assert info.value.retry_after == pytest.approx(10.0)  # the interval header


async def test_task_is_associated_with_the_upserted_contact(hubspot, hubspot_fake) -> None:
    request = make_request("hubspot", "create_task", contact_event(), options={})
    delivered = await hubspot.deliver(request)
    task = hubspot_fake.tasks[delivered.external_id]
    contact_id = hubspot_fake.contacts["zoe@example.nl"]["id"]
    assert task["associations"] == [
        {"to": {"id": contact_id},
         "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}]}
    ]
    props = task["properties"]
    assert props["hs_task_subject"] == "Follow up Zoë Ålesund-Ørsted"
    assert props["hs_timestamp"] == "2026-01-16T09:30:00.000Z"  # Thursday + 1 working day
    assert props["hs_task_status"] == "NOT_STARTED"


async def test_task_due_date_skips_the_weekend(hubspot, hubspot_fake) -> None:
    request = make_request("hubspot", "create_task", contact_event(),
                           options={"due_in_working_days": 2})
    delivered = await hubspot.deliver(request)
    assert hubspot_fake.tasks[delivered.external_id]["properties"]["hs_timestamp"] == (
        "2026-01-19T09:30:00.000Z"  # Thursday + 2 working days = Monday
    )


async def test_task_redelivery_creates_no_second_task(hubspot, hubspot_fake, idmap) -> None:
    request = make_request("hubspot", "create_task", contact_event())
    first = await hubspot.deliver(request)
    again = await hubspot.deliver(request)
    assert again.external_id == first.external_id
    assert len(hubspot_fake.tasks) == 1
    assert len(hubspot_fake.calls("POST", "/tasks")) == 1
    assert idmap.data[("t1", "task:ev-1:flow:create_task")] == first.external_id


async def test_a_failed_task_delivery_is_retried_without_duplicates(
    hubspot, hubspot_fake
) -> None:
    request = make_request("hubspot", "create_task", contact_event())
    hubspot_fake.fail_next(1, 502)
    with pytest.raises(Transient):
        await hubspot.deliver(request)
    await hubspot.deliver(request)
    await hubspot.deliver(request)
    assert len(hubspot_fake.tasks) == 1 and len(hubspot_fake.contacts) == 1


async def test_a_task_in_doubt_is_looked_up_after_the_configured_search_lag(hubspot_fake, connect) -> None:
    default = await connect({"kind": "hubspot", "base_url": hubspot_fake.url}, hubspot_fake.token)
    slow = await connect({"kind": "hubspot", "base_url": hubspot_fake.url, "search_lag_s": 45}, hubspot_fake.token)
    # The sync worker waits this long after a create that lost its answer before searching.
    assert (default.reconcile_after_s, slow.reconcile_after_s) == (10.0, 45.0)


def test_bad_due_in_working_days_is_a_config_error() -> None:
    from services.common.config import ActionConfig
    from services.common.errors import ConfigError
    from services.sync.connectors.hubspot import HubspotConnector

    action = ActionConfig(target="t", action="create_task", options={"due_in_working_days": -1})
    with pytest.raises(ConfigError) as info:
        HubspotConnector.check_action(action, "flows[0].actions[0]", "contact.submitted")
    assert info.value.path == "flows[0].actions[0].options.due_in_working_days"


def test_working_days() -> None:
    friday = dt.datetime(2026, 1, 16, 17, 0, tzinfo=dt.UTC)
    saturday = friday + dt.timedelta(days=1)
    assert add_working_days(friday, 1).date() == dt.date(2026, 1, 19)
    assert add_working_days(friday, 5).date() == dt.date(2026, 1, 23)
    assert add_working_days(saturday, 0).date() == dt.date(2026, 1, 19)
    assert add_working_days(saturday, 1).date() == dt.date(2026, 1, 19)
    assert add_working_days(friday, 0) == friday


async def test_a_full_name_only_is_split_into_firstname_and_lastname(hubspot, hubspot_fake) -> None:
    import msgspec

    from schemas import Person

    event = contact_event()
    # A one-field "Name" form (Tally, Typeform, Stripe's buyer): only the full name is known.
    person = Person(email="jan@example.nl", name="Jan van der Berg")
    event = msgspec.structs.replace(event, data=msgspec.structs.replace(event.data, contact=person))
    await hubspot.deliver(make_request("hubspot", "upsert_contact", event))
    props = hubspot_fake.contacts["jan@example.nl"]["properties"]
    assert (props["firstname"], props["lastname"]) == ("Jan", "van der Berg")
