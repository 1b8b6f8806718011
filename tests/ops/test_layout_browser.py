"""The operations pages fit a phone (390 px) and a desktop (1280 px) without sideways scrolling,
with long names and many rows, and the navigation joins them to the calculator."""

from __future__ import annotations

import os
import re
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


# Handover's own English sentences and words (not the owner's flow names, nor a vendor's answer):
# none may be left on a Dutch or Danish page. The catalog's English texts are added below.
ENGLISH = ("Log in", "Log out", "Admin password", "That password is not right", "Too many wrong passwords",
           "Calculator", "Dead letters", "Handoffs", "Status", "Replay", "What happened", "Attempts",
           "delivered", "not started", "Waiting to retry", "gave up", "is not a connected flow action",
           "Connected; no full week", "Median of the last", "Minutes saved per delivery", "unknown field",
           "please fill this in", "Show the math", "probably between", "hours a week", "a year",
           "Typing", "Fixing mistakes", "an unreadable record", "from shop", "No such dead letter",
           "dead-lettered", "audit trail", "Headers", "attempts", "never", "Event:", "What is connected",
           "Try the form", "Message", "Metrics")


def _english_markers(lang: str) -> list[str]:
    from services.web.i18n import CATALOGS, EN

    catalog = [text for key, text in EN.items()
               if "{" not in text and len(text.split()) >= 3 and CATALOGS[lang][key] != text]
    # a word both languages write ("Status"; Dutch says "Calculator" too) is not a marker there
    own = " ".join(CATALOGS[lang].values())
    return [m for m in (*ENGLISH, *catalog) if m not in own]


@pytest.mark.parametrize("lang", ["nl", "da"])
async def test_dutch_and_danish_pages_carry_no_english_at_390_px(hub: Hub, browser, lang: str) -> None:
    ledger = hub.runtime.ledger
    assert ledger is not None
    event = await hub.order(f"#E{uuid.uuid4().int % 10**6}", f"{lang}@example.com")
    dead = await hub.order(f"#F{uuid.uuid4().int % 10**6}", f"{lang}.dead@example.com", note="POISON")

    async def settled() -> bool:
        rows = [await ledger.deliveries_for(e) for e in (event, dead)]
        return all(len(r) == 2 and all(d.status in ("delivered", "deadlettered") for d in r) for r in rows)

    await wait_for(settled)
    markers = _english_markers(lang)
    page = await (await browser.new_context(viewport={"width": 390, "height": 900})).new_page()

    async def english_left(path: str) -> list[str]:
        # every <details> opened: what is one click away must be in the language too
        text = await page.evaluate(
            "document.querySelectorAll('details').forEach(d => d.open = true), document.body.innerText"
        )
        if SHOTS:
            name = f"{lang}{path.split('?')[0].replace('/', '-')}-390.png"
            await page.screenshot(path=str(Path(SHOTS) / name), full_page=True)
        return [m for m in markers if re.search(rf"(?<!\w){re.escape(m)}(?!\w)", text)]

    await page.goto(f"{hub.url}/login?lang={lang}&next=/status")
    assert await english_left("/login") == []
    await page.fill('input[name="password"]', "not the password")
    await page.click('button[type="submit"]')
    assert await english_left("/login") == []  # the error too
    await page.fill('input[name="password"]', ADMIN_PASSWORD)
    await page.click('button[type="submit"]')
    await page.wait_for_url(hub.url + "/status")
    await page.goto(hub.url + "/dead-letters")
    dl_id = await page.locator(f'tr.letter[data-event="{dead}"]').first.get_attribute("data-id")
    for path in ("/", "/try", "/status", "/handoffs", f"/audit?q={event}", "/dead-letters", f"/dead-letters/{dl_id}"):
        await page.goto(hub.url + path)  # the language stays chosen (cookie)
        assert await page.evaluate("document.documentElement.lang") == lang, path
        assert await english_left(path) == [], path
    # the calculator's result, computed from the example row
    await page.goto(f"{hub.url}/")
    await page.locator("#calculate").click()
    await page.locator("#hl-hours strong").wait_for()
    assert await english_left("/calculated") == []
