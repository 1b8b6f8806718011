"""Fixtures for the web tests: an app with two connected flow actions and a memory store."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.common.appkeys import METRICS, SETTINGS
from services.common.config import parse_settings
from services.common.metrics import Metrics
from services.web.app import setup_web
from services.web.calculator import CALCULATOR_STORE, ActionVolume, MemoryCalculatorStore

TOML = """
data_dir = "var"

[sources.website]
kind = "form"

[targets.crm]
kind = "file"

[targets.mail]
kind = "maildir"
sender = "Shop <hello@shop.invalid>"

[[flows]]
name = "Contact form to CRM"
on = "contact.submitted"

[[flows.actions]]
target = "crm"
action = "upsert_contact"
minutes_saved = 3
fields = { email = "{{ contact.email }}", name = "{{ contact.name }}" }

[[flows.actions]]
target = "mail"
action = "send_email"
minutes_saved = 2
"""

CRM_FLOW = "Contact form to CRM"


def make_app(store: MemoryCalculatorStore | None = None) -> web.Application:
    """Build the web app the way the runtime does, with a known store."""
    app = web.Application()
    app[SETTINGS] = parse_settings(TOML, env={})
    app[METRICS] = Metrics()
    if store is not None:
        app[CALCULATOR_STORE] = store
    setup_web(app)
    return app


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
    """An aiohttp test client for the app with that store."""
    async with TestClient(TestServer(make_app(store))) as c:
        yield c
