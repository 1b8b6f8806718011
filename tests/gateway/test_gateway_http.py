"""The gateway over real HTTP against the real broker: every vendor's sample is verified as the
vendor signs it, published with its exact values, and answered only after Kafka's ack; bad
requests get a stable problem+json and publish nothing; resends publish once."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from schemas import AnyEvent, OrderCreated, OrderData, Person, decode_event, encode_event
from services.common.embedded_broker import EmbeddedBroker
from tests.conftest import wait_for
from tests.gateway import harness
from tests.gateway.harness import Gateway, signed_headers, unique, with_delivery_id
from tests.gateway.signing import fixture, inbound, make_source


@pytest.fixture(scope="module")
async def gw(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Gateway]:
    """One running gateway shared by this module's tests."""
    settings = harness.gateway_settings(str(tmp_path_factory.mktemp("gw")), broker.bootstrap_servers)
    g = await harness.start_gateway(settings, broker.bootstrap_servers)
    yield g
    await harness.stop_gateway(g)


def published_events(gw: Gateway, ids: list[str]) -> list[AnyEvent]:
    """The published events with these ids, decoded (empty until all arrived)."""
    by_id = {}
    for raw in gw.watcher.values():
        event = decode_event(raw)
        by_id.setdefault(event.id, []).append(event)
    if not all(i in by_id for i in ids):
        return []
    return [e for i in ids for e in by_id[i]]


def parsed_in_process(source: str, body: bytes, headers: dict[str, str], event_id: str, received: dt.datetime):
    """What the source kind maps this body to without HTTP or Kafka (for whole-event equality)."""
    src = make_source(harness.KIND_OF[source], harness.SECRETS[source], name=source)
    return src.parse(inbound(source, body, headers, received_at=received), event_id)


def order_with_diacritics() -> bytes:
    """The Shopify sample with a customer whose name and note need more than ASCII."""
    doc = json.loads(fixture("shopify/orders_create.json"))
    doc["customer"]["first_name"] = "Zoë"
    doc["customer"]["last_name"] = "Ålesund-Ørsted"
    doc["shipping_address"]["phone"] = "+31 (0)6 1234 5678"
    doc["note"] = "Bitte klingeln — Groß & Söhne"
    return json.dumps(doc, ensure_ascii=False).encode()


def check_shopify_order(raw: dict[str, Any], events: list[AnyEvent]) -> None:
    (e,) = events
    assert isinstance(e, OrderCreated)
    d = e.data
    assert d.order_id == "820982911946154508" == str(raw["id"])
    assert d.order_number == raw["name"]
    assert d.total == Decimal(raw["total_price"]) and d.currency == raw["currency"]
    assert [line.unit_price for line in d.lines] == [Decimal(li["price"]) for li in raw["line_items"]]
    assert d.customer.external_id == str(raw["customer"]["id"])
    assert d.placed_at is not None and d.placed_at.isoformat() == raw["created_at"]  # offset kept
    assert d.placed_at_utc is not None and d.placed_at_utc.isoformat() == "2022-01-01T00:00:00+00:00"


def check_shopify_diacritics(raw: dict[str, Any], events: list[AnyEvent]) -> None:
    check_shopify_order(raw, events)
    d = events[0].data
    assert isinstance(d, OrderData)
    assert (d.customer.first_name, d.customer.last_name) == ("Zoë", "Ålesund-Ørsted")
    assert d.shipping_address is not None and d.shipping_address.phone == "+31 (0)6 1234 5678"
    assert d.note == raw["note"]


def check_shopify_customer(raw: dict[str, Any], events: list[AnyEvent]) -> None:
    (e,) = events
    c = e.data.customer  # type: ignore[union-attr]
    assert c.external_id == "706405506930370084" == str(raw["id"])
    assert (c.first_name, c.last_name, c.email) == (raw["first_name"], raw["last_name"], raw["email"])
    assert e.data.created_at.isoformat() == raw["created_at"]  # type: ignore[union-attr]


