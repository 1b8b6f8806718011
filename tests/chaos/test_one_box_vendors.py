"""The one box against vendor APIs that honour no idempotency key, under fire: `handover run`
(embedded broker, SQLite ledger) makes Moneybird invoices and Pipedrive activities for orders
(of a few returning buyers), HubSpot contacts and tasks for contact forms, Pipedrive persons and
activities for new customers, while the fakes lose answers after doing the work (late, reset,
5xx), fail plainly (500, 429), their searches lag, and the whole box is SIGKILLed three times:
once by Moneybird right after it stored an invoice, once at a random moment, once broker first.
The effects are counted AT THE VENDORS by business key (invoice reference, the task's or
activity's marker, the contact's or person's e-mail, the contact's customer_id): every action
of every webhook answered 2xx took effect exactly once, or is an ambiguous dead letter in the
ledger, never two; and the owner's `handover replay` of those makes each exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import sqlite3
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from services.common.embedded_broker import free_port
from services.sync.connectors.base import marker_token
from tests.chaos.checker import Sent, VendorAction, check_vendor_effects
from tests.chaos.test_one_box import OneBox, _zombie, accepted_event_ids, finished
from tests.chaos.world import FIXTURES, KAFKA, REPO, SECRETS, SOURCES, SYNC, UNLIMITED, Sender, Webhook
from tests.config import action, config_toml, flow
from tests.conftest import wait_for
from tests.gateway import signing
from tests.sync.fakes import FakeVendor, RandomFaults
from tests.sync.fakes.hubspot import FakeHubspot
from tests.sync.fakes.moneybird import FakeMoneybird
from tests.sync.fakes.pipedrive import FakePipedrive

pytestmark = pytest.mark.slow

# The fixtures' orders charge no tax (the WooCommerce one is made so: a Woo line names no rate).
# WooCommerce's sample order charges a 7.5% state tax (order 727): Moneybird needs that rate too.
TAX_IDS = {"0": "400000000000000000", "21": "400000000000000021", "7.5": "400000000000000075"}


def vendors_config(data_dir: Path, port: int, mb: str, hs: str, pd: str) -> str:
    """`handover run` on its embedded broker: orders to Moneybird invoices and Pipedrive activities,
    contact forms to HubSpot contacts and tasks, new customers to Pipedrive persons and activities."""
    return config_toml(
        data_dir, server={"port": port}, ledger={"url": f"sqlite:///{data_dir}/ledger.db"},
        logging={"level": "info", "format": "json"}, kafka=KAFKA, sync={**SYNC, "breaker_threshold": 1_000_000},
        sources={"shop": SOURCES["shop"], "woo": SOURCES["woo"], "website": {"kind": "form", **UNLIMITED}},
        targets={
            "books": {"kind": "moneybird", "administration_id": "123456789012345678", "base_url": f"{mb}/api/v2",
                      "secret": "test-token", "tax_rates": TAX_IDS, "rate_limit": 1_000_000},
            "crm": {"kind": "hubspot", "base_url": hs, "secret": "test-token"},
            "pd": {"kind": "pipedrive", "base_url": pd, "secret": "test-token"},
        },
        flows=[
            flow("invoices", "order.created", action("books", "create_sales_invoice"), action("pd", "create_activity")),
            flow("leads", "contact.submitted", action("crm", "upsert_contact"), action("crm", "create_task")),
            flow("customers", "customer.created", action("pd", "upsert_person"), action("pd", "create_activity")),
        ],
    )


# (flow, action key, target) of each kind of webhook, and what the vendor counts the effect by.
ACTIONS = {
    "order": {("invoices", "create_sales_invoice", "books"), ("invoices", "create_activity", "pd")},
    "form": {("leads", "upsert_contact", "crm"), ("leads", "create_task", "crm")},
    "customer": {("customers", "upsert_person", "pd"), ("customers", "create_activity", "pd")},
}
MARKER = re.compile(r"Handover ref ([0-9a-f]{32})\s*$")


@dataclass
class Vendors:
    """The three fakes, each under a path of its own."""

    moneybird: FakeMoneybird
    hubspot: FakeHubspot
    pipedrive: FakePipedrive

    def all(self) -> tuple[FakeVendor, ...]:
        """Every fake."""
        return self.moneybird, self.hubspot, self.pipedrive


@pytest.fixture
async def vendors() -> AsyncIterator[Vendors]:
    """The fakes, misbehaving on their creates (and now and then on their lookups)."""
    rng = random.Random(1818)
    v = Vendors(FakeMoneybird(tax_rate_ids=tuple(TAX_IDS.values())), FakeHubspot(), FakePipedrive())

    def creates(path: str) -> RandomFaults:
        # A plain 500 may have stored nothing (so the lookup finds nothing, the create goes again
        # and may meet another): kept low, as each costs the vendor's 10 s search lag.
        return RandomFaults("POST", path, rng, error_500=0.03, throttle_429=0.03,
                            late=0.05, reset=0.05, error_after=0.05)

    v.moneybird.misbehave(creates("/sales_invoices.json"), creates("/contacts.json"),
                          RandomFaults("GET", "/api/v2/", rng, error_500=0.05))
    v.hubspot.misbehave(RandomFaults("POST", "/tasks/search", rng, error_500=0.05), creates("/crm/v3/objects/"))
    # A person's create loses its answer more often: the next order of that buyer must not make
    # a second person while Pipedrive's search cannot see the first yet.
    persons = RandomFaults("POST", "/api/v2/persons", rng, error_500=0.02, late=0.12, reset=0.1, error_after=0.1)
    v.pipedrive.misbehave(persons, creates("/api/v2/"), RandomFaults("GET", "/api/v2/", rng, error_500=0.05))
    for fake in v.all():
        fake.prefix = f"/{uuid.uuid4().hex[:8]}"
        fake.late_s = 2.0  # past the 1 s delivery timeout
        await fake.start()
    v.pipedrive.index_lag_s = 3.0  # its person search sees a new person 3 s after the create
    v.hubspot.search_lag_s = 3.0  # and HubSpot's a new task
    yield v
    for fake in v.all():
        await fake.close()


def vendor_webhook(rng: random.Random, n: int, run: str) -> tuple[Webhook, str, str]:
    """A signed order, contact form or new customer, with the business key the vendor will
    hold it by: (the delivery, its kind, its order number or e-mail)."""
    d = f"vendor-{n}-{uuid.uuid4().hex[:12]}"
    kind = rng.choice(["shop_order", "woo_order", "form", "shop_customer"])
    if kind == "form":
        email = f"lead-{d}@example.com"
        raw = f"email={aiohttp.helpers.quote(email, safe='')}&name=Zo%C3%AB+{n}&message=Bel+me".encode()
        w = Webhook(Sent(d, "website"), "/hooks/website", raw, "application/x-www-form-urlencoded",
                    lambda b: {"Idempotency-Key": d})
        return w, "form", email
    doc = json.loads(json.dumps(FIXTURES[kind]))
    uid = rng.randrange(10**12, 10**13)
    if kind == "shop_customer":
        email = f"buyer-{d}@example.com"
        doc["id"], doc["email"] = uid, email
        headers = {"X-Shopify-Topic": "customers/create", "X-Shopify-Webhook-Id": d, "X-Shopify-Event-Id": d}
        w = Webhook(Sent(d, "shop"), "/hooks/shop", json.dumps(doc).encode(), "application/json",
                    lambda b: {**headers, **signing.shopify(SECRETS["shop"], b)})
        return w, "customer", email
    # Orders come from a few returning buyers: several orders of one buyer at once race for
    # its Moneybird contact and its Pipedrive person.
    buyer = rng.randrange(6)
    if kind == "shop_order":
        number = f"#V{n}"
        doc["id"], doc["name"], doc["order_number"] = uid, number, n
        doc["email"] = doc["customer"]["email"] = f"shopper-{buyer}-{run}@example.com"
        doc["customer"]["id"] = 7_000_000 + buyer
        headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": d, "X-Shopify-Event-Id": d}
        w = Webhook(Sent(d, "shop"), "/hooks/shop", json.dumps(doc).encode(), "application/json",
                    lambda b: {**headers, **signing.shopify(SECRETS["shop"], b)})
        return w, "order", number
    number = f"VW{n}"
    doc["customer_id"], doc["billing"]["email"] = 8_000_000 + buyer, f"woo-{buyer}-{run}@example.com"
    doc["id"], doc["number"], doc["total_tax"], doc["cart_tax"], doc["tax_lines"] = uid, number, "0.00", "0.00", []
    doc["total"] = "28.00"  # the lines and shipping without the tax taken off: the invoice must add up
    for line in doc["line_items"]:
        line["total_tax"], line["subtotal_tax"], line["taxes"] = "0.00", "0.00", []
    headers = {"X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Delivery-ID": d, "X-WC-Webhook-ID": "3"}
    w = Webhook(Sent(d, "woo"), "/hooks/woo", json.dumps(doc).encode(), "application/json",
                lambda b: {**headers, **signing.woocommerce(SECRETS["woo"], b)})
    return w, "order", number


def business_key(action: str, idempotency_key: str, value: str) -> str:
    """What the vendor counts this action's effect by."""
    if action in ("create_task", "create_activity"):
        return f"marker {marker_token(idempotency_key)}"
    if action in ("upsert_contact", "upsert_person"):
        return f"e-mail {value.lower()}"
    return f"reference {value}"


