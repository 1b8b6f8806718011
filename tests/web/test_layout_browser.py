"""The owner's path in Debian chromium at a phone's 390 px and a desktop's 1280 px: the first try
with four fields, the headline against the math, no page wider than its window, login keeps
the scenario, the navigation."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest

from tests.web.conftest import ADMIN_PASSWORD
from tests.web.test_calculator_browser import base_url, field, page  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

WIDTHS = (390, 1280)
# Screenshots for a person to look at: HANDOVER_SCREENSHOTS=dir keeps them.
SHOTS = os.environ.get("HANDOVER_SCREENSHOTS", "")


async def shot(page, name: str) -> None:  # noqa: F811
    if SHOTS:  # playwright makes the folder
        await page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


async def overflow(page) -> int:  # noqa: F811
    """How many pixels the page is wider than its window (0: no sideways scrolling)."""
    return await page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth"
    )


def number(text: str) -> Decimal:
    return Decimal(re.sub(r"[^\d.]", "", text))


@pytest.mark.parametrize("width", WIDTHS)
async def test_first_try_fits_and_the_headline_equals_the_math(base_url, page, width):  # noqa: F811
    from playwright.async_api import expect

    await page.set_viewport_size({"width": width, "height": 900})
    await page.goto(base_url + "/?lang=en")
    assert await overflow(page) <= 0
    # The example row is filled in: from, to, how many a week, minutes each. Calculate.
    await expect(field(page, "handovers[0].volume.likely")).to_have_value("40")
    await field(page, "handovers[0].source").fill("Webwinkel-met-een-heel-erg-lange-naam-zonder-spaties-" + "x" * 40)
    await page.locator("#calculate").click()
    hours = page.locator("#hl-hours strong")
    await expect(hours).to_have_text("5.70")  # 2.67 h typing + 3.03 h fixing mistakes (12 fields)
    await expect(page.locator("#hl-typing")).to_contain_text("Typing: 2.67 h a week")
    await expect(page.locator("#hl-fixing")).to_contain_text("Fixing mistakes: 3.03 h a week")
    await expect(page.locator("#hl-hours .range")).to_contain_text("probably between")
    # The math, opened, reproduces the figure: typing + fixing = hours; hours x rate x weeks = cost.
    await page.locator("#ranking details.math summary").first.click()
    steps = page.locator("#ranking details.math").first
    assert number(await steps.locator('tr[data-code="hours"] td.num').inner_text()) == Decimal("5.70")
    cost = number(await steps.locator('tr[data-code="cost"] td.num').inner_text())
    assert cost == (Decimal("5.70") * Decimal("33.5") * Decimal("52.14")).quantize(Decimal("0.01"))
    assert number(await page.locator("#hl-money strong").inner_text()) == cost.quantize(Decimal(1))
    assert await overflow(page) <= 0, "results wider than the window"
    await shot(page, f"calculator-first-try-{width}")


@pytest.mark.parametrize("width", WIDTHS)
async def test_many_rows_with_long_names_fit_the_window(base_url, page, width):  # noqa: F811
    await page.set_viewport_size({"width": width, "height": 900})
    rows = {}
    for i in range(12):
        rows.update({
            f"handovers[{i}].source": f"Supercalifragilistic-webshop-{i}-" + "x" * 40,
            f"handovers[{i}].target": "Boekhouding en administratie van de onderneming",
            f"handovers[{i}].record_type": "verkoopfactuur met meerdere orderregels",
            f"handovers[{i}].volume.likely": str(10 + i * 7),
            f"handovers[{i}].minutes.likely": "3.5",
        })  # fmt: skip
    await page.goto(base_url + "/?lang=nl")
    # without JavaScript's help: the plain form POST (the page re-renders with the results)
    await page.evaluate(
        """rows => { const f = document.getElementById('calc-form');
        for (const [k, v] of Object.entries(rows)) { const i = document.createElement('input');
        i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i); }
        f.querySelectorAll('fieldset.handover input').forEach(i => { i.value = ''; }); f.submit(); }""",
        rows,
    )
    await page.wait_for_selector("#ranking")
    assert await page.locator("#ranking > tbody > tr").count() == 12
    for details in await page.locator("details").all():
        await details.evaluate("d => d.open = true")
    assert await overflow(page) <= 0, "a long name pushed the page sideways"
    await shot(page, f"calculator-many-rows-{width}")


@pytest.mark.parametrize("width", WIDTHS)
async def test_login_keeps_the_scenario_and_the_navigation_works(base_url, page, width):  # noqa: F811
    from playwright.async_api import expect

    await page.set_viewport_size({"width": width, "height": 900})
    await page.goto(base_url + "/?lang=en")
    await field(page, "handovers[0].source").fill("Kassa")
    await field(page, "handovers[0].volume.likely").fill("55")
    await expect(page.locator("#hl-hours strong")).to_have_text(re.compile(r"\d"))  # live results
    await page.locator("#not-saved a").click()
    await page.fill('input[name="password"]', ADMIN_PASSWORD)
    await page.click('button[type="submit"]')
    await expect(field(page, "handovers[0].source")).to_have_value("Kassa")
    await expect(field(page, "handovers[0].volume.likely")).to_have_value("55")
    await expect(page.locator("#calculate")).to_have_text("Calculate and save")
    nav = page.locator("nav.site")
    for name in ("Calculator", "Log out"):
        await expect(nav.get_by_role("link", name=name).or_(nav.get_by_role("button", name=name))).to_be_visible()
    assert await overflow(page) <= 0
    await shot(page, f"calculator-after-login-{width}")
    await nav.get_by_role("button", name="Log out").click()
    await expect(page.locator("nav.site").get_by_role("link", name="Log in")).to_be_visible()
