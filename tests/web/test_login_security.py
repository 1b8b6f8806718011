"""The login door as an attacker tries it: `next` that a browser reads as another site, header
injection, a logout that must end the session, a password change, the Secure flag behind TLS,
and a limiter that a stranger behind the same proxy cannot use to lock the owner out."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.assembly import parse_settings
from services.common.appkeys import METRICS, SETTINGS
from services.common.metrics import Metrics
from services.ledger.appkeys import LEDGER
from services.ledger.store import open_ledger
from services.web.app import setup_web
from services.web.auth import LIMITER, LOGIN_FAILURES, SESSION_COOKIE, SESSION_KEY, login_limiter, safe_next
from services.web.csrf import COOKIE as CSRF_COOKIE
from services.web.ops import setup_ops_pages
from tests.config import Table
from tests.web.conftest import ADMIN_PASSWORD, TOML, make_app, web_toml

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]

# What an attacker puts in ?next=, and the same-site path it must become (or /status).
NEXTS = [
    ("/\t/evil.example", "/status"),  # a browser drops the tab: //evil.example
    ("/\n/evil.example", "/status"),
    ("/\r/evil.example", "/status"),
    ("\t//evil.example", "/status"),
    (" //evil.example", "/status"),
    ("/\\evil.example", "/status"),  # a backslash is a slash in http(s) URLs
    ("\\\\evil.example", "/status"),
    ("https://evil.example/", "/status"),
    ("javascript:alert(1)", "/status"),
    ("//evil.example", "/status"),
    ("/\x0b/evil.example", "/%0B/evil.example"),  # not stripped by browsers: a path segment
    ("/audit?q=a\r\nSet-Cookie: x=1", "/audit?q=aSet-Cookie:%20x=1"),
    ("/audit?q=#1001", "/audit?q=#1001"),
    ("/dead-letters", "/dead-letters"),
]


async def csrf(client: TestClient, path: str = "/login") -> str:
    """The CSRF token of the login page (its cookie is now in the client's jar)."""
    page = await (await client.get(path)).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    return token.group(1)


async def post_login(client: TestClient, password: str, nxt: str = "/", **headers: str):
    """POST the login form; the raw answer (no redirects followed)."""
    token = await csrf(client)
    # The CSRF cookie by hand: a Secure one (public_url https) never comes back over plain http.
    return await client.post(
        "/login", data={"csrf_token": token, "password": password, "next": nxt},
        allow_redirects=False, headers=headers, cookies={CSRF_COOKIE: token},
    )


@pytest.mark.parametrize(("nxt", "expected"), NEXTS)
async def test_next_goes_only_to_a_path_on_this_site(client: TestClient, nxt: str, expected: str) -> None:
    r = await post_login(client, ADMIN_PASSWORD, nxt)  # a dropped connection raises here
    assert r.status == 303
    assert r.headers["Location"] == expected
    assert safe_next(nxt) == expected
    # The login page itself (GET with ?next=) answers too, and carries only the safe value.
    page = await client.get("/login?next=" + quote(nxt, safe=""))
    assert page.status == 200
    assert "evil.example" not in (await page.text()) or expected != "/status"


async def test_a_logout_ends_the_session_on_the_server(client: TestClient) -> None:
    r = await post_login(client, ADMIN_PASSWORD)
    assert r.status == 303
    stolen = r.cookies[SESSION_COOKIE].value
    assert (await client.get("/status", cookies={SESSION_COOKIE: stolen})).status != 401
    token = await csrf(client)
    r = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert r.status == 303
    # The old cookie, replayed by whoever copied it, opens nothing any more.
    client.session.cookie_jar.clear()
    assert (await client.get("/status", cookies={SESSION_COOKIE: stolen})).status == 401


async def test_a_new_password_ends_every_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOVER_TEST_SESSION_SECRET", "shared-by-every-replica")
    shared = {"session_secret_env": "HANDOVER_TEST_SESSION_SECRET"}
    toml = web_toml(web=shared)
    async with TestClient(TestServer(make_app(toml=toml))) as old:
        cookie = (await post_login(old, ADMIN_PASSWORD)).cookies[SESSION_COOKIE].value
    async with TestClient(TestServer(make_app(toml=toml))) as same:  # a restart, same password
        assert (await same.get("/status", cookies={SESSION_COOKIE: cookie})).status != 401
    changed = web_toml(web={**shared, "admin_password": "a-brand-new-password-77"})
    async with TestClient(TestServer(make_app(toml=changed))) as new:
        assert (await new.get("/status", cookies={SESSION_COOKIE: cookie})).status == 401


@pytest.mark.parametrize(("server", "headers", "secure"), [
    ({}, {}, False),
    ({"public_url": "https://hub.example"}, {}, True),
    ({}, {"X-Forwarded-Proto": "https"}, True),  # a proxy on this machine (the default)
    ({"trusted_proxies": []}, {"X-Forwarded-Proto": "https"}, False),  # anyone can send it: not believed
])
async def test_the_session_cookie_is_secure_behind_tls(server: Table, headers: dict[str, str], secure: bool) -> None:
    toml = web_toml(server=server)
    async with TestClient(TestServer(make_app(toml=toml))) as c:
        r = await post_login(c, ADMIN_PASSWORD, **headers)
        assert r.status == 303
        assert bool(r.cookies[SESSION_COOKIE]["secure"]) is secure


async def test_a_stranger_behind_the_same_proxy_cannot_lock_the_owner_out() -> None:
    toml = web_toml(server={"trusted_proxies": ["127.0.0.1"]})
    async with TestClient(TestServer(make_app(toml=toml))) as c:
        stranger = {"X-Forwarded-For": "203.0.113.66"}
        answers = [(await post_login(c, f"guess-{i}", **stranger)).status for i in range(7)]
        assert answers == [401] * 5 + [429] * 2
        r = await post_login(c, ADMIN_PASSWORD, **{"X-Forwarded-For": "198.51.100.20"})
        assert r.status == 303  # the owner, from their own address


def test_the_login_limiter_remembers_a_bounded_number_of_clients() -> None:
    now = [0.0]
    failures = login_limiter(max_clients=100, clock=lambda: now[0])
    for i in range(5000):
        failures.for_client(f"client-{i}").record()
        now[0] += 0.001
    assert len(failures) <= 100
    for _ in range(LOGIN_FAILURES):
        failures.for_client("persistent").record()
    known = failures.get("persistent")
    assert known is not None and known.wait() > 0


@pytest.mark.browser
async def test_chromium_stays_on_this_site_after_logging_in_with_a_hostile_next(client: TestClient) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.async_api import Route, async_playwright

    app: web.Application = client.server.app
    app[LIMITER].clear()
    base = str(client.make_url("/")).rstrip("/")
    off_site: list[str] = []

    async def only_us(route: Route) -> None:
        if route.request.url.startswith(base):
            await route.continue_()
        else:  # record and refuse: nothing leaves the machine
            off_site.append(route.request.url)
            await route.abort()

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = await browser.new_context()
            await context.route("**/*", only_us)
            page = await context.new_page()
            for hostile in ("%2F%09%2Fevil.example", "%2F%5Cevil.example", "%0A%2F%2Fevil.example"):
                await context.clear_cookies()
                await page.goto(f"{base}/login?next={hostile}")
                await page.fill('input[name="password"]', ADMIN_PASSWORD)
                async with page.expect_navigation():
                    await page.click('button[type="submit"]')
                assert page.url.startswith(base + "/"), page.url
            assert off_site == []
        finally:
            await browser.close()


@pytest.mark.parametrize("lang", ["nl", "da"])
async def test_the_login_page_speaks_dutch_and_danish(client: TestClient, lang: str) -> None:
    from services.web.i18n import CATALOGS

    page = await (await client.get(f"/login?lang={lang}&next=/audit")).text()
    assert f'<html lang="{lang}">' in page
    assert CATALOGS[lang]["login.password"] in page and "Admin password" not in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    # the language stays chosen (cookie) for the POST; the error is in it too
    r = await client.post("/login", data={"csrf_token": token, "password": "wrong", "next": "/audit"},
                          allow_redirects=False, cookies={CSRF_COOKIE: token})
    assert r.status == 401
    text = await r.text()
    assert CATALOGS[lang]["login.wrong"] in text and "That password is not right" not in text
    # and the right password still goes (only) where the owner was going
    r = await post_login(client, ADMIN_PASSWORD, "/audit")
    assert r.status == 303 and r.headers["Location"] == "/audit"



async def test_a_logout_outlives_a_restart_and_reaches_the_other_replicas(tmp_path: Path) -> None:
    """Web replicas (or one process before and after a restart) share the session key and the
    ledger: a cookie logged out on one is refused by the others, not only by the one that saw it."""
    ledger = await open_ledger(f"sqlite:///{tmp_path}/ledger.db")

    def replica() -> web.Application:
        app = web.Application()
        app[SETTINGS] = parse_settings(TOML, env={})
        app[METRICS] = Metrics()
        app[LEDGER] = ledger
        app[SESSION_KEY] = b"k" * 32  # web.session_secret_env: the same on every replica
        setup_web(app)
        setup_ops_pages(app)  # /status and the other pages behind the login
        return app

    one, other = TestClient(TestServer(replica())), TestClient(TestServer(replica()))
    await one.start_server()
    try:
        r = await post_login(one, ADMIN_PASSWORD)
        assert r.status == 303
        stolen = r.cookies[SESSION_COOKIE].value
        await other.start_server()  # started before the logout: it learns of it from the ledger
        status = await other.get("/status", cookies={SESSION_COOKIE: stolen}, allow_redirects=False)
        assert status.status == 200  # the session works on the other replica
        token = await csrf(one, "/status")
        r = await one.post("/logout", data={"csrf_token": token}, allow_redirects=False)
        assert r.status == 303
        await other.close()
        # The other replica after a restart (or its next refresh): the cookie is refused.
        other = TestClient(TestServer(replica()))
        await other.start_server()
        status = await other.get("/status", cookies={SESSION_COOKIE: stolen}, allow_redirects=False)
        assert status.status == 401  # refused (a browser would be sent to /login)
    finally:
        await one.close()
        await other.close()
        await ledger.close()
