"""The operations pages over HTTP: login, CSRF, rate limit, status, handoffs, audit, dead letters."""

from __future__ import annotations

import re
import uuid

import aiohttp
import pytest

from services.web.auth import LIMITER
from tests.conftest import wait_for
from tests.ops.conftest import ADMIN_PASSWORD, API_TOKEN, Hub, login, shopify_order

PAGES = ["/status", "/handoffs", "/audit?q=x", "/dead-letters", "/dead-letters/ops_invoices:0:0"]


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF field"
    return m.group(1)


@pytest.fixture
async def admin(hub: Hub):
    """A logged-in browser-like client (cookie jar that accepts 127.0.0.1)."""
    hub.runtime.runner.app[LIMITER].clear()  # type: ignore[union-attr]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        r = await login(http, hub.url)
        assert r.status == 303 and r.headers["Location"] == "/status"
        yield http


@pytest.mark.parametrize("path", PAGES)
async def test_pages_need_login(hub: Hub, path: str) -> None:
    async with hub.http.get(hub.url + path, allow_redirects=False, headers={"Accept": "text/html"}) as r:
        assert r.status == 302
        assert r.headers["Location"].startswith("/login?next=")
    async with hub.http.get(hub.url + path, allow_redirects=False) as r:
        assert r.status == 401


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/dead-letters"), ("POST", "/api/dead-letters/ops_invoices:0:0/replay"),
    ("POST", "/dead-letters/ops_invoices:0:0/replay"), ("POST", "/dead-letters/replay-all"),
])
async def test_admin_api_and_forms_need_credentials(hub: Hub, method: str, path: str) -> None:
    async with hub.http.request(method, hub.url + path, allow_redirects=False) as r:
        assert r.status == 401


async def test_api_token_still_works_and_opens_the_pages(hub: Hub) -> None:
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    async with hub.http.get(hub.url + "/api/dead-letters", headers=auth) as r:
        assert r.status == 200
    async with hub.http.get(hub.url + "/status", headers=auth) as r:
        assert r.status == 200


async def test_posts_without_csrf_are_refused(hub: Hub, admin: aiohttp.ClientSession) -> None:
    async with admin.post(hub.url + "/dead-letters/replay-all", data={"target": "ops_invoices"}) as r:
        assert r.status == 403
    async with admin.post(hub.url + "/dead-letters/replay-all",
                          data={"target": "ops_invoices", "csrf_token": "forged.token"}) as r:
        assert r.status == 403
    async with aiohttp.ClientSession() as fresh:  # login form posted from elsewhere: no cookie
        async with fresh.post(hub.url + "/login", data={"password": ADMIN_PASSWORD}, allow_redirects=False) as r:
            assert r.status == 403


async def test_login_rate_limit_per_client(hub: Hub) -> None:
    hub.runtime.runner.app[LIMITER].clear()  # type: ignore[union-attr]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        statuses = [(await login(http, hub.url, password=f"guess-{i}")).status for i in range(5)]
        assert statuses == [401] * 5
        r = await login(http, hub.url)  # even the right password waits now
        assert r.status == 429
        assert int(r.headers["Retry-After"]) > 0
    hub.runtime.runner.app[LIMITER].clear()  # type: ignore[union-attr]


async def test_logout_ends_the_session(hub: Hub, admin: aiohttp.ClientSession) -> None:
    async with admin.get(hub.url + "/status") as r:
        token = _csrf(await r.text())
    async with admin.post(hub.url + "/logout", data={"csrf_token": token}, allow_redirects=False) as r:
        assert r.status == 303
    async with admin.get(hub.url + "/status", allow_redirects=False) as r:
        assert r.status == 401


