"""Standard Webhooks: known-answer vector, tolerance, rotation, Handover events as bodies."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from schemas import OrderCreated, OrderData, Person, encode_event
from services.gateway.sources.base import Rejected, event_id
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