def check_woo(raw: dict[str, Any], events: list[AnyEvent]) -> None:
    (e,) = events
    d = e.data
    assert isinstance(d, OrderData)
    assert d.order_id == str(raw["id"]) and d.total == Decimal(raw["total"]) and d.currency == raw["currency"]
    assert d.customer.phone == raw["billing"]["phone"] == "(555) 555-5555"
    # The site's local time with its offset, and the same instant in UTC.
    assert d.placed_at is not None and d.placed_at.isoformat() == raw["date_created"] + "-03:00"
    assert d.placed_at_utc is not None and d.placed_at_utc.isoformat() == raw["date_created_gmt"] + "+00:00"


def check_stripe_checkout(raw: dict[str, Any], events: list[AnyEvent]) -> None:
    order, payment = events
    session = raw["data"]["object"]
    assert order.type == "order.created" and payment.type == "payment.received"
    assert order.data.order_id == session["id"]  # type: ignore[union-attr]
    assert order.data.total == Decimal("30.00") and order.data.currency == "USD"  # type: ignore[union-attr]
    assert payment.data.amount == Decimal("30.00") and payment.data.currency == "USD"  # type: ignore[union-attr]
    assert payment.data.payer.email == session["customer_details"]["email"]  # type: ignore[union-attr]


def check_stripe_invoice(raw: dict[str, Any], events: list[AnyEvent]) -> None:
    (p,) = events
    inv = raw["data"]["object"]
    assert p.type == "payment.received"
    assert p.data.amount == Decimal(inv["amount_paid"]) / 100 == Decimal("20.00")  # type: ignore[union-attr]
    assert p.data.currency == "USD" and p.data.invoice_number == inv["number"]  # type: ignore[union-attr]


def check_typeform(raw: dict[str, Any], events: list[AnyEvent]) -> None:
    (e,) = events
    assert e.data.contact.name == raw["form_response"]["answers"][0]["text"]  # type: ignore[union-attr]
    assert e.time.isoformat() == "2030-01-01T00:00:01+00:00"


def check_tally(raw: dict[str, Any], events: list[AnyEvent]) -> None:
    (e,) = events
    field = raw["data"]["fields"][0]
    assert e.data.fields == {field["label"]: field["value"]}  # type: ignore[union-attr]
    assert e.time.isoformat() == "2023-10-02T18:07:01+00:00"


def check_webflow(raw: dict[str, Any], events: list[AnyEvent]) -> None:
    (e,) = events
    c = e.data.contact  # type: ignore[union-attr]
    assert c.phone == "15550000000"  # a JSON number in the payload, its digits as text
    assert (c.first_name, c.last_name, c.email) == ("Zaphod", "Beeblebrox", raw["payload"]["data"]["email"])
    assert e.time.isoformat() == "2022-09-14T12:35:16.117000+00:00"


STANDARD_EVENT = OrderCreated(
    id="sender-id",
    source="sender",
    time=dt.datetime(2030, 1, 1, 11, 59, tzinfo=dt.UTC),
    subject="1001",
    data=OrderData(
        order_id="9007199254740993",  # 2**53 + 1: would change on a trip through a float
        order_number="1001",
        currency="EUR",
        total=Decimal("19.90"),
        customer=Person(email="zoë@example.com", name="Zoë Ünal", phone="0049 30 1234567"),
        placed_at=dt.datetime(2030, 1, 1, 12, 59, tzinfo=dt.timezone(dt.timedelta(hours=1))),
    ),
)


def check_standard(raw: dict[str, Any], events: list[AnyEvent]) -> None:
    (e,) = events
    d = e.data
    assert isinstance(d, OrderData)
    assert d.order_id == "9007199254740993" and d.total == Decimal("19.90") and d.currency == "EUR"
    assert d.customer.name == "Zoë Ünal" and d.customer.phone == "0049 30 1234567"
    assert d.placed_at is not None and d.placed_at.isoformat() == "2030-01-01T12:59:00+01:00"
    assert e.source == "std" and e.id != "sender-id"  # Handover's own id and source