async def test_audit_trail_shows_each_action_and_the_id_it_got(hub: Hub, admin: aiohttp.ClientSession) -> None:
    number = f"#A{uuid.uuid4().int % 10**6}"
    event_id = await hub.order(number, "anna@example.com")
    ledger = hub.runtime.ledger
    assert ledger is not None

    async def both_delivered() -> bool:
        rows = await ledger.deliveries_for(event_id)
        return len(rows) == 2 and all(r.status == "delivered" for r in rows)

    await wait_for(both_delivered)
    async with admin.get(hub.url + "/audit", params={"q": number}) as r:
        html = await r.text()
    assert r.status == 200
    assert f"order {number} from Anna de Vries" in html
    assert html.count('data-status="delivered"') == 2
    assert re.search(r"INV-\d{4}", html)  # the id the invoicing system gave it


async def test_audit_escapes_what_was_typed(hub: Hub, admin: aiohttp.ClientSession) -> None:
    async with admin.get(hub.url + "/audit", params={"q": "<script>alert(1)</script>"}) as r:
        html = await r.text()
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html


async def test_status_page_in_plain_words(hub: Hub, admin: aiohttp.ClientSession) -> None:
    await hub.order(f"#S{uuid.uuid4().int % 10**6}", "status@example.com")
    async with admin.get(hub.url + "/status") as r:
        html = await r.text()
    assert r.status == 200
    for name in ("shop", "ops_site", "ops_invoices", "ops_archive", "Orders to invoicing"):
        assert name in html
    shop = re.search(r'<tr data-source="shop">(.*?)</tr>', html, re.S)
    assert shop and re.search(r"Still learning its rhythm|Normal: usually every|Unusually quiet", shop.group(1))
    assert re.search(r"\d+ (second|minute)s? ago", shop.group(1))  # the last order, in plain words


async def test_rejected_webhooks_are_shown_by_reason(hub: Hub, admin: aiohttp.ClientSession) -> None:
    async with hub.http.post(hub.url + "/hooks/shop", data=b"{}",
                             headers={"Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
                                      "X-Shopify-Hmac-Sha256": "AAAA"}) as r:
        assert r.status == 401
    async with admin.get(hub.url + "/status") as r:
        html = await r.text()
    assert re.search(r"\d+ wrong signature", html)


async def test_a_source_quiet_beyond_its_rhythm_is_flagged(hub: Hub, admin: aiohttp.ClientSession) -> None:
    import time

    from services.web.ops import refresh_gauges

    ledger = hub.runtime.ledger
    assert ledger is not None
    now = time.time()
    # The ops_site form used to send every 10 minutes; the last one was 5 hours ago.
    for i in range(30):
        at = now - 5 * 3600 - i * 600
        await ledger.db.execute(
            "INSERT INTO events (id, type, source, subject, keys, summary, occurred_at, received_at, recorded_at, "
            "test, topic, kafka_partition, kafka_offset) VALUES ($1, 'contact.submitted', 'ops_site', 's', '', "
            "'form', $2, $2, $2, FALSE, 't', 0, $3)",
            f"silence-{uuid.uuid4()}", at, i,
        )
    async with admin.get(hub.url + "/status") as r:
        html = await r.text()
    row = re.search(r'<tr data-source="ops_site">(.*?)</tr>', html, re.S)
    assert row and "Unusually quiet: nothing for 5 hours; it usually sends every 10 minutes." in row.group(1)
    await refresh_gauges(hub.runtime.runner.app)  # type: ignore[union-attr]
    registry = hub.runtime.metrics.registry
    silence = registry.get_sample_value("handover_source_silence_seconds", {"source": "ops_site"})
    limit = registry.get_sample_value("handover_source_silence_limit_seconds", {"source": "ops_site"})
    assert silence is not None and limit == 3600 and silence > 5 * 3600 - 60