def vendor_effects(v: Vendors) -> tuple[dict[tuple[str, str], list[str]], dict[tuple[str, str], list[str]]]:
    """(target, business key) -> ids of the records each vendor holds; and Moneybird's contacts
    per customer_id (no action of their own, once each)."""
    effects: dict[tuple[str, str], list[str]] = defaultdict(list)
    for inv in v.moneybird.invoices.values():
        effects[("books", f"reference {inv['reference']}")].append(inv["id"])
    for email, contact in v.hubspot.contacts.items():
        effects[("crm", f"e-mail {email}")].append(contact["id"])
    for task in v.hubspot.tasks.values():
        m = MARKER.search(str(task["properties"].get("hs_task_body") or ""))
        effects[("crm", f"marker {m.group(1) if m else '(none)'}")].append(task["id"])
    for person in v.pipedrive.persons.values():
        for email in {e["value"].lower() for e in person.get("emails", [])}:
            effects[("pd", f"e-mail {email}")].append(str(person["id"]))
    for activity in v.pipedrive.activities.values():
        m = MARKER.search(str(activity.get("note") or ""))
        effects[("pd", f"marker {m.group(1) if m else '(none)'}")].append(str(activity["id"]))
    natural: dict[tuple[str, str], list[str]] = defaultdict(list)
    for contact in v.moneybird.contacts.values():
        natural[("books", f"customer_id {contact.get('customer_id')}")].append(contact["id"])
    return effects, natural


