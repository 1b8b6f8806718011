"""One contract every HTTP connector keeps, run against each vendor's fake.

A happy delivery creates the record and returns its id; a redelivery creates nothing new;
429 is Transient with retry_after; 5xx Transient; a 400 Permanent keeping the vendor's
message; 401 Permanent; connection refused and timeouts Transient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from services.sync.connectors import connector_kinds
from services.sync.errors import Permanent, Transient
from tests.sync.conftest import contact_event, make_request, order_event

MB_TAX = {"21": "400000000000000021", "9": "400000000000000009"}
SIGNING = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass(frozen=True)
class Case:
    """How to drive one connector kind against its fake."""

    kind: str
    action: str
    fake: str  # fixture name

    def table(self, url: str, token: str) -> dict[str, Any]:
        """The target's config table."""
        if self.kind == "moneybird":
            return {"kind": "moneybird", "base_url": url + "/api/v2", "tax_rates": MB_TAX,
                    "administration_id": "123456789012345678"}
        if self.kind == "http":
            return {"kind": "http", "base_url": url, "url": "/hooks/{{ event.type }}",
                    "headers": {"Authorization": f"Bearer {token}"}}
        return {"kind": self.kind, "base_url": url}

    def secret(self, token: str) -> str:
        """The target secret (the http target's secret signs; its token is a header)."""
        return SIGNING if self.kind == "http" else token

    def request(self, n: int = 1):
        """A request for the case's action."""
        if self.kind == "moneybird":
            return make_request(self.kind, self.action, order_event(event_id=f"ev-{n}"))
        return make_request(self.kind, self.action, contact_event(event_id=f"ev-{n}"))

    def created(self, fake: Any) -> int:
        """How many records the delivery creates at the vendor."""
        return {
            "hubspot": lambda: len(fake.contacts),
            "pipedrive": lambda: len(fake.persons),
            "moneybird": lambda: len(fake.invoices),
            "http": lambda: len(fake.records),
        }[self.kind]()

    def stored_ids(self, fake: Any) -> set[str]:
        """The ids the vendor gave the records."""
        return {
            "hubspot": lambda: {c["id"] for c in fake.contacts.values()},
            "pipedrive": lambda: {str(p) for p in fake.persons},
            "moneybird": lambda: set(fake.invoices),
            "http": lambda: {r["id"] for r in fake.records.values()},
        }[self.kind]()


CASES = [
    Case("hubspot", "upsert_contact", "hubspot_fake"),
    Case("pipedrive", "upsert_person", "pipedrive_fake"),
    Case("moneybird", "create_sales_invoice", "moneybird_fake"),
    Case("http", "send", "http_fake"),
]


def test_every_http_connector_kind_is_covered() -> None:
    """A new HTTP connector kind must join this contract."""
    http_kinds = {"hubspot", "pipedrive", "moneybird", "http"}
    assert http_kinds <= set(connector_kinds())
    assert {c.kind for c in CASES} == http_kinds


@pytest.fixture(params=CASES, ids=lambda c: c.kind)
def case(request: pytest.FixtureRequest) -> tuple[Case, Any]:
    """Each case with its running fake."""
    c: Case = request.param
    return c, request.getfixturevalue(c.fake)


async def test_happy_delivery_creates_the_record(case, connect) -> None:
    c, fake = case
    connector = await connect(c.table(fake.url, fake.token), c.secret(fake.token))
    delivered = await connector.deliver(c.request())
    assert c.created(fake) == 1
    assert delivered.external_id in c.stored_ids(fake)


async def test_redelivery_creates_nothing_new(case, connect) -> None:
    c, fake = case
    connector = await connect(c.table(fake.url, fake.token), c.secret(fake.token))
    first = await connector.deliver(c.request())
    again = await connector.deliver(c.request())
    assert c.created(fake) == 1
    assert again.external_id == first.external_id


async def test_redelivery_after_a_restart_creates_nothing_new(case, connect) -> None:
    """A fresh connector instance (new process) sharing the id map still does not duplicate."""
    c, fake = case
    first = await (await connect(c.table(fake.url, fake.token), c.secret(fake.token))).deliver(
        c.request())
    second = await connect(c.table(fake.url, fake.token), c.secret(fake.token))
    again = await second.deliver(c.request())
    assert c.created(fake) == 1
    assert again.external_id == first.external_id


async def test_429_is_transient_with_retry_after(case, connect) -> None:
    c, fake = case
    connector = await connect(c.table(fake.url, fake.token), c.secret(fake.token))
    fake.rate_limit_next(1, retry_after="7")
    with pytest.raises(Transient) as info:
        await connector.deliver(c.request())
    assert info.value.status == 429
    assert info.value.retry_after == pytest.approx(7)
    assert c.created(fake) == 0


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_transient(case, connect, status: int) -> None:
    c, fake = case
    connector = await connect(c.table(fake.url, fake.token), c.secret(fake.token))
    fake.fail_next(1, status, "upstream exploded")
    with pytest.raises(Transient) as info:
        await connector.deliver(c.request())
    assert info.value.status == status


async def test_400_is_permanent_with_the_vendors_message(case, connect) -> None:
    c, fake = case
    connector = await connect(c.table(fake.url, fake.token), c.secret(fake.token))
    fake.fail_next(1, 400, "Property values were not valid: Zoë's field")
    with pytest.raises(Permanent) as info:
        await connector.deliver(c.request())
    assert info.value.status == 400
    assert "Property values were not valid: Zoë's field" in info.value.message


async def test_401_is_permanent(case, connect) -> None:
    c, fake = case
    connector = await connect(c.table(fake.url, "wrong-token"), c.secret("wrong-token"))
    with pytest.raises(Permanent) as info:
        await connector.deliver(c.request())
    assert info.value.status == 401
    assert c.created(fake) == 0


async def test_connection_refused_is_transient(case, connect, refused_url: str) -> None:
    c, fake = case
    connector = await connect(c.table(refused_url, fake.token), c.secret(fake.token))
    with pytest.raises(Transient) as info:
        await connector.deliver(c.request())
    assert info.value.status is None


async def test_timeout_is_transient(case, connect) -> None:
    c, fake = case
    connector = await connect(c.table(fake.url, fake.token), c.secret(fake.token), timeout_s=0.2)
    fake.hang_next(1)
    with pytest.raises(Transient) as info:
        await connector.deliver(c.request())
    assert "no answer" in info.value.message


async def test_after_a_transient_failure_the_retry_succeeds_once(case, connect) -> None:
    c, fake = case
    connector = await connect(c.table(fake.url, fake.token), c.secret(fake.token))
    fake.fail_next(1, 503)
    with pytest.raises(Transient):
        await connector.deliver(c.request())
    await connector.deliver(c.request())
    await connector.deliver(c.request())
    assert c.created(fake) == 1
