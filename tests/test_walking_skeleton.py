"""The walking skeleton end to end: a website form reaches the CRM outbox and a confirmation
mail through the real broker, byte for byte; bad input is refused and nothing is published."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from schemas import decode_event
from schemas.topics import event_topic
from services.common.config import Settings
from services.common.embedded_broker import EmbeddedBroker
from services.runtime import Runtime
from tests.config import QUICK_REBALANCE, action, flow, make_settings
from tests.conftest import Inbox, TopicWatcher, wait_for

TOKEN = "skeleton-owner-token"
CRM_FIELDS = {"email": "{{ contact.email }}", "name": "{{ contact.name }}", "message": "{{ contact.message }}",
              "phone": "{{ contact.phone }}"}


def skeleton_settings(data_dir: Path, bootstrap: str, smtp_port: int) -> Settings:
    """The demo-like flow: a website form to a CRM record (a file) and a confirmation mail."""
    return make_settings(
        data_dir, bootstrap, kafka=QUICK_REBALANCE, web={"api_token": TOKEN},
        sources={"website": {
            "kind": "form", "max_body_bytes": 4096,
            "client_rate_limit_per_minute": 0,  # the burst test posts 200 forms from one address
            "thank_you_url": "https://shop.example/thanks",
        }},
        targets={
            "crm": {"kind": "file"},
            "mail": {"kind": "smtp", "host": "127.0.0.1", "port": smtp_port, "sender": "Shop <shop@example.com>"},
        },
        flows=[flow("Contact form to CRM", "contact.submitted",
                    action("crm", "upsert_contact", minutes_saved=3, fields=CRM_FIELDS),
                    action("mail", "send_email"))],
    )


@dataclass
class Skeleton:
    """A running Handover with the demo-like flow, plus what the tests observe."""

    runtime: Runtime
    http: aiohttp.ClientSession
    inbox: Inbox
    watcher: TopicWatcher
    outbox: Path

    @property
    def url(self) -> str:
        return f"{self.runtime.base_url}/hooks/website"

    def outbox_records(self) -> list[dict[str, object]]:
        if not self.outbox.exists():
            return []
        return [json.loads(line) for line in self.outbox.read_text("utf-8").splitlines()]

    def crm_for(self, email: str) -> list[dict[str, object]]:
        return [r for r in self.outbox_records() if r["fields"]["email"] == email]  # type: ignore[index]

    def mails_for(self, email: str) -> list[object]:
        return [m for env, m in self.inbox.messages if email in env.rcpt_tos]


@pytest.fixture(scope="module")
async def skeleton(
    broker: EmbeddedBroker, smtp_server: tuple[str, int, Inbox], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Skeleton]:
    """One running Handover shared by this module's tests (a group join costs seconds)."""
    data_dir = tmp_path_factory.mktemp("skeleton")
    _, port, inbox = smtp_server
    runtime = Runtime(skeleton_settings(data_dir, broker.bootstrap_servers, port))
    await runtime.start()
    assert runtime.sync is not None
    await runtime.sync.wait_assigned()
    watcher = TopicWatcher(broker.bootstrap_servers, [event_topic("contact.submitted")])
    await watcher.start()
    async with aiohttp.ClientSession() as http:
        yield Skeleton(runtime, http, inbox, watcher, data_dir / "outbox" / "crm.jsonl")
    await watcher.stop()
    await runtime.stop()


def unique_email(local: str = "zoë.jansen+lead") -> str:
    return f"{local}.{uuid.uuid4().hex[:8]}@example.com"


async def test_one_form_gives_one_crm_record_and_one_mail_byte_for_byte(skeleton: Skeleton) -> None:
    email = unique_email()
    form = {
        "name": "Zoë Ålesund-Ørsted",
        "email": email,
        "phone": "+31 (0)6 1234 5678",
        "message": "Hello,\r\nplease call me back.\r\n\r\n— Zoë",
        "_gotcha": "",
    }
    async with skeleton.http.post(skeleton.url, data=form, headers={"Accept": "application/json"}) as r:
        assert r.status == 202
        body = await r.json()
    [event_id] = body["event_ids"]

    await wait_for(lambda: skeleton.crm_for(email) and skeleton.mails_for(email))
    [record] = skeleton.crm_for(email)
    assert record["event_id"] == event_id
    assert record["fields"] == {
        "email": email, "name": form["name"], "message": form["message"], "phone": form["phone"],
    }
    [mail] = skeleton.mails_for(email)
    assert mail["Subject"] == "Thank you for your message, Zoë Ålesund-Ørsted"
    assert email in mail["To"]
    text = mail.get_body(("plain",)).get_content()
    assert form["message"] in text  # mail text travels with CRLF line ends, as submitted
    html = mail.get_body(("html",)).get_content()
    assert "Zoë Ålesund-Ørsted" in html
    assert mail["Message-ID"]