def buyers_apart(actions: list[VendorAction], effects: dict[tuple[str, str], list[str]],
                 natural: dict[tuple[str, str], list[str]]) -> None:
    """The persons of the order buyers (made by the orders' activities, not by an upsert of
    their own) count as natural keys: one person per e-mail, however many orders."""
    wanted = {(a.target, a.business) for a in actions}
    for key in [k for k in effects if k[0] == "pd" and k[1].startswith("e-mail ") and k not in wanted]:
        natural[key] = effects.pop(key)


def ledger_actions(db: Path, business: dict[str, tuple[str, str]]) -> list[VendorAction]:
    """Every expected action of the accepted events (event id -> (kind, business value)), as the
    ledger finished it; each event's actions must be exactly those its kind's flows ask for."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        expected = conn.execute("SELECT event_id, flow, action, target FROM expected_actions").fetchall()
        rows = {k: (s, x, e) for k, s, x, e in conn.execute(
            "SELECT key, status, external_id, last_error FROM deliveries")}
    finally:
        conn.close()
    per_event: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    for event_id, flow_name, action_key, target in expected:
        if event_id in business:
            per_event[event_id].add((flow_name, action_key, target))
    out = []
    for event_id, (kind, value) in business.items():
        # An accepted event without them would never be delivered (nor re-driven): lost.
        assert per_event[event_id] == ACTIONS[kind], (
            f"accepted {kind} event {event_id} expects {sorted(per_event[event_id])} in the ledger, "
            f"its flows ask for {sorted(ACTIONS[kind])}")
        for flow_name, action_key, target in sorted(per_event[event_id]):
            key = f"{event_id}:{flow_name}:{action_key}"
            status, external_id, error = rows.get(key, ("", "", ""))
            out.append(VendorAction(key, target, business_key(action_key, key, value), status,
                                    external_id, error))
    return out


async def reaped(box: OneBox, broker: int | None, how: str) -> None:
    """The box died by someone else's hand: wait until it and its broker are gone."""
    assert box.process is not None
    await wait_for(lambda: box.process is not None and box.process.poll() is not None, timeout=60)
    box.kills.append(how)
    if broker is not None:
        await wait_for(lambda: not Path(f"/proc/{broker}").exists() or _zombie(broker), timeout=10)


