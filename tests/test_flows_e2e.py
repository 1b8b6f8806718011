"""Flows end to end on the real broker: signed vendor webhooks fan out to HubSpot, Moneybird,
any HTTP API and e-mail (local servers that follow the vendors' documented APIs), exactly once,
with every value as the source sent it."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import pytest

from schemas import AnyEvent, decode_event, to_builtins
from services.common.embedded_broker import EmbeddedBroker
from services.gateway.sources.base import event_id
from services.runtime import Parts, Runtime
from tests.config import QUICK_REBALANCE, action, flow, make_settings
from tests.conftest import Inbox, wait_for
from tests.gateway import signing
from tests.gateway.fake_stripe import FakeStripe
from tests.sync.fakes.http import FakeReceiver
from tests.sync.fakes.hubspot import FakeHubspot
from tests.sync.fakes.moneybird import FakeMoneybird

SECRET = "shpss_0123456789abcdef"
STRIPE_SECRET = "whsec_0123456789abcdef"  # a Stripe endpoint secret is always whsec_...
TOKEN = "test-token"
STRIPE_SESSION = "cs_test_a1enSAC01IA3Ps2vL32mNoWKMCNmmfUGTeEeHXI5tLCvyFNGsdG2UNA7mr"  # Stripe's docs' session

FLOWS = [
    flow("Contact form follow-up", "contact.submitted",
         action("crm", "upsert_contact", minutes_saved=3),
         action("crm", "create_task", name="follow_up", minutes_saved=2, options={"due_in_working_days": 1},
                fields={"subject": "Call back {{ contact.display_name }}", "body": "{{ contact.message }}"}),
         action("mail", "send_email", minutes_saved=2),
         when="contact.email != ''"),
    flow("Big orders", "order.created", action("hook", "send", name="big_order"), when="order.total >= 100"),
    flow("Order to books", "order.created",
         action("books", "create_sales_invoice", minutes_saved=6),
         action("crm", "upsert_contact", name="order_contact")),
    *(flow(f"{t} to hook", t, action("hook", "send"))
      for t in ("contact.submitted", "customer.created", "order.created", "payment.received")),
]


@dataclass
class World:
    """A running Handover plus the vendor fakes it delivers to."""

    runtime: Runtime
    http: aiohttp.ClientSession
    hubspot: FakeHubspot
    moneybird: FakeMoneybird
    receiver: FakeReceiver
    inbox: Inbox
    stripe: FakeStripe

    def url(self, source: str) -> str:
        return f"{self.runtime.base_url}/hooks/{source}"

    def hooked(self, eid: str, flow: str = "") -> list[dict[str, Any]]:
        """Bodies the HTTP target received for one event id (through one flow, if named)."""
        return [
            r.json for r in self.receiver.requests
            if isinstance(r.json, dict) and r.json.get("id") == eid
            and r.headers.get("Idempotency-Key", "").startswith(f"{eid}:{flow}")
        ]


@pytest.fixture(scope="module")
async def world(
    broker: EmbeddedBroker, smtp_server: tuple[str, int, Inbox], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    """Fakes, then one Handover with every source kind and four targets, shared by the module."""
    hubspot, moneybird, receiver = FakeHubspot(TOKEN), FakeMoneybird(TOKEN), FakeReceiver(TOKEN)
    stripe = FakeStripe()
    for fake in (hubspot, moneybird, receiver, stripe):
        await fake.start()
    # Moneybird knows a 0% rate (the Shopify sample charged no tax) and WooCommerce's 7.5% state tax.
    moneybird.tax_rate_ids.update({"400000000000000009", "400000000000000075"})
    # Stripe's API knows the line items of the sample session and of the docs' session.
    items = msgspec.json.decode(signing.fixture("stripe/checkout_session_line_items.json"))["data"]
    stripe.sessions[STRIPE_SESSION] = items
    sample = json.loads(signing.fixture("stripe/checkout_session_completed.json"))["data"]["object"]["id"]
    stripe.sessions[sample] = items
    _, smtp_port, inbox = smtp_server
    data_dir = tmp_path_factory.mktemp("flows")
    settings = make_settings(
        data_dir, broker.bootstrap_servers, kafka=QUICK_REBALANCE, sync={"backoff_initial_s": 0.05},
        sources={
            "website": {"kind": "form"},
            "shop": {"kind": "shopify", "secret": SECRET},
            "woo": {"kind": "woocommerce", "secret": SECRET},
            "stripe": {"kind": "stripe", "secret": STRIPE_SECRET, "api_key_env": "STRIPE_KEY", "api_base": stripe.url},
            "typeform": {"kind": "typeform", "secret": SECRET},
            "tally": {"kind": "tally", "secret": SECRET},
            "webflow": {"kind": "webflow", "secret": SECRET},
        },
        targets={
            "crm": {"kind": "hubspot", "base_url": hubspot.url, "secret": TOKEN},
            "books": {"kind": "moneybird", "base_url": f"{moneybird.url}/api/v2",
                      "administration_id": "123456789012345678", "secret": TOKEN,
                      "tax_rates": {"0": "400000000000000009", "21": "400000000000000021",
                                    "7.5": "400000000000000075"}},
            "hook": {"kind": "http", "url": receiver.url + "/events/{{ event.type }}",
                     "headers": {"Authorization": "Bearer {secret}"}, "sign": False, "secret": TOKEN},
            "mail": {"kind": "smtp", "host": "127.0.0.1", "port": smtp_port},
        },
        flows=FLOWS, env={"STRIPE_KEY": stripe.token},
    )
    runtime = Runtime(settings, Parts(recorder=False))
    await runtime.start()
    assert runtime.sync is not None
    await runtime.sync.wait_assigned(60)
    async with aiohttp.ClientSession() as http:
        yield World(runtime, http, hubspot, moneybird, receiver, inbox, stripe)
    await runtime.stop()
    for fake in (hubspot, moneybird, receiver, stripe):
        await fake.close()


async def test_a_contact_form_fans_out_to_one_contact_one_task_and_one_mail(world: World) -> None:
    email = f"zoë.{uuid.uuid4().hex[:6]}@example.nl"
    form = {"email": email, "first_name": "Zoë", "last_name": "Ålesund-Ørsted",
            "phone": "+31 (0)6 1234 5678", "message": "Bel me even terug ☎"}
    async with world.http.post(world.url("website"), data=form) as r:
        assert r.status == 202
        [eid] = (await r.json())["event_ids"]

    def mails() -> list[Any]:
        return [m for env, m in world.inbox.messages if email in env.rcpt_tos]

    def tasks() -> list[dict[str, Any]]:
        contact = world.hubspot.contacts.get(email.lower())
        return [t for t in world.hubspot.tasks.values()
                if contact and any(a["to"]["id"] == contact["id"] for a in t["associations"])]

    await wait_for(lambda: tasks() and mails() and world.hooked(eid))
    contact = world.hubspot.contacts[email.lower()]
    assert contact["properties"] == {
        "email": email, "firstname": "Zoë", "lastname": "Ålesund-Ørsted", "phone": "+31 (0)6 1234 5678",
    }
    [task] = tasks()
    assert task["properties"]["hs_task_subject"] == "Call back Zoë Ålesund-Ørsted"
    # The body is the message, then the marker line a lookup finds the task by (#18).
    body, _, marker = task["properties"]["hs_task_body"].rpartition("\n\n")
    assert body == "Bel me even terug ☎" and marker.startswith("Handover ref ")
    due = dt.datetime.fromisoformat(task["properties"]["hs_timestamp"].replace("Z", "+00:00"))
    submitted = dt.datetime.now(dt.UTC)
    expected_day = submitted.date() + dt.timedelta(days={4: 3, 5: 2}.get(submitted.weekday(), 1))
    assert due.date() == expected_day  # one working day later (Friday -> Monday)
    assert len(mails()) == 1
    # Exactly once: one upsert call for this e-mail, one task, one mail.
    upserts = [r for r in world.hubspot.calls("POST", "batch/upsert")
               if any(i["id"] == email for i in (r.json or {}).get("inputs", []))]
    assert len(upserts) == 2  # the upsert_contact action and the task's own contact lookup


async def test_a_shopify_order_becomes_one_moneybird_invoice_and_a_crm_contact(world: World) -> None:
    # A unique order name: other test modules publish the same sample on the session's broker.
    name = f"#9999-{uuid.uuid4().hex[:8]}"
    body = signing.fixture("shopify/orders_create.json").replace(b'"name": "#9999"', f'"name": "{name}"'.encode(), 1)
    # A version of the order no other test sends: the signed body's id and updated_at name it.
    body = body.replace(b'"updated_at": "2021-12-31T19:00:00-05:00"', f'"updated_at": "{name}"'.encode(), 1)
    assert name.encode() in body
    delivery = f"w-{uuid.uuid4()}"
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
               "X-Shopify-Webhook-Id": delivery, **signing.shopify(SECRET, body)}
    async with world.http.post(world.url("shop"), data=body, headers=headers) as r:
        assert r.status == 202, await r.text()
        [eid] = (await r.json())["event_ids"]
    payload = msgspec.json.decode(body)

    def invoices() -> list[dict[str, Any]]:
        return [i for i in world.moneybird.invoices.values() if i.get("reference") == payload["name"]]

    await wait_for(lambda: invoices() and "jon@example.com" in world.hubspot.contacts)
    [invoice] = invoices()
    assert invoice["currency"] == payload["currency"]
    assert invoice["prices_are_incl_tax"] == payload["taxes_included"]
    lines = [d for d in invoice["details_attributes"] if d["description"] not in ("Shipping", "Discount")]
    assert [(d["description"], d["amount"], d["price"]) for d in lines] == [
        (item["title"], str(item["quantity"]), item["price"]) for item in payload["line_items"]
    ]
    assert invoice_total(invoice) == Decimal(payload["total_price"])  # 414.95 + 10.00 shipping - 20.00
    contact = world.moneybird.contacts[invoice["contact_id"]]
    assert contact["customer_id"] == str(payload["customer"]["id"])  # a 64-bit id, exact
    assert contact["company_name"] == payload["billing_address"]["company"]
    # A resend of the same delivery changes nothing anywhere.
    async with world.http.post(world.url("shop"), data=body, headers=headers) as r:
        assert r.status == 200 and (await r.json())["status"] == "duplicate"
    await wait_for(lambda: world.hooked(eid))
    assert len(invoices()) == 1


FIXTURES = [
    ("shop", "shopify/orders_create.json", lambda b, d: {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": d,
                                                        **signing.shopify(SECRET, b)}),
    ("shop", "shopify/customers_create.json", lambda b, d: {"X-Shopify-Topic": "customers/create",
                                                           "X-Shopify-Webhook-Id": d, **signing.shopify(SECRET, b)}),
    ("woo", "woocommerce/order_created.json", lambda b, d: {"X-WC-Webhook-Topic": "order.created",
                                                           "X-WC-Webhook-Delivery-ID": d,
                                                           **signing.woocommerce(SECRET, b)}),
    ("stripe", "stripe/checkout_session_completed.json",
     lambda b, d: signing.stripe(STRIPE_SECRET, b, int(time.time()))),
    ("stripe", "stripe/invoice_paid.json", lambda b, d: signing.stripe(STRIPE_SECRET, b, int(time.time()))),
    ("typeform", "forms/typeform_form_response.json", lambda b, d: signing.typeform(SECRET, b)),
    ("tally", "forms/tally_form_response.json", lambda b, d: signing.tally(SECRET, b)),
    ("webflow", "forms/webflow_form_submission.json",
     lambda b, d: signing.webflow(SECRET, b, int(time.time() * 1000))),
]


def fresh(source: str, body: bytes, delivery: str) -> bytes:
    """The sample as a delivery no other test sends: what names it is in the signed body (the
    event id for Stripe, the resource's version for Shopify and WooCommerce)."""
    # Both Stripe samples carry the same placeholder event id, which the gateway rightly dedupes.
    body = body.replace(b"evt_000000000000000000000000", f"evt_{uuid.uuid4().hex[:24]}".encode(), 1)
    if source in ("shop", "woo"):
        doc = json.loads(body)
        doc["updated_at" if source == "shop" else "date_modified_gmt"] = delivery
        body = json.dumps(doc, ensure_ascii=False).encode()
    return body


def _comparable(event: AnyEvent) -> dict[str, Any]:
    data = to_builtins(event)
    for volatile in ("received_at", "time"):  # set at intake for forms; compared separately
        data.pop(volatile, None)
    return data


@pytest.mark.parametrize(("source", "path", "headers"), FIXTURES, ids=[f[1] for f in FIXTURES])
async def test_every_fixture_reaches_the_http_target_with_its_values_unchanged(
    world: World, source: str, path: str, headers: Any
) -> None:
    delivery = f"d-{uuid.uuid4()}"
    body = fresh(source, signing.fixture(path), delivery)
    hdrs = {"Content-Type": "application/json", **headers(body, delivery)}
    async with world.http.post(world.url(source), data=body, headers=hdrs) as r:
        assert r.status == 202, await r.text()
        eids = (await r.json())["event_ids"]
    # What the source maps the payload to (its own tests compare that with the payload field by field).
    src = world.runtime.settings.sources[source]
    from services.gateway.sources import source_kinds

    parser = source_kinds()[src.kind](src)
    inbound = signing.inbound(source, body, hdrs)
    delivery_id = parser.delivery_key(inbound)
    assert delivery_id is not None
    expected = parser.parse(inbound, event_id(source, delivery_id))
    assert isinstance(expected, list) and [e.id for e in expected] == eids
    expected = await parser.enrich(expected, world.http)  # a Checkout order's lines, from Stripe's API
    types = [e.type for e in expected]

    await wait_for(lambda: all(world.hooked(e, f"{e_type} to hook") for e, e_type in zip(eids, types, strict=True)))
    for event in expected:
        [arrived] = world.hooked(event.id, f"{event.type} to hook")
        received = decode_event(msgspec.json.encode(arrived))
        assert _comparable(received) == _comparable(event)
        if hasattr(event.data, "total"):
            assert isinstance(received.data.total, Decimal) and received.data.total == event.data.total


async def test_conditions_decide_which_orders_take_the_big_order_flow(world: World) -> None:
    d1, d2 = f"b-{uuid.uuid4()}", f"s-{uuid.uuid4()}"
    big = fresh("shop", signing.fixture("shopify/orders_create.json"), d1)  # total 404.95 USD
    small = fresh("woo", signing.fixture("woocommerce/order_created.json"), d2)  # total 29.35 USD
    async with world.http.post(world.url("shop"), data=big, headers={
        "Content-Type": "application/json", "X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": d1,
        **signing.shopify(SECRET, big)}) as r:
        [big_id] = (await r.json())["event_ids"]
    async with world.http.post(world.url("woo"), data=small, headers={
        "Content-Type": "application/json", "X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Delivery-ID": d2,
        **signing.woocommerce(SECRET, small)}) as r:
        [small_id] = (await r.json())["event_ids"]
    # The hook target handles "Big orders" before "order.created to hook" for each event, so once
    # both events reached the catch-all flow, the condition has been decided for both.
    await wait_for(lambda: len(world.hooked(big_id)) == 2 and len(world.hooked(small_id)) >= 1)
    assert len(world.hooked(small_id)) == 1
    ledger = world.runtime.ledger
    assert ledger is not None
    assert (await ledger.delivery(f"{big_id}:Big orders:big_order")) is not None
    assert (await ledger.delivery(f"{small_id}:Big orders:big_order")) is None


def invoice_total(invoice: dict[str, Any]) -> Decimal:
    """What Moneybird would total: each rate's net plus its tax, to the cent (rates by id)."""
    percent = {"400000000000000009": Decimal(0), "400000000000000021": Decimal(21),
               "400000000000000075": Decimal("7.5")}
    by_rate: dict[str, Decimal] = {}
    for d in invoice["details_attributes"]:
        net = Decimal(d["amount"]) * Decimal(d["price"])
        by_rate[d["tax_rate_id"]] = by_rate.get(d["tax_rate_id"], Decimal(0)) + net
    tax = sum(((net * percent[r] / 100).quantize(Decimal("0.01")) for r, net in by_rate.items()), Decimal(0))
    return sum(by_rate.values(), Decimal(0)) + tax


@pytest.mark.parametrize("path", ["woocommerce/order_created.json", "woocommerce/order_created_coupon.json"])
async def test_a_woocommerce_order_becomes_a_moneybird_invoice_adding_up_to_its_total(world: World, path: str) -> None:
    # WooCommerce's documented order 727 (7.5% state tax, untaxed shipping) and 727 with a coupon.
    delivery = f"w-{uuid.uuid4()}"
    doc = json.loads(signing.fixture(path))
    doc["number"] = f"{doc['number']}-{uuid.uuid4().hex[:8]}"  # other modules publish the same sample
    body = fresh("woo", json.dumps(doc).encode(), delivery)
    headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": "order.created",
               "X-WC-Webhook-Delivery-ID": delivery, **signing.woocommerce(SECRET, body)}
    async with world.http.post(world.url("woo"), data=body, headers=headers) as r:
        assert r.status == 202, await r.text()

    def invoices() -> list[dict[str, Any]]:
        return [i for i in world.moneybird.invoices.values() if i.get("reference") == doc["number"]]

    [invoice] = await wait_for(invoices)
    assert invoice_total(invoice) == Decimal(doc["total"])
    assert "Discount" not in [d["description"] for d in invoice["details_attributes"]]  # the coupon, once


