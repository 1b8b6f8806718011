"""Typeform: Typeform-Signature sha256=<base64>, form_response -> contact.submitted."""

from __future__ import annotations

import json

import pytest

from schemas import ContactSubmitted
from services.gateway.errors import Rejected
from services.gateway.sources.base import Ignored, event_id
from tests.gateway import signing
from tests.gateway.signing import RECEIVED, fixture, inbound, make_source

SECRET = "typeform-secret"
BODY = fixture("forms/typeform_form_response.json")


def request(body: bytes, secret: str = SECRET):
    return inbound("tf", body, signing.typeform(secret, body))


def run(source, req):
    source.verify(req, RECEIVED)
    return source.parse(req, event_id(source.name, source.delivery_id(req)))


def test_fixture_maps_to_contact_submitted() -> None:
    source = make_source("typeform", SECRET)
    raw = json.loads(BODY)
    (event,) = run(source, request(BODY))
    assert isinstance(event, ContactSubmitted)
    assert event.data.contact.name == raw["form_response"]["answers"][0]["text"]
    assert event.data.form == raw["form_response"]["definition"]["title"]
    assert event.time.isoformat() == "2030-01-01T00:00:01+00:00"
    assert source.delivery_id(request(BODY)) == raw["event_id"]


def test_email_phone_and_consent_answers_are_mapped() -> None:
    source = make_source("typeform", SECRET)
    raw = json.loads(BODY)
    raw["form_response"]["answers"] += [
        {"type": "email", "email": "Zoë.Ünal+x@Example.com", "field": {"id": "e", "type": "email"}},
        {"type": "phone_number", "phone_number": "+4915550000000", "field": {"id": "p"}},
        {"type": "boolean", "boolean": True, "field": {"id": "c", "type": "legal"}},
        {"type": "text", "text": "Call me", "field": {"id": "m", "type": "long_text"}},
        {"type": "choice", "choice": {"label": "Big"}, "field": {"id": "s", "ref": "size"}},
    ]
    (event,) = run(source, request(json.dumps(raw, ensure_ascii=False).encode()))
    data = event.data
    assert data.contact.email == "Zoë.Ünal+x@Example.com"
    assert event.subject == "zoë.ünal+x@example.com"
    assert data.contact.phone == "+4915550000000"
    assert data.consent is True
    assert data.message == "Call me"
    assert data.fields == {"size": "Big"}


def test_tampered_wrong_missing_and_garbage_signatures_are_rejected() -> None:
    source = make_source("typeform", SECRET)
    good = request(BODY).headers["Typeform-Signature"]
    cases = [
        (inbound("tf", BODY + b"\n", {"Typeform-Signature": good}), "invalid_signature"),
        (request(BODY, secret="wrong"), "invalid_signature"),
        (inbound("tf", BODY), "missing_signature"),
        (
            inbound("tf", BODY, {"Typeform-Signature": good.removeprefix("sha256=")}),
            "invalid_signature",
        ),
        (inbound("tf", BODY, {"Typeform-Signature": "sha256=***"}), "invalid_signature"),
    ]
    for req, reason in cases:
        with pytest.raises(Rejected) as info:
            source.verify(req, RECEIVED)
        assert (info.value.status, info.value.reason) == (401, reason)


def test_rotation_accepts_old_and_new_secret() -> None:
    source = make_source("typeform", "old", "new")
    for secret in ("old", "new"):
        source.verify(request(BODY, secret=secret), RECEIVED)


def test_resend_gives_same_event_id() -> None:
    source = make_source("typeform", SECRET)
    assert run(source, request(BODY))[0].id == run(source, request(BODY))[0].id


def test_unknown_event_type_is_ignored() -> None:
    source = make_source("typeform", SECRET)
    raw = json.loads(BODY)
    raw["event_type"] = "form_partial"
    assert isinstance(run(source, request(json.dumps(raw).encode())), Ignored)


def test_missing_form_response_is_a_422() -> None:
    source = make_source("typeform", SECRET)
    with pytest.raises(Rejected) as info:
        run(source, request(b'{"event_id": "x", "event_type": "form_response"}'))
    assert info.value.status == 422
    assert [e.path for e in info.value.errors] == ["$.form_response"]


def test_quiz_score_and_variables_are_kept() -> None:
    # Typeform's example payload (https://www.typeform.com/developers/webhooks/example-payload/)
    # carries `calculated.score` and `variables` beside the answers; added here to the sample.
    raw = json.loads(BODY)
    raw["form_response"]["calculated"] = {"score": 9}
    raw["form_response"]["variables"] = [{"key": "score", "type": "number", "number": 4},
                                         {"key": "name", "type": "text", "text": "typeform"}]
    (event,) = run(make_source("typeform", SECRET), request(json.dumps(raw).encode()))
    fields = event.data.fields
    assert fields["calculated.score"] == "9"
    assert (fields["variables.score"], fields["variables.name"]) == ("4", "typeform")
