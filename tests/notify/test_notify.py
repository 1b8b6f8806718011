"""Owner notifications against a real SMTP server (aiosmtpd) and a local HTTP receiver: one
message per incident, in the owner's language, rate-limited, and a weekly digest."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from schemas.events import ContactData, ContactSubmitted, Person
from services.common.config import Settings
from services.common.errors import ConfigError
from services.common.metrics import Metrics
from services.ledger.rows import RecordedEvent
from services.ledger.store import SqlLedger
from services.notify import Notifier
from tests.config import Table, action, flow, make_settings
from tests.conftest import LEDGER_BACKENDS


def notify_settings(notify: Table, **targets: Table) -> Settings:
    """A contact-form flow into a file CRM, plus the given targets and [notify] table."""
    return make_settings(
        "var",
        sources={"website": {"kind": "form"}},
        targets={"crm": {"kind": "file"}, **targets},
        flows=[flow("Contact form to CRM", "contact.submitted", action("crm", "upsert_contact", minutes_saved=3))],
        notify=notify,
    )


PG = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=LEDGER_BACKENDS)
async def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlLedger]:
    """A fresh ledger: a SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        ledger = await SqlLedger.open(f"sqlite:///{tmp_path}/ledger.db")
        yield ledger
        await ledger.close()
        return
    import asyncpg

    schema = f"n_{uuid.uuid4().hex[:12]}"
    ledger = await SqlLedger.open(f"{PG}?schema={schema}")
    try:
        yield ledger
    finally:
        await ledger.close()
        conn = await asyncpg.connect(PG)
        try:
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        finally:
            await conn.close()


def contact(email: str, source: str = "elsewhere") -> ContactSubmitted:
    """A contact form event (from a source the config does not watch for silence, unless told)."""
    return ContactSubmitted(
        id=uuid.uuid4().hex, source=source, time=dt.datetime.now(dt.UTC), subject=email,
        data=ContactData(contact=Person(email=email, first_name="Anna")),
    )  # fmt: skip


REFUSED = "Permanent: crm answered 422: email is not valid"


async def dead_letter(ledger: SqlLedger, email: str, error: str = REFUSED) -> str:
    """Record a contact form event and a dead-lettered CRM delivery for it; return its key."""
    event = contact(email)
    await ledger.events.record([RecordedEvent(event, "t", 0, 0, [("Contact form to CRM", "upsert_contact", "crm")])])
    key = f"{event.id}:Contact form to CRM:upsert_contact"
    await ledger.deliveries.begin(key, event, "crm", "Contact form to CRM", "upsert_contact", "natural")
    await ledger.deliveries.failed(key, error, 3)
    await ledger.deliveries.deadlettered(key, error, 3, 7)
    return key


async def delivered(ledger: SqlLedger, n: int) -> None:
    """Record n delivered CRM actions."""
    for i in range(n):
        event = contact(f"ok{i}@example.com")
        key = f"{event.id}:Contact form to CRM:upsert_contact"
        await ledger.deliveries.begin(key, event, "crm", "Contact form to CRM", "upsert_contact", "natural")
        await ledger.deliveries.delivered(key, f"C{i}", 1)


def quiet_day() -> int:
    """A weekday the digest is not due on for days to come, so a test's checks send none."""
    return (dt.datetime.now().weekday() + 3) % 7


def smtp_settings(host: str, port: int, to: str, lang: str = "en", **notify: object) -> Settings:
    notify.setdefault("digest_weekday", quiet_day())
    owner_mail = {"kind": "smtp", "host": host, "port": port, "sender": "Handover <handover@shop.example>"}
    return notify_settings({"target": "owner_mail", "to": to, "lang": lang, **notify}, owner_mail=owner_mail)


async def test_one_mail_per_new_dead_letter_in_the_owners_language(smtp_server, ledger) -> None:
    host, port, inbox = smtp_server
    to = f"owner-{uuid.uuid4().hex[:6]}@shop.example"
    mine = lambda: [m for e, m in inbox.messages if to in e.rcpt_tos]  # noqa: E731
    metrics = Metrics()
    async with aiohttp.ClientSession() as http:
        notifier = Notifier(smtp_settings(host, port, to, "nl"), ledger, metrics.registry, http)
        old = await dead_letter(ledger, "before@example.com")
        assert await notifier.check() == []  # switched on now: what was there is not news
        first = await dead_letter(ledger, "anna@example.com")
        sent = await notifier.check()
        assert [m.key for m in sent] == [f"dead:{first}"] and old not in sent[0].key
        assert await notifier.check() == []  # the same dead letter is never sent twice
        # ... nor after a restart: the ledger remembers what went out
        again = Notifier(smtp_settings(host, port, to, "nl"), ledger, metrics.registry, http)
        assert await again.check() == []
    mails = mine()
    assert len(mails) == 1
    mail = mails[0]
    assert mail["Subject"] == "Handover kon contact opslaan (anna@example.com) niet afleveren bij crm"
    body = mail.get_content()
    assert "email is not valid" in body and "Permanent" not in body  # the vendor's words, no class
    assert "na 3 pogingen" in body
    assert "/dead-letters?target=crm" in body
    assert mail["From"] == "Handover <handover@shop.example>" and mail["Auto-Submitted"] == "auto-generated"


