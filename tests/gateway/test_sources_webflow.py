"""Webflow: hex HMAC of "<ms timestamp>:<body>", 5-minute tolerance, form_submission."""

from __future__ import annotations

import json

import pytest

from schemas import ContactSubmitted
from services.gateway.errors import Rejected
from services.gateway.sources.base import Ignored, event_id
from tests.gateway import signing
from tests.gateway.signing import RECEIVED, fixture, inbound, make_source

SECRET = "webflow-secret"
BODY = fixture("forms/webflow_form_submission.json")
NOW_MS = int(RECEIVED.timestamp() * 1000)


def request(body: bytes, secret: str = SECRET, ts: int = NOW_MS):
    return inbound("wf", body, signing.webflow(secret, body, ts))


def run(source, req):
    source.verify(req, RECEIVED)
    return source.parse(req, event_id(source.name, source.delivery_id(req)))


def test_fixture_maps_to_contact_submitted_with_phone_digits_exact() -> None:
    source = make_source("webflow", SECRET)
    raw = json.loads(BODY)
    data = raw["payload"]["data"]
    (event,) = run(source, request(BODY))
    assert isinstance(event, ContactSubmitted)
    c = event.data.contact
    assert c.email == data["email"]
    assert (c.first_name, c.last_name) == (data["First Name"], data["Last Name"])
    assert c.phone == "15550000000" == str(data["Phone Number"])
    assert event.subject == data["email"].lower()
    assert event.data.form == raw["payload"]["name"]
    assert event.time.isoformat() == "2022-09-14T12:35:16.117000+00:00"


def test_number_values_keep_their_text() -> None:
    source = make_source("webflow", SECRET)
    body = BODY.replace(b"15550000000", b"0.1000000000000000055511151231257827")
    (event,) = run(source, request(body))
    assert event.data.contact.phone == "0.1000000000000000055511151231257827"


def test_stale_and_future_timestamps_are_rejected() -> None:
    source = make_source("webflow", SECRET)
    for ts in (NOW_MS - 301_000, NOW_MS + 301_000):
        with pytest.raises(Rejected) as info:
            source.verify(request(BODY, ts=ts), RECEIVED)
        assert (info.value.status, info.value.reason) == (401, "timestamp_out_of_tolerance")
    source.verify(request(BODY, ts=NOW_MS - 299_000), RECEIVED)


def test_bad_signatures_are_rejected() -> None:
    source = make_source("webflow", SECRET)
    good = dict(request(BODY).headers)
    only_sig = {"x-webflow-signature": good["x-webflow-signature"]}
    cases = [
        (inbound("wf", BODY.replace(b"Zaphod", b"Arthur"), good), "invalid_signature"),
        (request(BODY, secret="wrong"), "invalid_signature"),
        (inbound("wf", BODY), "missing_signature"),
        (inbound("wf", BODY, only_sig), "missing_signature"),
        (inbound("wf", BODY, {**good, "x-webflow-signature": "xyz"}), "invalid_signature"),
        (inbound("wf", BODY, {**good, "x-webflow-timestamp": "soon"}), "invalid_signature"),
    ]
    for req, reason in cases:
        with pytest.raises(Rejected) as info:
            source.verify(req, RECEIVED)
        assert (info.value.status, info.value.reason) == (401, reason)


def test_rotation_accepts_old_and_new_secret() -> None:
    source = make_source("webflow", "old", "new")
    for secret in ("old", "new"):
        source.verify(request(BODY, secret=secret), RECEIVED)


def test_resend_gives_same_delivery_and_event_id() -> None:
    source = make_source("webflow", SECRET)
    first, again = request(BODY), request(BODY, ts=NOW_MS + 5000)
    assert source.delivery_id(first) == source.delivery_id(again) is not None
    assert run(source, first)[0].id == run(source, again)[0].id


def test_unknown_trigger_is_ignored() -> None:
    source = make_source("webflow", SECRET)
    body = BODY.replace(b'"form_submission"', b'"site_publish"')
    assert run(source, request(body)) == Ignored("unknown topic 'site_publish'")