# (source, body, content type, topic header, value checks)
CASES: dict[str, tuple[str, Callable[[], bytes], str, str, Callable[[dict[str, Any], list[AnyEvent]], None]]] = {
    "shopify-order": (
        "shop",
        lambda: fixture("shopify/orders_create.json"),
        "application/json",
        "orders/create",
        check_shopify_order,
    ),
    "shopify-order-diacritics": (
        "shop",
        order_with_diacritics,
        "application/json",
        "orders/create",
        check_shopify_diacritics,
    ),
    "shopify-customer": (
        "shop",
        lambda: fixture("shopify/customers_create.json"),
        "application/json",
        "customers/create",
        check_shopify_customer,
    ),
    "woocommerce-order": ("woo", lambda: fixture("woocommerce/order_created.json"), "application/json", "", check_woo),
    "stripe-checkout": (
        "stripe",
        lambda: fixture("stripe/checkout_session_completed.json"),
        "application/json",
        "",
        check_stripe_checkout,
    ),
    "stripe-invoice": (
        "stripe",
        lambda: fixture("stripe/invoice_paid.json"),
        "application/json",
        "",
        check_stripe_invoice,
    ),
    "typeform": ("tf", lambda: fixture("forms/typeform_form_response.json"), "application/json", "", check_typeform),
    "tally": ("tally", lambda: fixture("forms/tally_form_response.json"), "application/json", "", check_tally),
    "webflow": ("wf", lambda: fixture("forms/webflow_form_submission.json"), "application/json", "", check_webflow),
    "standard": ("std", lambda: encode_event(STANDARD_EVENT), "application/json", "", check_standard),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_each_vendor_sample_is_accepted_and_published_with_exact_values(gw: Gateway, case: str) -> None:
    source, make_body, content_type, topic, check = CASES[case]
    delivery = unique()
    body = with_delivery_id(source, make_body(), delivery)
    headers = signed_headers(source, body, delivery, topic=topic)
    status, _, answer = await gw.post(source, body, headers, content_type)
    assert status == 202, answer
    assert answer["status"] == "accepted"
    ids = answer["event_ids"]
    events = await wait_for(lambda: published_events(gw, ids))
    assert [e.id for e in events] == ids
    raw = json.loads(body, parse_int=str) if source != "std" else {}
    check(raw, events)
    # Nothing changed on the way through HTTP and Kafka: the same event as the kind maps in process.
    received = events[0].received_at
    assert received is not None and received.utcoffset() == dt.timedelta(0)
    expected = parsed_in_process(source, body, headers, ids[0], received)
    assert isinstance(expected, list)
    assert events == expected
    # One record per event on its own topic, keyed by the business key.
    for e in events:
        [rec] = [
            r
            for r in gw.watcher.records
            if decode_event(r.value or b"").id == e.id and decode_event(r.value or b"").type == e.type
        ]
        assert rec.topic == f"handover.events.{e.type}"
        assert rec.key == e.business_key.encode()


async def test_a_website_form_with_diacritics_and_a_phone_number_arrives_as_text(gw: Gateway) -> None:
    email = f"zoë.{unique()[:8]}@example.com"
    form = {"name": "Zoë Ålesund-Ørsted", "email": email, "phone": "0031 6 12345678", "message": "Grüße\r\n— Z"}
    async with gw.http.post(gw.url("website"), data=form) as r:
        assert r.status == 202
        ids = (await r.json())["event_ids"]
    (e,) = await wait_for(lambda: published_events(gw, ids))
    c = e.data.contact  # type: ignore[union-attr]
    assert (c.name, c.email, c.phone) == (form["name"], email, form["phone"])
    assert e.data.message == form["message"]  # type: ignore[union-attr]


# --- signatures --------------------------------------------------------------------------------


def _bad_request(source: str, how: str, marker: str) -> tuple[bytes, dict[str, str]]:
    """A body carrying `marker`, with headers broken in the way `how` says."""
    if source == "std":
        doc = msgspec.to_builtins(msgspec.structs.replace(STANDARD_EVENT, subject=marker))
    else:
        doc = json.loads(
            fixture(
                {"stripe": "stripe/invoice_paid.json", "wf": "forms/webflow_form_submission.json"}.get(
                    source, "shopify/orders_create.json"
                )
            )
        )
        doc["marker"] = marker
    body = json.dumps(doc).encode()
    delivery = unique()
    if how == "tampered":
        headers = signed_headers(source, body, delivery)
        body += b" "  # still the same JSON, no longer the signed bytes
    elif how == "wrong-secret":
        secret = "whsec_" + "b3RoZXJzZWNyZXQ=" if source in ("std",) else "other-secret"
        headers = signed_headers(source, body, delivery, secret=secret)
    elif how == "stale":
        headers = signed_headers(source, body, delivery, now=time.time() - 3600)
    elif how == "future":
        headers = signed_headers(source, body, delivery, now=time.time() + 3600)
    elif how == "missing":
        headers = {
            k: v
            for k, v in signed_headers(source, body, delivery).items()
            if "signature" not in k.lower() and "hmac" not in k.lower()
        }
    elif how == "garbage":
        headers = signed_headers(source, body, delivery)
        for k in list(headers):
            if "signature" in k.lower() or "hmac" in k.lower():
                headers[k] = "not base64 nor hex ✗".encode().decode("latin-1")
    elif how == "non-utf8":
        body = b'{"marker": "' + marker.encode() + b'\xff\xfe"}'
        headers = {
            k: "sha256=AAAA" if "signature" in k.lower() or "hmac" in k.lower() else v
            for k, v in signed_headers(source, body, delivery).items()
        }
    else:
        raise AssertionError(how)
    return body, headers


SIGNATURE_CASES = [
    ("shop", "tampered", "invalid_signature"),
    ("shop", "wrong-secret", "invalid_signature"),
    ("shop", "missing", "missing_signature"),
    ("shop", "garbage", "invalid_signature"),
    ("shop", "non-utf8", "invalid_signature"),
    ("stripe", "tampered", "invalid_signature"),
    ("stripe", "wrong-secret", "invalid_signature"),
    ("stripe", "stale", "timestamp_out_of_tolerance"),
    ("stripe", "missing", "missing_signature"),
    ("stripe", "garbage", "invalid_signature"),
    ("stripe", "non-utf8", "invalid_signature"),
    ("wf", "stale", "timestamp_out_of_tolerance"),
    ("wf", "future", "timestamp_out_of_tolerance"),
    ("wf", "wrong-secret", "invalid_signature"),
    ("std", "tampered", "invalid_signature"),
    ("std", "stale", "timestamp_out_of_tolerance"),
    ("std", "missing", "missing_signature"),
    ("std", "garbage", "invalid_signature"),
]


@pytest.mark.parametrize(("source", "how", "reason"), SIGNATURE_CASES, ids=[f"{s}-{h}" for s, h, _ in SIGNATURE_CASES])
async def test_a_bad_signature_is_a_401_with_a_stable_reason_and_nothing_is_published(
    gw: Gateway, source: str, how: str, reason: str
) -> None:
    marker = unique()
    body, headers = _bad_request(source, how, marker)
    before = gw.outcome_count(source, reason)
    status, resp_headers, problem = await gw.post(source, body, headers)
    assert status == 401
    assert resp_headers["Content-Type"].startswith("application/problem+json")
    assert problem["reason"] == reason and problem["status"] == 401 and problem["detail"]
    assert gw.outcome_count(source, reason) == before + 1
    await gw.assert_nothing_published(marker)


async def test_the_standard_webhooks_test_vector_verifies_but_is_stale(gw: Gateway) -> None:
    """The spec's known-answer vector passes the signature over HTTP; its 2021 timestamp does not."""
    v = json.loads(fixture("standard/test_vector.json"))
    headers = {
        "webhook-id": v["msg_id"],
        "webhook-timestamp": str(v["timestamp"]),
        "webhook-signature": v["expected_signature"],
    }
    status, _, problem = await gw.post("std", v["payload"].encode(), headers)
    assert (status, problem["reason"]) == (401, "timestamp_out_of_tolerance")


async def test_a_correctly_signed_non_utf8_body_is_a_400_and_nothing_is_published(gw: Gateway) -> None:
    marker = unique()
    body = b'{"id": "' + marker.encode() + b'", "name": "\xff\xfe"}'
    status, _, problem = await gw.post("shop", body, signed_headers("shop", body, unique()))
    assert (status, problem["reason"]) == (400, "invalid_body")
    await gw.assert_nothing_published(marker)


# --- resends -----------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["shop", "woo", "stripe", "stripe-checkout", "tf", "std"])
async def test_a_resent_delivery_is_published_once_sequentially_and_concurrently(gw: Gateway, source: str) -> None:
    if source == "stripe-checkout":  # one delivery, two events (the order and its payment)
        source, make_body = "stripe", lambda: fixture("stripe/checkout_session_completed.json")
    else:
        make_body = None
    make_body = make_body or {
        "shop": lambda: fixture("shopify/orders_create.json"),
        "woo": lambda: fixture("woocommerce/order_created.json"),
        "stripe": lambda: fixture("stripe/invoice_paid.json"),
        "tf": lambda: fixture("forms/typeform_form_response.json"),
        "std": lambda: encode_event(STANDARD_EVENT),
    }[source]
    before_dup = gw.outcome_count(source, "duplicate")

    # Concurrent: ten identical deliveries at once (the vendor retried while we were slow).
    delivery = unique()
    body = with_delivery_id(source, make_body(), delivery)
    headers = signed_headers(source, body, delivery)
    answers = await asyncio.gather(*(gw.post(source, body, headers) for _ in range(10)))
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200] * 9 + [202]
    ids = {tuple(a["event_ids"]) for _, _, a in answers}
    assert len(ids) == 1  # every answer names the same event ids
    assert sorted(a["status"] for _, _, a in answers) == ["accepted"] + ["duplicate"] * 9
    (event_ids,) = ids

    # Sequential: the same delivery again, later, freshly signed (a new timestamp).
    headers = signed_headers(source, body, delivery)
    status, _, answer = await gw.post(source, body, headers)
    assert (status, answer["status"], answer["event_ids"]) == (200, "duplicate", list(event_ids))
    assert gw.outcome_count(source, "duplicate") == before_dup + 10

    await gw.assert_nothing_published(unique())  # the canary orders everything before it
    per_id = [sum(1 for v in gw.watcher.values() if decode_event(v).id == i) for i in event_ids]
    assert per_id == [1] * len(event_ids)