def ambiguous_invoices(db: Path) -> list[str]:
    """The order numbers whose invoice the ledger holds as an ambiguous dead letter."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT e.subject FROM deliveries d JOIN events e ON e.id = d.event_id"
                            " WHERE d.target = 'books' AND d.status = 'deadlettered'"
                            " AND d.last_error LIKE 'Ambiguous%'").fetchall()
    finally:
        conn.close()
    return [r[0] for r in rows]


async def replay(box: OneBox, target: str) -> str:
    """`handover replay <target>` against the running box, as the owner runs it."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "HANDOVER_WEB_ADMIN_PASSWORD": "chaos-admin"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "replay", target, "--config", str(box.config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env, cwd=REPO,
    )
    out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    return text


async def test_one_box_against_vendors_without_idempotency_keys_survives_kill_9(
    tmp_path: Path, vendors: Vendors
) -> None:
    """Three SIGKILLs of the whole box (one the instant Moneybird stored an invoice), lost
    answers at every vendor, 500s and 429s, a while when Moneybird cannot answer lookups: every
    action once at the vendor, or an ambiguous dead letter whose replay finds or makes it once;
    never two invoices for one order, two tasks or activities for one form or customer, two
    contacts or persons for one e-mail or customer_id."""
    mb, hs, pd = vendors.all()
    started = time.monotonic()
    box = OneBox(tmp_path / "handover.toml", tmp_path, free_port())
    box.config.write_text(vendors_config(tmp_path, box.port, mb.url, hs.url, pd.url))
    rng = random.Random(18)
    sender = Sender(box.url, retry_after_cap_s=0.5, deadline_s=120)
    run = uuid.uuid4().hex[:6]
    hooks = [vendor_webhook(rng, i, run) for i in range(200)]
    business: dict[str, tuple[str, str]] = {}  # Sent key -> (kind, order number or e-mail)
    for w, kind, value in hooks:
        business[w.sent.key] = (kind, value)
    db = tmp_path / "ledger.db"

    async def stream() -> None:
        tasks = []
        for w, _, _ in hooks:
            tasks.append(asyncio.create_task(sender.send(w)))
            await asyncio.sleep(1 / 12)  # pacing the senders, not synchronising the test
        await asyncio.gather(*tasks)

    def accepted() -> int:
        return len(accepted_event_ids(sender.sent()))

    try:
        await box.start()
        sending = asyncio.create_task(stream())
        await wait_for(lambda: accepted() >= 35, timeout=60)
        # Moneybird stores an invoice and the whole box dies before it hears so.
        assert box.process is not None
        mb.kill_pid, mb.kill_group = (lambda: box.process.pid if box.process else None), True
        broker = box.broker_pid()
        mb.fault_after("kill", "POST", "/sales_invoices.json")
        await reaped(box, broker, "kill -9 by Moneybird, invoice stored")
        await box.start()
        await wait_for(lambda: accepted() >= 85, timeout=60)
        await asyncio.sleep(rng.uniform(0, 1))  # a random moment, not a synchronisation
        await box.kill()
        await box.start()
        # Moneybird's invoice list fails for a while: the invoices in doubt meanwhile (three
        # stored with their answers lost for sure, and whatever else) cannot be looked up and
        # become ambiguous dead letters.
        mb.fail_lookups = True
        mb.fault_after("late", "POST", "/sales_invoices.json", n=2)
        mb.fault_after("error", "POST", "/sales_invoices.json", n=1, status=502)
        await wait_for(lambda: sum(bool(mb.invoices_with(n)) for n in ambiguous_invoices(db)) >= 3,
                       timeout=60, interval=0.2)
        mb.fail_lookups = False
        await wait_for(lambda: accepted() >= 140, timeout=60)
        await asyncio.sleep(rng.uniform(0, 1))
        await box.kill(broker_first=True)
        await box.start()
        await sending
        ids = accepted_event_ids(sender.sent())
        await wait_for(lambda: finished(db, ids), timeout=120, interval=0.5)
        # Every webhook was accepted (the sender retries through the kills), each into one event.
        by_event: dict[str, tuple[str, str]] = {}
        for s in sender.sent():
            events = {e for a in s.answers if 200 <= a.status < 300 for e in a.event_ids}
            assert len(events) == 1, (s.key, [(a.status, a.event_ids) for a in s.answers])
            by_event[events.pop()] = business[s.key]
        assert len(by_event) == len(hooks)
        actions = ledger_actions(db, by_event)
        effects, natural = vendor_effects(vendors)
        buyers_apart(actions, effects, natural)
        verdict = check_vendor_effects(actions, effects, natural)
        assert verdict.ok, "\n".join(verdict.problems[:20])
        assert verdict.ambiguous >= 3 and verdict.ambiguous_with_effect >= 3
        assert mb.faults_done.count("kill") == 1
        faults = {type(f).__name__.removeprefix("Fake"): dict(f.fault_counts) for f in vendors.all()}
        # The run did meet what it claims to survive: lost answers at every vendor.
        for name, counts in faults.items():
            assert counts.get("late", 0) + counts.get("reset", 0) + counts.get("error", 0) > 0, (name, counts)
        # The owner replays the dead letters once the vendors answer again: each is found (its
        # effect was there) or made, once.
        for fake in vendors.all():
            fake.misbehaviours.clear()
        replayed = {t: await replay(box, t) for t in sorted({a.target for a in actions if a.status == "deadlettered"})}
        after = ledger_actions(db, by_event)
        effects, natural = vendor_effects(vendors)
        buyers_apart(after, effects, natural)
        again = check_vendor_effects(after, effects, natural)
        assert again.ok and again.delivered == again.actions, ("\n".join(again.problems[:20]), replayed)
        print(f"\none box against vendors: {len(hooks)} webhooks, {len(box.kills)} kills ({', '.join(box.kills)}), "
              f"{verdict.actions} actions: {verdict.delivered} delivered once, {verdict.dead_lettered} dead-lettered "
              f"({verdict.ambiguous} ambiguous, {verdict.ambiguous_with_effect} of them with their effect), "
              f"twice {verdict.twice}, lost {verdict.lost}; after the replay {again.delivered} delivered once; "
              f"faults {faults}; {time.monotonic() - started:.0f} s")
    finally:
        await sender.close()
        box.ensure_stopped()
