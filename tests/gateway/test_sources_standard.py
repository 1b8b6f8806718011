"""Standard Webhooks: known-answer vector, tolerance, rotation, Handover events as bodies."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from schemas import OrderCreated, OrderData, Person, encode_event
from services.gateway.errors import Rejected
from services.gateway.sources.base import event_id
from tests.gateway import signing
from tests.gateway.signing import RECEIVED, fixture, inbound, make_source

VECTOR = json.loads(fixture("standard/test_vector.json"))
SECRET = VECTOR["secret"]
NOW = int(RECEIVED.timestamp())
EVENT = OrderCreated(
    id="sender-id",
    source="sender",
    time=dt.datetime(2030, 1, 1, 11, 59, tzinfo=dt.UTC),
    subject="1001",
    data=OrderData(
        order_id="9007199254740993",
        order_number="1001",
        currency="EUR",
        total=Decimal("19.90"),
        customer=Person(email="zoë@example.com", name="Zoë Ünal"),
    ),
)
BODY = encode_event(EVENT)


def request(body: bytes = BODY, secret: str = SECRET, ts: int = NOW, msg_id: str = "msg_1"):
    return inbound("std", body, signing.standard(secret, msg_id, ts, body))


def test_known_answer_vector_verifies() -> None:
    source = make_source("standard", SECRET)
    headers = {
        "webhook-id": VECTOR["msg_id"],
        "webhook-timestamp": str(VECTOR["timestamp"]),
        "webhook-signature": VECTOR["expected_signature"],
    }
    body = VECTOR["payload"].encode()
    signed_at = dt.datetime.fromtimestamp(VECTOR["timestamp"], dt.UTC)
    source.verify(inbound("std", body, headers), signed_at)
    assert (
        signing.standard_v1(SECRET, VECTOR["msg_id"], VECTOR["timestamp"], body)
        == (VECTOR["expected_signature"])
    )


def test_tampered_vector_signature_fails() -> None:
    source = make_source("standard", SECRET)
    signed_at = dt.datetime.fromtimestamp(VECTOR["timestamp"], dt.UTC)
    for sig in (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLawdd",
        VECTOR["expected_signature"].replace("v1,", "v2,"),
    ):
        headers = {
            "webhook-id": VECTOR["msg_id"],
            "webhook-timestamp": str(VECTOR["timestamp"]),
            "webhook-signature": sig,
        }
        with pytest.raises(Rejected) as info:
            source.verify(inbound("std", VECTOR["payload"].encode(), headers), signed_at)
        assert (info.value.status, info.value.reason) == (401, "invalid_signature")


def test_event_body_is_taken_with_handover_id_and_source() -> None:
    source = make_source("standard", SECRET, name="partner")
    req = request()
    source.verify(req, RECEIVED)
    eid = event_id("partner", source.delivery_id(req))
    (event,) = source.parse(req, eid)
    assert (event.id, event.source, event.received_at) == (eid, "partner", RECEIVED)
    assert event.data == EVENT.data
    assert event.data.order_id == "9007199254740993"


def test_any_v1_entry_may_match() -> None:
    source = make_source("standard", SECRET)
    good = signing.standard_v1(SECRET, "msg_1", NOW, BODY)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(NOW),
        "webhook-signature": f"v1a,AAAA v1,{'A' * 44} {good}",
    }
    source.verify(inbound("std", BODY, headers), RECEIVED)


def test_timestamp_tolerance_both_ways() -> None:
    source = make_source("standard", SECRET)
    for ts in (NOW - 301, NOW + 301):
        with pytest.raises(Rejected) as info:
            source.verify(request(ts=ts), RECEIVED)
        assert (info.value.status, info.value.reason) == (401, "timestamp_out_of_tolerance")


def test_bad_requests_are_rejected() -> None:
    source = make_source("standard", SECRET)
    good = dict(request().headers)
    cases = [
        (inbound("std", BODY + b" ", good), "invalid_signature"),
        (request(secret="whsec_" + "QUJD" * 8), "invalid_signature"),
        (inbound("std", BODY), "missing_signature"),
        (
            inbound("std", BODY, {k: v for k, v in good.items() if k != "webhook-id"}),
            "missing_signature",
        ),
        (inbound("std", BODY, {**good, "webhook-timestamp": "12:00"}), "invalid_signature"),
        (inbound("std", BODY, {**good, "webhook-signature": "v1,!!!"}), "invalid_signature"),
    ]
    for req, reason in cases:
        with pytest.raises(Rejected) as info:
            source.verify(req, RECEIVED)
        assert (info.value.status, info.value.reason) == (401, reason)


def test_rotation_accepts_old_and_new_secret() -> None:
    old, new = "whsec_" + "b2xk" * 8, SECRET
    source = make_source("standard", old, new)
    for secret in (old, new):
        source.verify(request(secret=secret), RECEIVED)


def test_resend_gives_same_event_id() -> None:
    source = make_source("standard", SECRET)
    first, again = request(), request(ts=NOW + 10)
    assert source.delivery_id(first) == source.delivery_id(again) == "msg_1"


def test_a_body_that_is_not_an_event_is_a_422_naming_the_field() -> None:
    source = make_source("standard", SECRET)
    raw = json.loads(BODY)
    raw["data"]["total"] = "lots"
    body = json.dumps(raw).encode()
    with pytest.raises(Rejected) as info:
        source.parse(request(body), "x")
    assert info.value.status == 422
    assert [e.path for e in info.value.errors] == ["$.data.total"]


PLUS_1 = dt.timezone(dt.timedelta(hours=1))


def parse(body: bytes):
    source = make_source("standard", SECRET, name="partner")
    (event,) = source.parse(request(body), "x")
    return event


def order_body(**data) -> bytes:
    raw = json.loads(BODY)
    raw["time"] = "2030-01-01T12:59:00+01:00"
    raw["data"].update(data)
    return json.dumps(raw).encode()


def test_event_time_is_normalised_to_utc() -> None:
    event = parse(order_body())
    assert event.time == dt.datetime(2030, 1, 1, 11, 59, tzinfo=dt.UTC)
    assert event.time.utcoffset() == dt.timedelta(0)
    assert event.time.isoformat() == "2030-01-01T11:59:00+00:00"


def test_placed_at_keeps_its_offset_and_placed_at_utc_is_derived() -> None:
    event = parse(order_body(placed_at="2030-01-01T12:58:00+01:00"))
    assert event.data.placed_at == dt.datetime(2030, 1, 1, 12, 58, tzinfo=PLUS_1)
    assert event.data.placed_at.utcoffset() == dt.timedelta(hours=1)
    assert event.data.placed_at_utc == dt.datetime(2030, 1, 1, 11, 58, tzinfo=dt.UTC)
    assert event.data.placed_at_utc.utcoffset() == dt.timedelta(0)


def test_placed_at_utc_given_in_another_offset_is_normalised() -> None:
    event = parse(order_body(placed_at="2030-01-01T12:58:00+01:00",
                             placed_at_utc="2030-01-01T12:58:00+01:00"))
    assert event.data.placed_at_utc.isoformat() == "2030-01-01T11:58:00+00:00"


def test_no_placed_at_leaves_placed_at_utc_empty() -> None:
    event = parse(order_body())
    assert (event.data.placed_at, event.data.placed_at_utc) == (None, None)


def test_placed_at_and_placed_at_utc_disagreeing_is_a_422_naming_the_field() -> None:
    body = order_body(placed_at="2030-01-01T12:58:00+01:00", placed_at_utc="2030-01-01T12:58:00Z")
    source = make_source("standard", SECRET)
    with pytest.raises(Rejected) as info:
        source.parse(request(body), "x")
    assert (info.value.status, info.value.reason) == (422, "invalid_payload")
    assert [e.path for e in info.value.errors] == ["$.data.placed_at_utc"]


def test_payment_paid_at_utc_is_derived_and_time_normalised() -> None:
    raw = {
        "type": "payment.received", "id": "p", "source": "s", "time": "2030-01-01T12:59:00+01:00",
        "data": {"payment_id": "pi_1", "amount": "19.90", "currency": "EUR",
                 "payer": {"email": "a@example.nl"}, "paid_at": "2030-01-01T12:58:00+01:00"},
    }
    event = parse(json.dumps(raw).encode())
    assert event.time.isoformat() == "2030-01-01T11:59:00+00:00"
    assert event.data.paid_at.isoformat() == "2030-01-01T12:58:00+01:00"
    assert event.data.paid_at_utc.isoformat() == "2030-01-01T11:58:00+00:00"


def test_a_contact_without_a_subject_gets_the_email_as_its_key() -> None:
    from schemas import ContactData, ContactSubmitted

    contact = ContactSubmitted(
        id="sender-id", source="sender", time=dt.datetime(2030, 1, 1, 11, 59, tzinfo=dt.UTC),
        data=ContactData(contact=Person(email="Zoe@Example.com", name="Zoë Ünal")),
    )
    source = make_source("standard", SECRET, name="std")
    req = request(encode_event(contact))
    source.verify(req, RECEIVED)
    (event,) = source.parse(req, "eid")
    assert event.subject == "zoe@example.com"  # per-contact order on one partition, as forms do