# --- ignored, content types, limits, validation --------------------------------------------------


async def test_an_unknown_topic_is_answered_200_ignored_and_counted(gw: Gateway) -> None:
    marker = unique()
    body = json.dumps({"id": 1, "marker": marker}).encode()
    before = gw.outcome_count("shop", "ignored")
    status, _, answer = await gw.post("shop", body, signed_headers("shop", body, unique(), topic="products/update"))
    assert status == 200 and answer["status"] == "ignored" and "products/update" in answer["reason"]
    assert gw.outcome_count("shop", "ignored") == before + 1
    await gw.assert_nothing_published(marker)


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded"])
async def test_the_woocommerce_ping_passes_with_or_without_content_type(gw: Gateway, content_type: str | None) -> None:
    before = gw.outcome_count("woo", "ignored")
    status, _, answer = await gw.post("woo", b"webhook_id=42", {}, content_type)
    assert (status, answer["status"], answer["reason"]) == (200, "ignored", "ping")
    assert gw.outcome_count("woo", "ignored") == before + 1


@pytest.mark.parametrize(
    ("source", "body", "signed"),
    [
        ("woo", b"webhook_id=42&x=1", False),  # not exactly the ping
        ("woo", b"order", True),  # a signed non-ping
        ("shop", b"{}", True),
        ("website", b"email=a%40example.com", False),
    ],
)
async def test_a_missing_content_type_is_415_for_anything_but_the_ping(
    gw: Gateway, source: str, body: bytes, signed: bool
) -> None:
    headers = signed_headers(source, body, unique()) if signed else {}
    status, _, problem = await gw.post(source, body, headers, content_type=None)
    assert (status, problem["reason"]) == (415, "unsupported_media_type")
    assert "(none)" in problem["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/octet-stream"])
