"""The operations pages fit a phone (390 px) and a desktop (1280 px) without sideways scrolling,
with long names and many rows, and the navigation joins them to the calculator."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from services.web.auth import LIMITER
from tests.conftest import wait_for
from tests.ops.conftest import ADMIN_PASSWORD, Hub

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
SHOTS = os.environ.get("HANDOVER_SCREENSHOTS", "")
LONG = "averyveryverylongname" * 4


@pytest.fixture
async def browser(hub: Hub):
    """Headless Debian chromium, logged in once per width by the test."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.async_api import async_playwright

    hub.runtime.runner.app[LIMITER].clear()  # type: ignore[union-attr]
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        await b.close()


@pytest.mark.parametrize("width", [390, 1280])
async def test_ops_pages_fit_the_window_and_link_to_each_other(hub: Hub, browser, width: int) -> None:
    ledger = hub.runtime.ledger
    assert ledger is not None
    number = f"#L{uuid.uuid4().int % 10**6}-{LONG}"
    events = [await hub.order(f"{number}-{i}", f"{LONG}.{i}@{LONG}.example.com") for i in range(6)]
    dead = await hub.order(f"{number}-dead", f"{LONG}@example.com", note="POISON " + LONG)

    async def settled() -> bool:
        rows = [await ledger.deliveries_for(e) for e in (*events, dead)]
        return all(len(r) == 2 and all(d.status in ("delivered", "deadlettered") for d in r) for r in rows)

    await wait_for(settled)
    context = await browser.new_context(viewport={"width": width, "height": 900})
    page = await context.new_page()
    await page.goto(hub.url + "/login?next=/status")
    await page.fill('input[name="password"]', ADMIN_PASSWORD)
    await page.click('button[type="submit"]')
    await page.wait_for_url(hub.url + "/status")
    for path in ("/status", f"/audit?q={quote(number)}", "/dead-letters", "/dead-letters?target=ops_invoices",
                 "/handoffs", "/"):  # fmt: skip
        await page.goto(hub.url + path)
        wide = await page.evaluate(
            "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth"
        )
        if SHOTS:
            await page.screenshot(path=str(Path(SHOTS) / f"ops{path.split('?')[0].replace('/', '-')}-{width}.png"),
                                  full_page=True)  # fmt: skip
        assert wide <= 0, f"{path} is {wide} px wider than {width}"
        if path.startswith("/audit"):
            assert await page.locator(".audit-event").count() == 7  # the long rows are there
        nav = page.locator("nav.site")
        for name in ("Calculator", "Status", "Handoffs", "Dead letters"):
            assert await nav.get_by_role("link", name=name).count() == 1, (path, name)
        assert await nav.get_by_role("button", name="Log out").count() == 1
    # the navigation goes where it says
    await page.locator("nav.site").get_by_role("link", name="Dead letters").click()
    await page.wait_for_url(hub.url + "/dead-letters")
    await page.locator("nav.site").get_by_role("link", name="Calculator").click()
    await page.wait_for_url(hub.url + "/")
    await context.close()
