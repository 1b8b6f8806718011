"""Fixtures for the operations tests: a target we can break and mend, and one shared Handover."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from services.common.config import Settings
from services.common.embedded_broker import EmbeddedBroker
from services.runtime import Runtime
from tests.config import QUICK_REBALANCE, action, flow, make_settings
from tests.gateway import signing

ADMIN_PASSWORD = "correct horse battery staple"
API_TOKEN = "tok-ops-7f3a9c"
SHOP_SECRET = "shpss_ops_test_secret_5d1e"


@dataclass
class FakeTarget:
    """A JSON API that answers 500 while down, 400 for poison, else 201 with an id; counts keys."""

    down: bool = False
    reject_poison: bool = True
    keys: dict[str, int] = field(default_factory=dict)
    bodies: list[bytes] = field(default_factory=list)
    url: str = ""
    runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        """Answer one delivery."""
        body = await request.read()
        if self.down:
            return web.json_response({"message": "service unavailable, try later"}, status=503)
        if b"POISON" in body and self.reject_poison:
            return web.json_response({"message": "field 'note' is not allowed"}, status=400)
        key = request.headers.get("Idempotency-Key", "")
        self.keys[key] = self.keys.get(key, 0) + 1
        self.bodies.append(body)
        return web.json_response({"id": f"INV-{len(self.keys):04d}"}, status=201)

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Stop listening."""
        if self.runner:
            await self.runner.cleanup()


def ops_settings(data_dir: Path, bootstrap: str, target_url: str) -> Settings:
    """Shopify orders to an invoicing API (the breakable target) and an archive; one kind of contact
    form to the archive; the ops pages behind a password, handed off after 1 s."""
    return make_settings(
        data_dir, bootstrap, kafka=QUICK_REBALANCE,
        web={"admin_password": ADMIN_PASSWORD, "api_token": API_TOKEN, "handoff_after_s": 1},
        sync={"max_attempts": 1000, "backoff_initial_s": 0.1, "backoff_max_s": 0.5, "breaker_threshold": 1000,
              "breaker_probe_s": 0.5},
        sources={
            "shop": {"kind": "shopify", "secret": SHOP_SECRET},
            "ops_site": {"kind": "form"},  # a name no other test module uses: the broker is shared
        },
        targets={
            "ops_invoices": {"kind": "http", "base_url": target_url, "url": "/invoices",
                             "headers": {"Authorization": "Bearer target-token-9q8w"}},
            "ops_archive": {"kind": "file"},
        },
        flows=[
            flow("Orders to invoicing", "order.created",
                 action("ops_invoices", "send"), action("ops_archive", "archive_order")),
            flow("Ops contact form", "contact.submitted", action("ops_archive", "save_contact"),
                 when='contact.company == "Ops Test BV"'),
        ],
    )


def shopify_order(number: str, email: str, note: str = "") -> tuple[bytes, dict[str, str]]:
    """A signed Shopify orders/create delivery for order `number`."""
    order_id = int(uuid.uuid4().int % 10**15)
    body = json.dumps({
        "id": order_id, "name": number, "currency": "EUR", "total_price": "123.45", "email": email,
        "note": note, "customer": {"id": 7, "first_name": "Anna", "last_name": "de Vries", "email": email},
        "created_at": "2026-03-03T10:42:00+01:00",
    }).encode()
    return body, {
        "Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
        "X-Shopify-Event-Id": uuid.uuid4().hex, **signing.shopify(SHOP_SECRET, body),
    }


@dataclass
class Hub:
    """A running Handover with the ops pages, the breakable target and an HTTP client."""

    runtime: Runtime
    target: FakeTarget
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        """The base URL."""
        return self.runtime.base_url

    async def order(self, number: str, email: str, note: str = "") -> str:
        """Send a Shopify order; return its event id."""
        body, headers = shopify_order(number, email, note)
        async with self.http.post(f"{self.url}/hooks/shop", data=body, headers=headers) as r:
            assert r.status == 202, await r.text()
            return (await r.json())["event_ids"][0]


@pytest.fixture(scope="package")
async def hub(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Hub]:
    """One Handover for the ops tests (a consumer group join costs seconds)."""
    data_dir: Path = tmp_path_factory.mktemp("ops")
    target = FakeTarget()
    await target.start()
    runtime = Runtime(ops_settings(data_dir, broker.bootstrap_servers, target.url))
    await runtime.start()
    assert runtime.sync is not None
    await runtime.sync.wait_assigned()
    async with aiohttp.ClientSession() as http:
        yield Hub(runtime, target, http)
    await runtime.stop()
    await target.stop()


async def login(http: aiohttp.ClientSession, base: str, password: str = ADMIN_PASSWORD) -> aiohttp.ClientResponse:
    """Log in through the form (GET for the CSRF token, then POST)."""
    import re

    async with http.get(f"{base}/login") as r:
        token = re.search(r'name="csrf_token" value="([^"]+)"', await r.text())
        assert token is not None
    async with http.post(f"{base}/login", data={"csrf_token": token.group(1), "password": password, "next": "/status"},
                         allow_redirects=False) as r:
        await r.read()
        return r
