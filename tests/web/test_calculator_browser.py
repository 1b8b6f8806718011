"""The calculator in Debian's chromium: live results, ranking, chart, Dutch, CSV, field errors."""

from __future__ import annotations

import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web

from services.web.calculator.store import MemoryCalculatorStore
from tests.web.conftest import ADMIN_PASSWORD, CRM_FLOW, crm_volume, make_app

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def base_url():
    """Serve the app on a free port of 127.0.0.1."""
    runner = web.AppRunner(make_app(MemoryCalculatorStore([crm_volume()])), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def page():
    """A fresh page in headless Debian chromium (never a downloaded browser)."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = await browser.new_context(accept_downloads=True)
        yield await context.new_page()
        await context.close()
        await browser.close()


async def log_in(page, base_url):
    """Log in as the owner through the login form, back on the calculator."""
    await page.goto(base_url + "/login?next=/")
    await page.fill('input[name="password"]', ADMIN_PASSWORD)
    await page.click('button[type="submit"]')
    await page.wait_for_url(base_url + "/")


def field(page, name):
    return page.locator(f'[id="f-{name}"]')


def error(page, name):
    return page.locator(f'[id="e-{name}"]')


async def fill_row(page, i, *, target, volume, minutes="2"):
    values = {
        "source": "Shop",
        "target": target,
        "record_type": "order",
        "action": "save",
        "fields": "5",
        "volume.likely": volume,
        "minutes.likely": minutes,
    }
    row = page.locator(f'fieldset.handover[data-row="{i}"]')
    await row.locator("summary").click()  # "More": record type, action, fields, error rate, cost
    for name, value in values.items():
        await field(page, f"handovers[{i}].{name}").fill(value)
    await field(page, f"handovers[{i}].field_error_percent.likely").fill("0")
    await field(page, f"handovers[{i}].hourly_cost.likely").fill("40")


async def test_live_calculator_in_the_browser(base_url, page, tmp_path: Path):
    from playwright.async_api import expect

    await page.goto(base_url + "/")
    hours = page.locator("#hl-hours strong")
    # Not logged in: typed handovers only, and the way for the owner to see the measured ones.
    await expect(page.locator('#measured-login a[href="/login?next=%2F%3Flang%3Den"]')).to_have_text(
        "The owner can log in to see what Handover measured and saved."
    )

    # One handover: 60 x 2 / 60 = 2 h a week, updated as one types, without submitting.
    await fill_row(page, 0, target="Accounting", volume="60")
    await expect(hours).to_have_text("2.00")
    await expect(page.locator("#hl-money strong")).to_have_text("€4,171")

    # A second, bigger one: 300 x 2 / 60 = 10 h; it goes to the top, the total becomes 12 h.
    await page.locator("#add-row").click()
    await fill_row(page, 1, target="Email", volume="300")
    await expect(hours).to_have_text("12.00")
    first = page.locator("#ranking tbody tr").first
    await expect(first.locator(".label")).to_have_text("Shop → Email: order (save)")
    await expect(first.locator(".connector")).to_contain_text("smtp")
    # only the two typed handovers in the ranked chart (the connected ones are the owner's),
    # the biggest bar first
    await expect(page.locator("#chart-ranked g.bar")).to_have_count(2)
    await expect(page.locator("#h-saved")).to_have_count(0)
    assert CRM_FLOW not in await page.content()
    await expect(page.locator("#chart-ranked g.bar").first).to_have_attribute("data-shown", "10.00")

    # Dutch: the same scenario travels along; decimal commas and euro amounts Dutch-style.
    await page.get_by_role("link", name="Nederlands").click()
    await expect(page.locator("html")).to_have_attribute("lang", "nl")
    await expect(hours).to_have_text("12,00")
    await expect(page.locator("#hl-money strong")).to_have_text("€ 25.027")  # 480 x 52.14

    # CSV of the current scenario
    async with page.expect_download() as info:
        await page.locator("#csv-link").click()
    download = await info.value
    target = tmp_path / "scenario.csv"
    await download.save_as(target)
    text = target.read_text("utf-8")
    assert "Shop → Email: order (save)" in text
    assert ";10,000;" in text and ";2,000;" in text  # Dutch: ";" and decimal commas
    assert CRM_FLOW not in text

    # Bad input: the field says what is wrong, in Dutch, and the numbers are kept as they were.
    await field(page, "handovers[0].volume.likely").fill("-5")
    await expect(error(page, "handovers[0].volume.likely")).to_have_text("mag niet negatief zijn")
    await expect(field(page, "handovers[0].volume.likely")).to_have_attribute(
        "aria-invalid", "true"
    )
    await field(page, "handovers[0].minutes.likely").fill("veel")
    await expect(error(page, "handovers[0].minutes.likely")).to_have_text("'veel' is geen getal")
    await field(page, "handovers[0].volume.likely").fill("60")
    await field(page, "handovers[0].minutes.likely").fill("2")
    await expect(error(page, "handovers[0].volume.likely")).to_have_text("")
    await expect(hours).to_have_text("12,00")


async def test_stopwatch_fills_in_minutes(base_url, page):
    from playwright.async_api import expect

    await page.goto(base_url + "/")
    start = page.locator('fieldset.handover[data-row="0"] .sw-start')
    await start.click()
    await expect(start).to_have_text("Stop and use")
    await start.click()
    # a click-click takes well under a minute: a small positive number of minutes, dot-decimal
    await expect(field(page, "handovers[0].minutes.likely")).to_have_value(re.compile(r"^0\.\d\d$"))


async def test_linking_a_typed_row_to_its_connection(base_url, page):
    from playwright.async_api import expect

    await log_in(page, base_url)  # connections and measured figures are the owner's
    await expect(page.locator("#measured-login")).to_have_count(0)
    hours = page.locator("#hl-hours strong")
    rows = page.locator("#ranking > tbody > tr")
    # Typed by hand: 60 x 2 / 60 = 2 h, next to the two connected actions (three rows).
    await fill_row(page, 0, target="CRM", volume="60")
    await expect(hours).to_have_text("2.00")
    await expect(rows).to_have_count(3)
    # the total bar: the measured CRM row (20-40 a week x 3 min) on top of the typed 2 h
    total = page.locator("#chart-flow g.bar-total")
    before = Decimal(await total.get_attribute("data-shown"))

    # The CRM connection suggests the row with the same system name; following it links them.
    suggestion = page.locator("a.link-suggest")
    await expect(suggestion).to_contain_text("Handover 1 (Shop → CRM: order (save))")
    await suggestion.click()
    await expect(field(page, "handovers[0].connected")).to_have_value(
        "Contact form to CRM/upsert_contact"
    )
    # One row fewer; the typed row is now the connection, measured, and nothing is left by hand.
    await expect(rows).to_have_count(2)
    await expect(hours).to_have_text("0.00")
    linked = rows.filter(has_text="Shop → CRM: order (save)")
    await expect(linked.locator(".status")).to_contain_text("connected, measured")
    await expect(page.locator("a.link-suggest")).to_have_count(0)
    # the typed 2 h are no longer counted next to the connection (the ledger's volume is)
    assert Decimal(await total.get_attribute("data-shown")) <= before - 2

    # Unlinking by hand brings the typed 2 h back.
    await field(page, "handovers[0].connected").select_option("")
    await expect(rows).to_have_count(3)
    await expect(hours).to_have_text("2.00")
