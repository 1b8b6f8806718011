"""Fixtures for the web tests: an app with two connected flow actions and a memory store."""

from __future__ import annotations

import re

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from calculator.volumes import ActionVolume
from services.assembly import parse_settings
from services.common.appkeys import METRICS, SETTINGS
from services.common.metrics import Metrics
from services.web.app import setup_web
from services.web.auth import setup_auth
from services.web.calculator.store import CALCULATOR_STORE, MemoryCalculatorStore
from tests.config import Table, action, config_toml, flow

ADMIN_PASSWORD = "owner-calculator-pw-4k2j"
API_TOKEN = "tok-calculator-9d8e"

CRM_FLOW = "Contact form to CRM"


def web_toml(
    data_dir: str = "var", *, server: Table | None = None, web: Table | None = None, flow_name: str = CRM_FLOW
) -> str:
    """The web tests' handover.toml: the owner's login and API token, a contact form, and one flow
    (upsert the contact in a file CRM, send a mail) with minutes saved per action."""
    return config_toml(
        data_dir,
        server=server,
        # a key given as None is left out (no admin_password: Handover makes one)
        web={k: v for k, v in {"admin_password": ADMIN_PASSWORD, "api_token": API_TOKEN, **(web or {})}.items()
             if v is not None},
        sources={"website": {"kind": "form"}},
        targets={"crm": {"kind": "file"}, "mail": {"kind": "maildir", "sender": "Shop <hello@shop.invalid>"}},
        flows=[flow(
            flow_name, "contact.submitted",
            action("crm", "upsert_contact", minutes_saved=3,
                   fields={"email": "{{ contact.email }}", "name": "{{ contact.name }}"}),
            action("mail", "send_email", minutes_saved=2),
        )],
    )


TOML = web_toml()


def make_app(store: MemoryCalculatorStore | None = None, toml: str = TOML) -> web.Application:
    """Build the web app the way the runtime does (with the admin login), with a known store."""
    app = web.Application()
    app[SETTINGS] = parse_settings(toml, env={})
    app[METRICS] = Metrics()
    if store is not None:
        app[CALCULATOR_STORE] = store
    setup_web(app)
    setup_auth(app)  # the runtime adds it with the operations pages
    return app


async def login(client: TestClient, password: str = ADMIN_PASSWORD) -> None:
    """Log the test client in as the owner through the login form (CSRF token, then POST)."""
    page = await (await client.get("/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    r = await client.post(
        "/login",
        data={"csrf_token": token.group(1), "password": password, "next": "/"},
        allow_redirects=False,
    )
    assert r.status == 303, await r.text()


def crm_volume(**kw) -> ActionVolume:
    """Ledger figures for the CRM action (the mail action gets none)."""
    kw.setdefault("weekly_delivered", (20, 30, 40))
    kw.setdefault("delivered_total", 90)
    return ActionVolume(flow=CRM_FLOW, action="upsert_contact", target="crm", **kw)


@pytest.fixture
def store() -> MemoryCalculatorStore:
    """A store where the CRM action delivered 20, 30, 40 a week (90 in all), nothing dead."""
    return MemoryCalculatorStore([crm_volume()])


@pytest.fixture
async def client(store):
    """An aiohttp test client for the app with that store (not logged in)."""
    async with TestClient(TestServer(make_app(store))) as c:
        yield c


@pytest.fixture
async def owner(store):
    """A test client for the same kind of app, logged in as the owner."""
    async with TestClient(TestServer(make_app(store))) as c:
        await login(c)
        yield c


def handover(**kw):
    """A typed handover without spread or errors, so hours are exactly V·t/60."""
    h = {
        "source": "Shop",
        "target": "Accounting",
        "record_type": "order",
        "action": "save invoice",
        "fields": "5",
        "volume": {"likely": "60"},
        "minutes": {"likely": "2"},
        "field_error_percent": {"likely": "0"},
        "hourly_cost": {"likely": "40"},
    }
    h.update(kw)
    return h