async def test_browser_post_is_redirected_to_the_thank_you_page(skeleton: Skeleton) -> None:
    email = unique_email("browser")
    async with skeleton.http.post(
        skeleton.url, data={"email": email}, allow_redirects=False,
        headers={"Accept": "text/html,application/xhtml+xml"},
    ) as r:
        assert r.status == 303
        assert r.headers["Location"] == "https://shop.example/thanks"
    await wait_for(lambda: skeleton.crm_for(email))


async def test_multipart_and_json_forms_arrive_unchanged(skeleton: Skeleton) -> None:
    email_mp, email_js = unique_email("multipart"), unique_email("json")
    data = aiohttp.FormData()
    data.add_field("email", email_mp)
    data.add_field("name", "Jürgen Groß")
    data.add_field("message", "Zeile 1\nZeile 2")
    async with skeleton.http.post(skeleton.url, data=data) as r:
        assert r.status == 202, await r.text()
    async with skeleton.http.post(skeleton.url, json={"email": email_js, "name": "Søren Kierkegård"}) as r:
        assert r.status == 202, await r.text()
    await wait_for(lambda: skeleton.crm_for(email_mp) and skeleton.crm_for(email_js))
    assert skeleton.crm_for(email_mp)[0]["fields"]["name"] == "Jürgen Groß"  # type: ignore[index]
    assert skeleton.crm_for(email_mp)[0]["fields"]["message"] == "Zeile 1\nZeile 2"  # type: ignore[index]
    assert skeleton.crm_for(email_js)[0]["fields"]["name"] == "Søren Kierkegård"  # type: ignore[index]


async def test_a_burst_of_200_forms_gives_exactly_200_records_and_200_mails(skeleton: Skeleton) -> None:
    import asyncio

    emails = [unique_email(f"burst{i}") for i in range(200)]

    async def submit(email: str) -> int:
        async with skeleton.http.post(skeleton.url, data={"email": email, "name": f"Nº {email[:8]}"}) as r:
            return r.status

    statuses = await asyncio.gather(*(submit(e) for e in emails))
    assert statuses == [202] * 200
    wanted = set(emails)
    await wait_for(
        lambda: wanted <= {r["fields"]["email"] for r in skeleton.outbox_records()}  # type: ignore[index]
        and wanted <= {rc for env, _ in skeleton.inbox.messages for rc in env.rcpt_tos},
        timeout=60,
    )
    for email in emails:
        assert len(skeleton.crm_for(email)) == 1
        assert len(skeleton.mails_for(email)) == 1


async def test_a_bot_filling_the_honeypot_is_dropped_silently(skeleton: Skeleton) -> None:
    bot, canary = unique_email("bot"), unique_email("canary")
    async with skeleton.http.post(skeleton.url, data={"email": bot, "_gotcha": "http://spam"}) as r:
        assert r.status == 200  # the bot learns nothing
    async with skeleton.http.post(skeleton.url, data={"email": canary}) as r:
        assert r.status == 202
    await wait_for(lambda: any(canary.encode() in v for v in skeleton.watcher.values()))
    assert not any(bot.encode() in v for v in skeleton.watcher.values())


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason", "field"),
    [
        ("name=No+Mail", "application/x-www-form-urlencoded", 422, "invalid_payload", "$.email"),
        ("email=not-an-address", "application/x-www-form-urlencoded", 422, "invalid_payload", "$.email"),
        ("email=%FF%FE", "application/x-www-form-urlencoded", 400, "invalid_body", None),
        ('{"email": ', "application/json", 400, "invalid_body", None),
        ("email=a@example.com", "text/plain", 415, "unsupported_media_type", None),
        ("email=a@example.com&message=" + "x" * 5000, "application/x-www-form-urlencoded", 413,
         "payload_too_large", None),
    ],
    ids=["missing-email", "invalid-email", "not-utf8", "broken-json", "wrong-type", "too-large"],
)
async def test_bad_input_is_refused_naming_the_problem_and_nothing_is_published(
    skeleton: Skeleton, body: str, content_type: str, status: int, reason: str, field: str | None
) -> None:
    marker = uuid.uuid4().hex
    async with skeleton.http.post(
        skeleton.url, data=(body + f"&x={marker}").encode() if "=" in body else body.encode(),
        headers={"Content-Type": content_type},
    ) as r:
        assert r.status == status
        assert r.headers["Content-Type"].startswith("application/problem+json")
        problem = await r.json()
    assert problem["reason"] == reason
    assert problem["status"] == status
    if field:
        assert [e["path"] for e in problem["errors"]] == [field]
        assert "email" in problem["detail"]
    canary = unique_email("canary")
    async with skeleton.http.post(skeleton.url, data={"email": canary}) as r:
        assert r.status == 202
    await wait_for(lambda: any(canary.encode() in v for v in skeleton.watcher.values()))
    assert not any(marker.encode() in v for v in skeleton.watcher.values())


