"""Connector test fixtures: vendor fakes, an HTTP session, events and a connector factory."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from schemas import (
    Address,
    AnyEvent,
    ContactData,
    ContactSubmitted,
    OrderCreated,
    OrderData,
    OrderLine,
    Person,
)
from services.common.config import TargetSpec
from services.common.secrets import Secret
from services.flows.compile import idempotency_key
from services.flows.context import event_context
from services.flows.templates import compile_template
from services.sync.connectors import connector_kinds
from services.sync.connectors.base import ActionRequest, Connector, ConnectorContext
from tests.sync.fakes.http import FakeReceiver
from tests.sync.fakes.hubspot import FakeHubspot
from tests.sync.fakes.moneybird import FakeMoneybird
from tests.sync.fakes.pipedrive import FakePipedrive

WHEN = dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.UTC)  # a Thursday


class MemoryIdMap:
    """The ledger's id map, in memory."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], str] = {}

    async def idmap_get(self, target: str, key: str) -> str | None:
        """The stored id, or None."""
        return self.data.get((target, key))

    async def idmap_put(self, target: str, key: str, external_id: str) -> None:
        """Store an id."""
        self.data[(target, key)] = external_id


def contact_event(
    *, email: str = "zoe@example.nl", phone: str = "+31 (0)6 1234 5678", event_id: str = "ev-1"
) -> ContactSubmitted:
    """A contact form submission with diacritics and a phone number as text."""
    return ContactSubmitted(
        id=event_id,
        source="website",
        time=WHEN,
        subject=email,
        data=ContactData(
            contact=Person(
                email=email,
                first_name="Zoë",
                last_name="Ålesund-Ørsted",
                phone=phone,
                company="Ærø Bådværft ApS",
            ),
            message="Bel me even terug ☎",
        ),
    )


def order_event(
    *, event_id: str = "ev-order-1", order_id: str = "820982911946154508", **changes: Any
) -> OrderCreated:
    """A web order: 64-bit id, amounts to the cent, tax 21% and 9%."""
    data = OrderData(
        order_id=order_id,
        order_number="#1001",
        currency="EUR",
        total=Decimal("1481.82"),  # adds up: 1234.56 + 238.26 (21% of 1134.56) + 9.00 (9% of 100.00)
        subtotal=Decimal("1234.56"),
        tax_total=Decimal("247.26"),
        shipping_total=Decimal("0"),
        prices_include_tax=False,
        customer=Person(
            email="zoe@example.nl",
            first_name="Zoë",
            last_name="Ålesund-Ørsted",
            phone="0031612345678",
            external_id="7412093857261",
        ),
        billing_address=Address(
            line1="Keizersgracht 1ø", postcode="1015 CJ", city="Åmsterdam", country="NL"
        ),
        lines=[
            OrderLine(
                name="Zoë's lamp — Ørsted",
                quantity=Decimal("2"),
                unit_price=Decimal("567.28"),
                total=Decimal("1134.56"),
                tax_rate=Decimal("21"),
                tax_amount=Decimal("238.26"),
                external_id="820982911946154509",
            ),
            OrderLine(
                name="Boek",
                quantity=Decimal("1"),
                unit_price=Decimal("100.00"),
                total=Decimal("100.00"),
                tax_rate=Decimal("9.00"),
                tax_amount=Decimal("9.00"),
            ),
        ],
        placed_at=WHEN,
    )
    if changes:
        data = msgspec.structs.replace(data, **changes)
    return OrderCreated(id=event_id, source="shop", time=WHEN, subject="#1001", data=data)


def render_fields(
    kind: str, action: str, event: AnyEvent, fields: dict[str, str] | None = None
) -> dict[str, str]:
    """The connector's default field templates (plus `fields`), rendered like the runner does."""
    spec = connector_kinds()[kind].action_spec(action)
    ctx = event_context(event)
    return {
        name: compile_template(text, f"fields.{name}", event.type).render(ctx)
        for name, text in {**spec.defaults, **(fields or {})}.items()
    }


def make_request(
    kind: str,
    action: str,
    event: AnyEvent,
    *,
    flow: str = "flow",
    fields: dict[str, str] | None = None,
    options: dict[str, Any] | None = None,
) -> ActionRequest:
    """An ActionRequest as the runner builds it."""
    return ActionRequest(
        event=event,
        flow=flow,
        action=action,
        key=action,
        idempotency_key=idempotency_key(event, flow, action),
        fields=render_fields(kind, action, event, fields),
        options=options or {},
    )


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """The shared session connectors borrow."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def idmap() -> MemoryIdMap:
    """A fresh in-memory id map."""
    return MemoryIdMap()


@pytest.fixture
async def connect(http: aiohttp.ClientSession, idmap: MemoryIdMap, tmp_path: Path):
    """Build and start a connector from a target table; closed at teardown."""
    started: list[Connector] = []

    async def build(
        table: dict[str, Any], secret: str | None = None, timeout_s: float = 5.0
    ) -> Connector:
        cls = connector_kinds()[table["kind"]]
        config = msgspec.convert(table, cls.Config)
        spec = TargetSpec(name="t1", config=config, secret=Secret(secret) if secret else None)
        ctx = ConnectorContext(http=http, data_dir=tmp_path, timeout_s=timeout_s, idmap=idmap)
        connector = cls(spec, ctx)
        await connector.start()
        started.append(connector)
        return connector

    yield build
    for connector in started:
        await connector.close()


@pytest.fixture
def refused_url() -> str:
    """A local URL nobody listens on (the port was bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def _serve(fake: Any) -> AsyncIterator[Any]:
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture
async def hubspot_fake() -> AsyncIterator[FakeHubspot]:
    """A running fake HubSpot."""
    async for fake in _serve(FakeHubspot()):
        yield fake


@pytest.fixture
async def pipedrive_fake() -> AsyncIterator[FakePipedrive]:
    """A running fake Pipedrive."""
    async for fake in _serve(FakePipedrive()):
        yield fake


@pytest.fixture
async def moneybird_fake() -> AsyncIterator[FakeMoneybird]:
    """A running fake Moneybird."""
    async for fake in _serve(FakeMoneybird()):
        yield fake


@pytest.fixture
async def http_fake() -> AsyncIterator[FakeReceiver]:
    """A running fake JSON receiver that checks Standard Webhooks signatures."""
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    async for fake in _serve(FakeReceiver(signing_secret=secret)):
        yield fake


@pytest.fixture
def processes() -> Iterator[list[Any]]:
    """Subprocesses a test starts (tests.sync.test_faults.SyncProcess); killed at teardown if still running."""
    started: list[Any] = []
    yield started
    for p in started:
        p.kill()
