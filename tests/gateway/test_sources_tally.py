"""Tally: Tally-Signature base64 body HMAC, FORM_RESPONSE -> contact.submitted."""

from __future__ import annotations

import json

import pytest

from schemas import ContactSubmitted
from services.gateway.errors import Rejected
from services.gateway.sources.base import Ignored, event_id
from tests.gateway import signing
from tests.gateway.signing import RECEIVED, fixture, inbound, make_source

SECRET = "tally-secret"
BODY = fixture("forms/tally_form_response.json")


def request(body: bytes, secret: str = SECRET):
    return inbound("tally", body, signing.tally(secret, body))


def run(source, req):
    source.verify(req, RECEIVED)
    return source.parse(req, event_id(source.name, source.delivery_id(req)))


def test_fixture_maps_to_contact_submitted() -> None:
    source = make_source("tally", SECRET)
    raw = json.loads(BODY)
    (event,) = run(source, request(BODY))
    assert isinstance(event, ContactSubmitted)
    field = raw["data"]["fields"][0]
    assert event.data.fields == {field["label"]: field["value"]}
    assert event.data.form == raw["data"]["formName"]
    assert event.time.isoformat() == "2023-10-02T18:07:01+00:00"
    assert source.delivery_id(request(BODY)) == raw["eventId"]


def test_typed_fields_are_mapped() -> None:
    source = make_source("tally", SECRET)
    raw = json.loads(BODY)
    raw["data"]["fields"] += [
        {"key": "a", "label": "E-Mail", "type": "INPUT_EMAIL", "value": "Ana@Example.org"},
        {"key": "b", "label": "Tel", "type": "INPUT_PHONE_NUMBER", "value": "+33 6 12 34 56 78"},
        {"key": "c", "label": "First name", "type": "INPUT_TEXT", "value": "Aňa"},
        {"key": "d", "label": "I agree to the privacy policy", "type": "CHECKBOX", "value": True},
        {
            "key": "e",
            "label": "Topic",
            "type": "MULTIPLE_CHOICE",
            "value": ["o1"],
            "options": [{"id": "o1", "text": "Sales"}],
        },
    ]
    (event,) = run(source, request(json.dumps(raw, ensure_ascii=False).encode()))
    c = event.data.contact
    assert (c.email, c.phone, c.first_name) == ("Ana@Example.org", "+33 6 12 34 56 78", "Aňa")
    assert event.subject == "ana@example.org"
    assert event.data.consent is True
    assert event.data.fields["Topic"] == "Sales"


def test_bad_signatures_are_rejected() -> None:
    source = make_source("tally", SECRET)
    good = request(BODY).headers["Tally-Signature"]
    cases = [
        (
            inbound("tally", BODY.replace(b"TEST", b"TOST"), {"Tally-Signature": good}),
            "invalid_signature",
        ),
        (request(BODY, secret="wrong"), "invalid_signature"),
        (inbound("tally", BODY), "missing_signature"),
        (inbound("tally", BODY, {"Tally-Signature": "@@@"}), "invalid_signature"),
    ]
    for req, reason in cases:
        with pytest.raises(Rejected) as info:
            source.verify(req, RECEIVED)
        assert (info.value.status, info.value.reason) == (401, reason)


def test_rotation_accepts_old_and_new_secret() -> None:
    source = make_source("tally", "old", "new")
    for secret in ("old", "new"):
        source.verify(request(BODY, secret=secret), RECEIVED)


def test_resend_gives_same_event_id() -> None:
    source = make_source("tally", SECRET)
    assert run(source, request(BODY))[0].id == run(source, request(BODY))[0].id


def test_unknown_event_type_is_ignored() -> None:
    source = make_source("tally", SECRET)
    raw = json.loads(BODY)
    raw["eventType"] = "SOMETHING_ELSE"
    assert run(source, request(json.dumps(raw).encode())) == Ignored(
        "unknown topic 'SOMETHING_ELSE'"
    )


def test_a_one_field_name_is_kept_as_typed_and_splits_for_crms_that_want_first_and_last() -> None:
    # Tally's sample with its field as a one-field "Name" question (INPUT_TEXT, the sample's type).
    raw = json.loads(BODY)
    raw["data"]["fields"] = [
        {"key": "question_name", "label": "Name", "type": "INPUT_TEXT", "value": "Jan van der Berg"},
        {"key": "question_mail", "label": "Email", "type": "INPUT_EMAIL", "value": "jan@example.nl"},
    ]
    (event,) = run(make_source("tally", SECRET), request(json.dumps(raw).encode()))
    person = event.data.contact
    assert (person.name, person.first_name, person.last_name) == ("Jan van der Berg", "", "")  # as typed
    assert (person.given_name, person.family_name) == ("Jan", "van der Berg")  # for targets that split
    assert person.display_name == "Jan van der Berg"


def test_matrix_answers_arrive_as_row_and_column_labels_not_ids() -> None:
    # A MATRIX field in the shape of Tally's example webhook event (https://tally.so/help/webhooks,
    # "Example webhook event": value maps row ids to chosen column ids; rows/columns give the
    # labels). Recalled from that page, not copied byte for byte.
    raw = json.loads(BODY)
    raw["data"]["fields"] = [{
        "key": "question_matrix", "label": "How was it?", "type": "MATRIX",
        "value": {"r1": ["c2"], "r2": ["c1", "c2"]},
        "rows": [{"id": "r1", "text": "Food"}, {"id": "r2", "text": "Service"}],
        "columns": [{"id": "c1", "text": "Good"}, {"id": "c2", "text": "Great"}],
    }]
    (event,) = run(make_source("tally", SECRET), request(json.dumps(raw).encode()))
    assert event.data.fields == {"How was it?": "Food: Great\nService: Good, Great"}