async def test_published_event_is_a_valid_contact_submitted(skeleton: Skeleton) -> None:
    email = unique_email("schema")
    async with skeleton.http.post(skeleton.url, data={"email": email, "consent": "on"}) as r:
        [event_id] = (await r.json())["event_ids"]
    raw = await wait_for(lambda: next((v for v in skeleton.watcher.values() if email.encode() in v), None))
    event = decode_event(raw)
    assert event.id == event_id and event.type == "contact.submitted" and event.source == "website"
    assert event.data.contact.email == email and event.data.consent is True


async def test_metrics_count_accepted_and_rejected_webhooks(skeleton: Skeleton) -> None:
    registry = skeleton.runtime.metrics.registry
    before = registry.get_sample_value(
        "handover_webhooks_received_total", {"source": "website", "outcome": "invalid_payload"}
    ) or 0
    async with skeleton.http.post(skeleton.url, data={"name": "no mail"}) as r:
        assert r.status == 422
    after = registry.get_sample_value(
        "handover_webhooks_received_total", {"source": "website", "outcome": "invalid_payload"}
    )
    assert after == before + 1
    async with skeleton.http.get(f"{skeleton.runtime.base_url}/metrics") as r:
        text = await r.text()
    assert 'handover_webhooks_received_total{outcome="invalid_payload",source="website"}' in text
    async with skeleton.http.get(f"{skeleton.runtime.base_url}/healthz") as r:
        assert r.status == 200
    async with skeleton.http.get(f"{skeleton.runtime.base_url}/readyz") as r:
        assert (r.status, await r.json()) == (200, {"status": "ready"})


async def test_the_calculator_counts_what_really_flowed_as_already_saved(skeleton: Skeleton) -> None:
    emails = [unique_email(f"saved{i}") for i in range(3)]
    for email in emails:
        async with skeleton.http.post(skeleton.url, data={"email": email}) as r:
            assert r.status == 202
    await wait_for(lambda: all(skeleton.crm_for(e) for e in emails))
    ledger = skeleton.runtime.ledger
    assert ledger is not None

    async def saved_matches_ledger() -> bool:
        delivered = [d for d in await ledger.all_deliveries("crm") if d.status == "delivered"]
        # What Handover measured is the owner's (the page is public beside the webhooks).
        async with skeleton.http.get(f"{skeleton.runtime.base_url}/api/calculator",
                                     headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            data = await r.json()
        [row] = [h for h in data["handovers"] if h["flow"] == "Contact form to CRM"]
        if row["saved"] is None or row["saved"]["delivered"] != len(delivered) or len(delivered) < 3:
            return False
        # 3 minutes saved per delivered action, nothing dead-lettered on this target.
        assert Decimal(row["saved"]["gross_hours"]) == (Decimal(len(delivered)) * 3 / 60).quantize(Decimal("0.001"))
        return True

    await wait_for(saved_matches_ledger)


async def test_measured_weekly_volume_comes_from_real_deliveries(skeleton: Skeleton) -> None:
    from services.ledger.calculator_store import WEEK_S, LedgerCalculatorStore

    emails = [unique_email(f"measured{i}") for i in range(2)]
    for email in emails:
        async with skeleton.http.post(skeleton.url, data={"email": email}) as r:
            assert r.status == 202
    await wait_for(lambda: all(skeleton.crm_for(e) for e in emails))
    ledger = skeleton.runtime.ledger
    assert ledger is not None
    delivered = [d for d in await ledger.all_deliveries("crm") if d.status == "delivered"]
    # Measured volumes use complete weeks: look from one week ahead, when this week is complete.
    import time

    store = LedgerCalculatorStore(ledger, clock=lambda: time.time() + WEEK_S)
    volumes = {(v.flow, v.action, v.target): v for v in await store.action_volumes(weeks=8)}
    crm = volumes[("Contact form to CRM", "upsert_contact", "crm")]
    assert sum(crm.weekly_delivered) == len(delivered) >= 2
