"""Generic HTTP specifics: Standard Webhooks signing, body templates, external id, headers."""

from __future__ import annotations

import msgspec
import pytest

from schemas import encode_event
from services.common.signing import standard_key, standard_verify
from services.sync.connectors.http import webhook_id
from services.sync.errors import Permanent
from tests.sync.conftest import contact_event, make_request, order_event

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def table(url: str, **extra):
    """A target table for the fake receiver."""
    return {"kind": "http", "base_url": url, "url": "/hooks/{{ event.type }}",
            "headers": {"Authorization": "Bearer test-token"}, **extra}


async def test_default_body_is_the_event_and_the_request_is_signed(http_fake, connect) -> None:
    connector = await connect(table(http_fake.url), SECRET)
    connector.clock = lambda: 1_767_225_600.0
    event = order_event()
    delivered = await connector.deliver(make_request("http", "send", event))
    (call,) = http_fake.requests
    assert call.path == "/hooks/order.created"
    assert call.raw == encode_event(event)  # byte for byte: decimals and ids as strings
    assert call.headers["Idempotency-Key"] == "ev-order-1:flow:send"
    assert call.headers["webhook-id"] == webhook_id("ev-order-1:flow:send")
    assert call.headers["webhook-timestamp"] == "1767225600"
    # The gateway's `standard` source verifies with the same code: what one signs, the other takes.
    assert standard_verify([standard_key(SECRET)], call.headers["webhook-id"], "1767225600", call.raw,
                           call.headers["webhook-signature"])
    assert delivered.external_id == "rec_1"


async def test_a_tampered_signature_is_refused(http_fake, connect) -> None:
    connector = await connect(table(http_fake.url), "whsec_" + "b3RoZXIta2V5LW90aGVyLWtleQ==")
    with pytest.raises(Permanent) as info:
        await connector.deliver(make_request("http", "send", contact_event()))
    assert info.value.status == 401


async def test_body_template_keeps_values_exact(http_fake, connect) -> None:
    body = ('{"order": {{ order.order_id|tojson }}, "total": {{ order.total|tojson }}, '
            '"name": {{ order.customer.first_name|tojson }}, '
            '"phone": {{ order.customer.phone|tojson }}}')
    connector = await connect(table(http_fake.url, body=body), SECRET)
    await connector.deliver(make_request("http", "send", order_event()))
    (record,) = http_fake.records.values()
    assert record["body"] == {"order": "820982911946154508", "total": "1481.82",
                              "name": "Zoë", "phone": "0031612345678"}


async def test_contact_values_arrive_exactly(http_fake, connect) -> None:
    connector = await connect(table(http_fake.url), SECRET)
    event = contact_event(phone="+31 (0)6 1234 5678")
    await connector.deliver(make_request("http", "send", event))
    (record,) = http_fake.records.values()
    person = record["body"]["data"]["contact"]
    assert person["first_name"] == "Zoë" and person["last_name"] == "Ålesund-Ørsted"
    assert person["phone"] == "+31 (0)6 1234 5678"


async def test_body_that_is_not_json_is_permanent_and_not_sent(http_fake, connect) -> None:
    connector = await connect(table(http_fake.url, body="total={{ order.total }}"), SECRET)
    with pytest.raises(Permanent):
        await connector.deliver(make_request("http", "send", order_event()))
    assert http_fake.requests == []


async def test_external_id_by_json_pointer_else_status(http_fake, connect) -> None:
    by_pointer = await connect(table(http_fake.url, id_field="/body/type"), SECRET)
    delivered = await by_pointer.deliver(make_request("http", "send", contact_event()))
    assert delivered.external_id == "contact.submitted"
    missing = await connect(table(http_fake.url, id_field="/nope"), SECRET)
    delivered = await missing.deliver(
        make_request("http", "send", contact_event(event_id="ev-2")))
    assert delivered.external_id == "201"


async def test_secret_in_a_header_and_unsigned(http_fake, connect) -> None:
    http_fake.signing_secret = ""
    connector = await connect(
        table(http_fake.url, headers={"Authorization": "Bearer {secret}"}, sign=False),
        "test-token")
    await connector.deliver(make_request("http", "send", contact_event()))
    (call,) = http_fake.requests
    assert call.headers["Authorization"] == "Bearer test-token"
    assert "webhook-signature" not in call.headers


async def test_flow_fields_override_url_and_body(http_fake, connect) -> None:
    connector = await connect(table(http_fake.url), SECRET)
    request = make_request("http", "send", contact_event(),
                           fields={"url": "/other", "body": '{"e": "{{ person.email }}"}'})
    await connector.deliver(request)
    (call,) = http_fake.requests
    assert call.path == "/other" and msgspec.json.decode(call.raw) == {"e": "zoe@example.nl"}