async def test_try_thank_you_page_links_back_and_to_the_audit_of_that_post(
    hub: Hub, admin: aiohttp.ClientSession
) -> None:
    email = f"thanks-{uuid.uuid4().hex[:8]}@example.com"
    form = {"email": email, "name": "Thea Thanks", "company": "Ops Test BV"}
    async with hub.http.post(hub.url + "/hooks/ops_site", data=form, headers={"Accept": "text/html"},
                             allow_redirects=False) as r:  # fmt: skip
        assert r.status == 303
        thanks = r.headers["Location"]
    event_id = thanks.partition("?event=")[2]
    assert thanks.startswith("/hooks/ops_site/thanks?event=") and event_id
    async with hub.http.get(hub.url + thanks) as r:
        page = await r.text()
    assert '<a href="/try">Back to the form</a>' in page
    audit = f'/audit?q={event_id}'
    assert f'<a href="{audit}">See what Handover did with it</a>' in page
    ledger = hub.runtime.ledger
    assert ledger is not None

    async def recorded() -> bool:
        return await ledger.event(event_id) is not None

    await wait_for(recorded)
    async with admin.get(hub.url + audit) as r:
        assert f'data-event="{event_id}"' in await r.text()
    async with hub.http.get(hub.url + "/hooks/ops_site/thanks?event=<script>") as r:
        assert "<script>" not in await r.text() and "audit" not in await r.text()


async def test_ops_pages_say_flows_and_actions_in_words(hub: Hub, admin: aiohttp.ClientSession) -> None:
    async with admin.get(hub.url + "/status") as r:
        status = await r.text()
    flows = re.search(r'<table id="flows".*?</table>', status, re.S).group(0)
    assert "an order is placed" in flows and "a contact form comes in" in flows
    assert "order.created" not in flows and "contact.submitted" not in flows
    async with admin.get(hub.url + "/dead-letters") as r:
        page = await r.text()
    assert "idempotency" not in page


@pytest.mark.parametrize("lang", ["nl", "da"])
async def test_ops_pages_speak_the_owners_language(hub: Hub, admin: aiohttp.ClientSession, lang: str) -> None:
    from services.web.i18n import CATALOGS, EN

    keys = ("ops.sources", "ops.targets", "ops.per_process", "nav.dead_letters", "nav.log_out",
            "ops.handoffs_title", "ops.dead_letters_note", "ops.audit_search")
    for path in ("/status", "/handoffs", "/dead-letters", "/audit"):
        async with admin.get(f"{hub.url}{path}?lang={lang}") as r:
            page = await r.text()
        assert f'<html lang="{lang}">' in page
        left = [EN[k] for k in keys if EN[k] in page]
        assert left == [], (path, left)
    async with admin.get(f"{hub.url}/status?lang={lang}") as r:
        assert CATALOGS[lang]["ops.sources"] in await r.text()
    # an order's audit trail: what happened, said in the language
    number = f"#T{uuid.uuid4().int % 10**6}"
    event_id = await hub.order(number, f"{lang}@example.com")
    ledger = hub.runtime.ledger
    assert ledger is not None

    async def delivered() -> bool:
        rows = await ledger.deliveries_for(event_id)
        recorded = await ledger.event(event_id) is not None  # the audit finds the event once the recorder has it
        return recorded and len(rows) == 2 and all(r.status == "delivered" for r in rows)

    await wait_for(delivered)
    async with admin.get(f"{hub.url}/audit", params={"q": event_id, "lang": lang}) as r:
        page = await r.text()
    card = re.search(r'<div class="card audit-event".*?</table>', page, re.S).group(0)
    assert CATALOGS[lang]["ops.col.what_happened"] in card and CATALOGS[lang]["ops.st.delivered"] in card
    for english in ("What happened", "delivered", "Attempts", "not started"):
        assert english not in re.sub(r'data-status="[^"]*"', "", card), english