async def test_a_wrong_content_type_is_415_naming_what_is_accepted(gw: Gateway, content_type: str) -> None:
    marker = unique()
    body = json.dumps({"marker": marker}).encode()
    status, _, problem = await gw.post("shop", body, signed_headers("shop", body, unique()), content_type)
    assert (status, problem["reason"]) == (415, "unsupported_media_type")
    assert "application/json" in problem["detail"]
    await gw.assert_nothing_published(marker)


async def test_a_body_over_the_source_limit_is_413(gw: Gateway) -> None:
    body = fixture("shopify/orders_create.json")  # ~15 KB; `small` takes 2 KB
    assert len(body) > 2048
    before = gw.outcome_count("small", "payload_too_large")
    status, _, problem = await gw.post("small", body, signed_headers("small", body, unique()))
    assert (status, problem["reason"]) == (413, "payload_too_large")
    assert "2048" in problem["detail"]
    assert gw.outcome_count("small", "payload_too_large") == before + 1
    # The same body is fine where the default 1 MiB limit applies (a version of the order
    # no other test sends: the signed body's order id and version name the delivery).
    delivery = unique()
    body = with_delivery_id("shop", body, delivery)
    status, _, _ = await gw.post("shop", body, signed_headers("shop", body, delivery))
    assert status == 202