async def test_a_burst_is_rate_limited_into_one_message_naming_the_rest(smtp_server, ledger) -> None:
    host, port, inbox = smtp_server
    to = f"owner-{uuid.uuid4().hex[:6]}@shop.example"
    async with aiohttp.ClientSession() as http:
        notifier = Notifier(smtp_settings(host, port, to, max_per_hour=3), ledger, Metrics().registry, http)
        now = dt.datetime.now().timestamp()
        await notifier.check(now - 60)  # switched on: the baseline
        for i in range(10):
            await dead_letter(ledger, f"burst{i}@example.com")
        sent = await notifier.check(now)
        assert [m.kind for m in sent] == ["dead_letter", "dead_letter", "more"]
        assert sent[2].facts["n"] == 8 and "8" in sent[2].subject
        await dead_letter(ledger, "later@example.com")
        assert await notifier.check(now + 60) == []  # the hour is used up: it waits ...
        later = await notifier.check(now + 3601)  # ... and goes out when the window has room
        assert [m.kind for m in later] == ["dead_letter"] and "later@example.com" in later[0].subject
    assert len([1 for e, _ in inbox.messages if to in e.rcpt_tos]) == 4


class Receiver:
    """A local HTTP endpoint (a chat webhook) that keeps what it is sent."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        self.fail = False

    async def handle(self, request: web.Request) -> web.Response:
        if self.fail:
            return web.Response(status=503)
        self.bodies.append(await request.json())
        self.headers.append(dict(request.headers))
        return web.Response(text="ok")


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    """Serve a Receiver on a free loopback port."""
    r = Receiver()
    app = web.Application()
    app.router.add_post("/hook", r.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield r, f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


def http_settings(base: str, **notify: object) -> Settings:
    notify.setdefault("digest_weekday", quiet_day())
    chat = {"kind": "http", "base_url": base, "url": "/hook", "secret": "s3cret-chat",
            "headers": {"Authorization": "Bearer {secret}"}}
    return notify_settings({"target": "chat", **notify}, chat=chat)


async def test_a_paused_target_and_a_silent_source_each_send_one_message(receiver, ledger) -> None:
    r, base = receiver
    metrics = Metrics()
    settings = http_settings(base, paused_after_s=600)
    async with aiohttp.ClientSession() as http:
        notifier = Notifier(settings, ledger, metrics.registry, http)
        t0 = 2_000_000_000.0
        assert await notifier.check(t0) == []
        metrics.target_paused.labels("crm").set(1)
        assert await notifier.check(t0 + 60) == []  # paused just now: not yet worth a message
        assert await notifier.check(t0 + 600) == []  # 9 minutes: still not
        sent = await notifier.check(t0 + 700)
        assert [m.kind for m in sent] == ["paused"]
        assert await notifier.check(t0 + 900) == []  # one message per pause
        metrics.target_paused.labels("crm").set(0)
        await notifier.check(t0 + 1000)

        # A source with a rhythm (an event every 10 minutes), then quiet for 4 hours.
        events = [contact(f"s{i}@example.com", source="website") for i in range(8)]
        await ledger.events.record([RecordedEvent(e, "t", 0, i, []) for i, e in enumerate(events)])
        for i, e in enumerate(events):
            await ledger.db.execute("UPDATE events SET recorded_at = $1 WHERE id = $2", t0 + 2000 + i * 600, e.id)
        last = t0 + 2000 + 7 * 600
        assert await notifier.check(last + 1800) == []  # 30 minutes: a lull, not a silence
        sent = await notifier.check(last + 4 * 3600)
        assert [m.kind for m in sent] == ["silent"]
        assert await notifier.check(last + 5 * 3600) == []  # still the same silence
    kinds = [b["kind"] for b in r.bodies]
    assert kinds == ["paused", "silent"]
    assert r.bodies[0]["text"].startswith("crm is not answering: Handover paused it")
    assert "11 minutes" in r.bodies[0]["body"]
    assert "every 10 minutes" in r.bodies[1]["body"] and "4 hours" in r.bodies[1]["subject"]
    assert r.headers[0]["Authorization"] == "Bearer s3cret-chat"


async def test_a_failed_send_is_tried_again_and_not_lost(receiver, ledger) -> None:
    r, base = receiver
    async with aiohttp.ClientSession() as http:
        notifier = Notifier(http_settings(base), ledger, Metrics().registry, http)
        await notifier.check()
        await dead_letter(ledger, "retry@example.com")
        r.fail = True
        assert await notifier.check() == []
        r.fail = False
        assert [m.kind for m in await notifier.check()] == ["dead_letter"]
    assert len(r.bodies) == 1


async def test_weekly_digest_says_what_was_done_saved_and_needs_attention(smtp_server, ledger) -> None:
    host, port, inbox = smtp_server
    to = f"owner-{uuid.uuid4().hex[:6]}@shop.example"
    monday_9 = dt.datetime(2027, 3, 1, 9, 0).timestamp()  # a Monday, 09:00 local time
    async with aiohttp.ClientSession() as http:
        notifier = Notifier(smtp_settings(host, port, to, "da", digest_weekday=0), ledger, Metrics().registry, http)
        await notifier.check(monday_9 - 86400)  # Sunday: baseline, no digest
        await delivered(ledger, 40)  # 40 x 3 min = 2 h saved
        await dead_letter(ledger, "open@example.com")
        digest = await notifier.digest(dt.datetime.now().timestamp())
        assert digest.facts["deliveries"] == 40 and digest.facts["dead_letters"] == 1
        assert digest.facts["hours_saved"] == "2,0"
        assert digest.subject == "Handover denne uge: 40 leveringer, omkring 2,0 t sparet"
        assert "Contact form to CRM: 40 leveringer" in digest.text
        assert "1 åben fejlet levering under Fejlede leveringer" in digest.text
        # sent once, on Monday after digest_hour, whatever the number of checks
        before = len([1 for e, _ in inbox.messages if to in e.rcpt_tos])
        sent = [m.kind for now in (monday_9 - 3 * 3600, monday_9, monday_9 + 3600) for m in await notifier.check(now)]
        assert sent.count("digest") == 1
    mails = [m for e, m in inbox.messages if to in e.rcpt_tos][before:]
    assert [m["Subject"].startswith("Handover denne uge") for m in mails].count(True) == 1


def test_notify_config_names_the_key_that_is_wrong() -> None:
    with pytest.raises(ConfigError) as exc:
        notify_settings({"target": "nope"})
    assert str(exc.value).startswith("notify.target: no target named 'nope'")
    with pytest.raises(ConfigError, match=r"notify\.to"):
        notify_settings({"target": "m"}, m={"kind": "maildir"})
    with pytest.raises(ConfigError, match=r"notify\.target: must be a smtp, maildir or http target"):
        notify_settings({"target": "crm"})  # a file target cannot reach a person


async def test_the_web_app_runs_the_notifier_when_notify_is_configured(receiver, ledger) -> None:
    from aiohttp.test_utils import TestServer

    from services.common.appkeys import METRICS, SETTINGS
    from services.ledger.appkeys import LEDGER
    from services.notify import NOTIFIER, setup_notify
    from tests.conftest import wait_for

    r, base = receiver
    app = web.Application()
    app[SETTINGS] = http_settings(base, check_interval_s=0.05)
    app[LEDGER] = ledger
    app[METRICS] = Metrics()
    setup_notify(app)
    async with TestServer(app):
        assert NOTIFIER in app

        async def switched_on() -> bool:
            return await ledger.get_value("notify.sent") is not None

        await wait_for(switched_on)
        await dead_letter(ledger, "live@example.com")

        async def told() -> bool:
            return any(b["kind"] == "dead_letter" for b in r.bodies)

        await wait_for(told)
    assert [b["kind"] for b in r.bodies] == ["dead_letter"]


async def test_the_ledger_keeps_what_was_sent_with_secrets_masked(ledger) -> None:
    key = await dead_letter(ledger, "kept@example.com")
    event_id = key.split(":")[0]
    assert await ledger.sent_for(event_id) == {}
    sent = {"email": "kept@example.com", "Authorization": "Bearer abc",
            "nested": {"token": "t", "note": "uses s3cr3t"}}
    await ledger.deliveries.record_sent(key, sent, "refused: s3cr3t", ["s3cr3t"])
    fields, answer = (await ledger.sent_for(event_id))[key]
    assert fields == {"email": "kept@example.com", "Authorization": "•••",
                      "nested": {"token": "•••", "note": "uses •••"}}
    assert answer == "refused: •••"
    await ledger.deliveries.record_sent(key, {"email": "again@example.com"}, "ok")  # a redelivery replaces it
    assert (await ledger.sent_for(event_id))[key] == ({"email": "again@example.com"}, "ok")