async def test_audit_shows_what_each_action_sent_and_the_answer_with_secrets_masked(
    hub: Hub, admin: aiohttp.ClientSession
) -> None:
    ledger = hub.runtime.ledger
    assert ledger is not None
    body, headers = shopify_order(f"#S{uuid.uuid4().int % 10**6}", "sent@example.com")
    async with hub.http.post(f"{hub.url}/hooks/shop", data=body, headers=headers) as r:
        event_id = (await r.json())["event_ids"][0]

    async def delivered() -> list:
        rows = await ledger.deliveries_for(event_id)
        return [r for r in rows if r.status == "delivered" and r.target == "ops_invoices"]

    row = (await wait_for(delivered))[0]
    # The runner keeps what each delivery sent (services.sync.delivery, right after "delivered"; the
    # event's other action may be recorded first); the audit finds the event once the recorder has it.

    async def recorded() -> bool:
        return await ledger.event(event_id) is not None and row.key in await ledger.sent_for(event_id)

    await wait_for(recorded)
    # Then one with a secret in it, as a target's credentials could appear, to see it masked.
    await ledger.deliveries.record_sent(
        row.key,
        {"email": "sent@example.com", "total": "123.45", "api_key": "k-123",
         "note": "sent with Bearer target-token-9q8w"},
        '{"id": "INV-0042", "echo": "target-token-9q8w"}', secrets=["target-token-9q8w"],
    )  # fmt: skip
    async with admin.get(f"{hub.url}/audit", params={"q": event_id}) as r:
        page = await r.text()
    # The ops_invoices row's "what was sent" (every delivered action has one now).
    sent = re.search(r'<td data-label="Target">ops_invoices</td>.*?<details class="sent">(.*?)</details>',
                     page, re.S).group(1)
    assert "What was sent" in sent and "sent@example.com" in sent and "123.45" in sent
    assert "k-123" not in page and "target-token-9q8w" not in page
    assert sent.count("•••") == 3  # the credential field, the token in a value, the token in the answer
    assert "What ops_invoices answered:" in sent and "INV-0042" in sent


@pytest.mark.parametrize("lang", ["nl", "da"])
async def test_replay_results_speak_the_owners_language(hub: Hub, admin: aiohttp.ClientSession, lang: str) -> None:
    from services.web.i18n import CATALOGS

    async with admin.get(f"{hub.url}/dead-letters?lang={lang}") as r:
        token = _csrf(await r.text())
    url = f"{hub.url}/dead-letters/replay-all?lang={lang}"
    async with admin.post(url, data={"csrf_token": token, "target": "no-such-target"}) as r:
        assert r.status == 400
        page = await r.text()
    assert CATALOGS[lang]["ops.choose_target"] in page and "Choose a target" not in page
    async with admin.post(url, data={"csrf_token": token, "target": "ops_invoices"}) as r:
        page = await r.text()
    # other tests leave dead letters behind (some still refused): whatever the count, in words
    banner = re.search(r'id="result" role="status">([^<]*)<', page).group(1)  # type: ignore[union-attr]
    said = "|".join(
        re.escape(CATALOGS[lang][f"ops.replayed_all.{form}"]).replace(r"\{n\}", r"\d+").replace(r"\{good\}", r"\d+")
        .replace(r"\{target\}", "ops_invoices")
        for form in ("one", "other")
    )
    assert re.match(said, banner), banner
    assert "Replayed" not in banner and "did not go through" not in banner
    async with admin.post(f"{hub.url}/dead-letters/ops_invoices:0:999999/replay?lang={lang}",
                          data={"csrf_token": token}) as r:
        assert r.status == 404
        assert CATALOGS[lang]["ops.no_such_letter"] in await r.text()


def test_times_on_the_ops_pages_are_said_in_the_pages_language() -> None:
    import datetime as dt

    from services.web.ops import attempts, clock

    at = dt.datetime(2026, 3, 3, 10, 42).timestamp()  # a Tuesday
    later = at + 3 * 86400
    assert clock(at, "en", now=later) == "Tue 3 Mar 10:42"
    assert clock(at, "nl", now=later) == "di 3 mrt 10:42"
    assert clock(at, "da", now=later) == "tirs. 3 mar. 10:42"
    assert clock(at, "nl", now=at + 60) == "10:42"  # today: the time alone
    assert clock(None, "da") == "aldrig"
    assert (attempts(1, "en"), attempts("3", "nl")) == ("1 attempt", "3 pogingen")