async def test_a_stripe_checkout_becomes_a_moneybird_invoice_with_the_lines_fetched_from_stripe(world: World) -> None:
    doc = json.loads(signing.fixture("stripe/checkout_session_completed.json"))
    reference = f"ref-{uuid.uuid4().hex[:8]}"
    doc["id"] = f"evt_{uuid.uuid4().hex[:24]}"
    # The docs' session and its line items (2 x T-shirt, 21.98 USD), bought by the docs' Jenny Rosen.
    doc["data"]["object"].update(id=STRIPE_SESSION, amount_subtotal=2198, amount_total=2198,
                                 client_reference_id=reference)
    doc["data"]["object"]["customer_details"]["name"] = "Jenny Rosen"
    body = json.dumps(doc).encode()
    headers = {"Content-Type": "application/json", **signing.stripe(STRIPE_SECRET, body, int(time.time()))}
    async with world.http.post(world.url("stripe"), data=body, headers=headers) as r:
        assert r.status == 202, await r.text()

    def invoices() -> list[dict[str, Any]]:
        return [i for i in world.moneybird.invoices.values() if i.get("reference") == reference]

    [invoice] = await wait_for(invoices)
    assert [(d["description"], d["amount"], d["price"]) for d in invoice["details_attributes"]] == [
        ("T-shirt", "2", "10.99")]
    assert invoice_total(invoice) == Decimal("21.98")
    contact = world.moneybird.contacts[invoice["contact_id"]]
    assert (contact["firstname"], contact["lastname"]) == ("Jenny", "Rosen")


async def test_a_one_field_name_form_reaches_hubspot_split_and_the_flows_with_the_name_as_typed(world: World) -> None:
    email = f"jan.{uuid.uuid4().hex[:6]}@example.nl"
    async with world.http.post(world.url("website"), data={"email": email, "name": "Jan van der Berg"}) as r:
        assert r.status == 202
        [eid] = (await r.json())["event_ids"]
    await wait_for(lambda: email in world.hubspot.contacts and world.hooked(eid))
    props = world.hubspot.contacts[email]["properties"]
    assert (props["firstname"], props["lastname"]) == ("Jan", "van der Berg")
    [hooked] = world.hooked(eid, "contact.submitted to hook")
    assert hooked["data"]["contact"]["name"] == "Jan van der Berg"
