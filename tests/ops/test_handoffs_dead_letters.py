"""The handoff monitor and the dead-letter page against a target we break and mend."""

from __future__ import annotations

import re
import uuid

import aiohttp
import pytest

from services.web.auth import LIMITER
from tests.conftest import wait_for
from tests.ops.conftest import Hub, login


@pytest.fixture
async def admin(hub: Hub):
    """A logged-in client."""
    hub.runtime.runner.app[LIMITER].clear()  # type: ignore[union-attr]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        assert (await login(http, hub.url)).status == 303
        yield http


async def _page(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url) as r:
        assert r.status == 200
        return await r.text()


async def test_handoff_monitor_lists_an_event_while_its_target_is_down(hub: Hub, admin: aiohttp.ClientSession) -> None:
    hub.target.down = True
    try:
        number = f"#H{uuid.uuid4().int % 10**6}"
        event_id = await hub.order(number, "down@example.com")

        async def listed_with_reason() -> str | None:
            html = await _page(admin, hub.url + "/handoffs")
            block = re.search(rf'data-event="{event_id}">(.*?)</div>', html, re.S)
            return block.group(1) if block and "Waiting to retry at" in block.group(1) else None

        block = await wait_for(listed_with_reason)
        assert number in block and "ops_invoices" in block
        assert "service unavailable" in block  # the vendor's own words
        assert "Transient:" not in block  # not Handover's internal error class
        assert "ops_archive" not in block  # the file target delivered; only what is missing is listed
        samples = hub.runtime.metrics.registry
        from services.web.ops import refresh_gauges

        await refresh_gauges(hub.runtime.runner.app)  # type: ignore[union-attr]
        assert (samples.get_sample_value("handover_handoffs_incomplete", {"flow": "Orders to invoicing"}) or 0) >= 1
    finally:
        hub.target.down = False

    async def cleared() -> bool:
        return event_id not in await _page(admin, hub.url + "/handoffs")

    await wait_for(cleared)
    assert any(k.startswith(event_id) for k in hub.target.keys)


async def test_dead_letter_inspect_and_replay_from_the_page(hub: Hub, admin: aiohttp.ClientSession) -> None:
    ledger = hub.runtime.ledger
    assert ledger is not None
    event_id = await hub.order(f"#D{uuid.uuid4().int % 10**6}", "poison@example.com", note="POISON")
    key = f"{event_id}:Orders to invoicing:send"

    async def dead() -> bool:
        row = await ledger.delivery(key)
        return row is not None and row.status == "deadlettered"

    await wait_for(dead)
    html = await _page(admin, hub.url + "/dead-letters?target=ops_invoices")
    row = re.search(rf'<tr class="letter" data-id="([^"]+)" data-event="{event_id}" data-status="dead">', html)
    assert row, html
    dl_id = row.group(1)
    assert "field &#39;note&#39; is not allowed" in html

    inspect = await _page(admin, hub.url + f"/dead-letters/{dl_id}")
    assert "order.created from shop" in inspect and "POISON" in inspect

    token = re.search(r'name="csrf_token" value="([^"]+)"', inspect).group(1)  # type: ignore[union-attr]
    async with admin.post(hub.url + f"/dead-letters/{dl_id}/replay", data={"csrf_token": token}) as r:
        assert r.status == 502  # still refused: shown, not hidden
        assert "did not go through" in await r.text()
    hub.target.reject_poison = False  # the owner fixed the field at the vendor
    try:
        async with admin.post(hub.url + f"/dead-letters/{dl_id}/replay", data={"csrf_token": token}) as r:
            assert r.status == 200
            text = await r.text()
        assert "Replayed: send at ops_invoices was delivered." in text
        assert (await ledger.delivery(key)).status == "delivered"  # type: ignore[union-attr]
        assert hub.target.keys[key] == 1
        async with admin.post(hub.url + "/dead-letters/replay-all",
                              data={"csrf_token": token, "target": "ops_invoices"}) as r:
            assert r.status == 200
            assert "Replayed 0 dead letters of ops_invoices" in await r.text()
        assert hub.target.keys[key] == 1
    finally:
        hub.target.reject_poison = True


async def test_the_dead_letter_page_shows_every_targets_dead_letters_newest_first(
    hub: Hub, admin: aiohttp.ClientSession
) -> None:
    ledger = hub.runtime.ledger
    assert ledger is not None and len(hub.runtime.settings.targets) > 1
    event_ids = []
    for _ in range(2):
        event_id = await hub.order(f"#N{uuid.uuid4().int % 10**6}", "poison@example.com", note="POISON")

        async def dead(key: str = f"{event_id}:Orders to invoicing:send") -> bool:
            row = await ledger.delivery(key)
            return row is not None and row.status == "deadlettered"

        await wait_for(dead)
        event_ids.append(event_id)
    html = await _page(admin, hub.url + "/dead-letters")  # every target
    listed = re.findall(r'<tr class="letter" data-id="[^"]+" data-event="([^"]+)"', html)
    assert set(event_ids) <= set(listed), html
    assert listed.index(event_ids[1]) < listed.index(event_ids[0])
