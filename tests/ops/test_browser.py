"""The operations pages in Debian chromium: log in, audit an order, replay a dead letter, watch
the handoff monitor fill and clear."""

from __future__ import annotations

import shutil
import uuid

import pytest

from services.web.auth import LIMITER
from tests.conftest import wait_for
from tests.ops.conftest import ADMIN_PASSWORD, Hub

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]


@pytest.fixture
async def page(hub: Hub):
    """A logged-in page in headless Debian chromium (never a downloaded browser)."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.async_api import async_playwright

    hub.runtime.runner.app[LIMITER].clear()  # type: ignore[union-attr]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(hub.url + "/audit")
        assert "/login?next=" in page.url  # sent to log in first
        await page.fill('input[name="password"]', ADMIN_PASSWORD)
        await page.click('button[type="submit"]')
        await page.wait_for_url(hub.url + "/audit")
        yield page
        await context.close()
        await browser.close()


async def test_find_an_order_by_number_in_the_audit_trail(hub: Hub, page) -> None:
    number = f"#B{uuid.uuid4().int % 10**6}"
    event_id = await hub.order(number, "browser@example.com")
    ledger = hub.runtime.ledger
    assert ledger is not None

    async def delivered() -> bool:
        rows = await ledger.deliveries_for(event_id)
        return len(rows) == 2 and all(r.status == "delivered" for r in rows)

    await wait_for(delivered)
    await page.fill('input[name="q"]', number)
    await page.press('input[name="q"]', "Enter")
    card = page.locator(f'.audit-event[data-event="{event_id}"]')
    await card.wait_for()
    assert number in await card.inner_text()
    assert await card.locator('tr.action[data-status="delivered"]').count() == 2
    invoice_row = card.locator("tr.action", has_text="ops_invoices")
    assert "INV-" in await invoice_row.inner_text()


async def test_replay_a_dead_letter_and_see_it_delivered(hub: Hub, page) -> None:
    ledger = hub.runtime.ledger
    assert ledger is not None
    event_id = await hub.order(f"#R{uuid.uuid4().int % 10**6}", "replay@example.com", note="POISON")
    key = f"{event_id}:Orders to invoicing:send"

    async def dead() -> bool:
        row = await ledger.delivery(key)
        return row is not None and row.status == "deadlettered"

    await wait_for(dead)
    await page.goto(hub.url + "/dead-letters")
    row = page.locator(f'tr.letter[data-event="{event_id}"]')
    assert "not allowed" in await row.inner_text()
    hub.target.reject_poison = False  # the owner fixed it at the vendor
    try:
        await row.get_by_role("button", name="Replay").click()
        result = page.locator("#result")
        await result.wait_for()
        assert "was delivered" in await result.inner_text()
        assert await page.locator(f'tr.letter[data-event="{event_id}"][data-status="replayed"]').count() == 1
    finally:
        hub.target.reject_poison = True
    assert hub.target.keys[key] == 1


async def test_handoff_monitor_lists_a_stuck_event_and_clears_it(hub: Hub, page) -> None:
    hub.target.down = True
    try:
        event_id = await hub.order(f"#M{uuid.uuid4().int % 10**6}", "monitor@example.com")
        card = page.locator(f'.handoff[data-event="{event_id}"]')

        async def listed() -> bool:
            await page.goto(hub.url + "/handoffs")
            return await card.count() == 1 and "Waiting to retry" in await card.inner_text()

        await wait_for(listed, interval=0.3)
        assert "ops_invoices" in await card.inner_text()
    finally:
        hub.target.down = False

    async def cleared() -> bool:
        await page.goto(hub.url + "/handoffs")
        return await card.count() == 0

    await wait_for(cleared, interval=0.3)