async def test_a_flood_is_answered_429_with_retry_after(gw: Gateway) -> None:
    bodies = [json.dumps({"id": i}).encode() for i in range(5)]
    answers = [
        await gw.post("limited", b, signed_headers("limited", b, unique(), topic="products/update")) for b in bodies
    ]
    assert [s for s, _, _ in answers[:3]] == [200, 200, 200]  # the burst allowance (3/min)
    for status, headers, problem in answers[3:]:
        assert (status, problem["reason"]) == (429, "rate_limited")
        assert int(headers["Retry-After"]) >= 1
    assert gw.outcome_count("limited", "rate_limited") == 2
    status, _, _ = await gw.post("shop", bodies[0], signed_headers("shop", bodies[0], unique(), topic="x/y"))
    assert status == 200  # other sources have their own bucket


async def test_invalid_fields_are_a_422_listing_each_json_path(gw: Gateway) -> None:
    marker = unique()
    doc = json.loads(fixture("shopify/orders_create.json"))
    doc["total_price"] = "lots"
    doc["line_items"][1]["price"] = {"amount": 1}
    doc["currency"] = None
    doc["note"] = marker
    doc["updated_at"] = marker  # a version of the order no other test sends
    body = json.dumps(doc).encode()
    status, _, problem = await gw.post("shop", body, signed_headers("shop", body, unique()))
    assert (status, problem["reason"]) == (422, "invalid_payload")
    paths = {e["path"] for e in problem["errors"]}
    assert {"$.total_price", "$.line_items[1].price", "$.currency"} <= paths
    assert all(e["message"] for e in problem["errors"])
    await gw.assert_nothing_published(marker)


async def test_a_standard_body_that_is_not_an_event_is_a_422_naming_the_field(gw: Gateway) -> None:
    doc = msgspec.to_builtins(STANDARD_EVENT)
    doc["data"]["total"] = "not money"
    body = json.dumps(doc).encode()
    status, _, problem = await gw.post("std", body, signed_headers("std", body, unique()))
    assert (status, problem["reason"]) == (422, "invalid_payload")
    assert [e["path"] for e in problem["errors"]] == ["$.data.total"]


async def test_an_unknown_source_is_a_404(gw: Gateway) -> None:
    status, _, problem = await gw.post("nope", b"{}", {})
    assert (status, problem["reason"]) == (404, "unknown_source")


# --- metrics -----------------------------------------------------------------------------------


async def test_outcomes_and_durations_are_measured_per_source(gw: Gateway) -> None:
    registry = gw.runtime.metrics.registry

    def duration_count() -> float:
        return registry.get_sample_value("handover_webhook_duration_seconds_count", {"source": "tally"}) or 0.0

    counts_before = {o: gw.outcome_count("tally", o) for o in ("accepted", "duplicate", "ignored", "invalid_signature")}
    observed_before = duration_count()
    delivery = unique()
    body = with_delivery_id("tally", fixture("forms/tally_form_response.json"), delivery)
    for _ in range(2):  # accepted, then duplicate
        await gw.post("tally", body, signed_headers("tally", body, delivery))
    other = json.dumps({"eventId": unique(), "eventType": "SOMETHING_ELSE"}).encode()
    await gw.post("tally", other, signed_headers("tally", other, ""))
    await gw.post("tally", body, {"Tally-Signature": "AAAA"})
    after = {o: gw.outcome_count("tally", o) for o in counts_before}
    assert after == {o: counts_before[o] + 1 for o in counts_before}
    assert duration_count() == observed_before + 4
    # Every outcome series exists from the start, at 0 where nothing happened.
    assert (
        registry.get_sample_value(
            "handover_webhooks_received_total", {"source": "tally", "outcome": "broker_unavailable"}
        )
        == 0.0
    )


@pytest.mark.parametrize(
    ("source", "body"),
    [
        ("shop", b"[" * 100_000 + b"]" * 100_000),
        ("website", b"[" * 2_000 + b"]" * 2_000),  # this source's body limit is 8 KiB
        ("std", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
    ],
    ids=["signed-shopify-deep-array", "form-deep-array", "standard-deep-object"],
)
async def test_deeply_nested_json_is_a_400_not_a_500(gw: Gateway, source: str, body: bytes) -> None:
    """A hostile body nested beyond the decoder's limit is refused as invalid, and nothing is published."""
    delivery = harness.unique()
    status, _, problem_body = await gw.post(source, body, harness.signed_headers(source, body, delivery))
    assert status == 400, problem_body
    assert problem_body["reason"] == "invalid_body" and "nested too deeply" in problem_body["detail"]
    await gw.assert_nothing_published(delivery)


async def test_a_large_signed_body_arriving_in_pieces_is_verified_whole(gw: Gateway) -> None:
    """A 300 KB Shopify order sent in 4 KB chunks: the signature covers all of it, so it is accepted."""
    doc = json.loads(fixture("shopify/orders_create.json"))
    marker = unique()
    doc["note"] = marker + " " + "é" * 150_000
    doc["updated_at"] = marker  # a version of the order no other test sends
    body = json.dumps(doc, ensure_ascii=False).encode()
    assert len(body) > 300_000

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 4096):
            yield body[i : i + 4096]

    headers = {"Content-Type": "application/json", **signed_headers("shop", body, unique())}
    async with gw.http.post(gw.url("shop"), data=pieces(), headers=headers) as r:
        assert r.status == 202, await r.text()
    await wait_for(lambda: gw.published(marker))
