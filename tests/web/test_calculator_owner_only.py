"""What the ledger measured and the config's flows are the owner's: `/` is public.

An anonymous visitor computes the handovers they type (page, JSON, CSV, share link) and never
sees a connected row, a flow name, a measured volume or an "Already saved" figure; the owner
(admin session or API token) sees them all.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from calculator.volumes import ActionVolume
from services.web.calculator.store import MemoryCalculatorStore
from services.web.csrf import FIELD
from tests.web.conftest import API_TOKEN, handover, login, make_app, web_toml

# A flow name and ledger figures nobody would type or compute by chance.
FLOW = "Zebra Ledger Flow 7319"
LINK = f"{FLOW}/upsert_contact"
WEEKLY = 4321  # the median of three equal weeks: 4321 x 3 min / 60 = 216.05 h a week
TOTAL = 98765  # every delivery so far ("Already saved")
DEAD = 77
SECRETS_TEXT = (FLOW, "upsert_contact", "send_email", "4321", "4,321", "98765", "98,765", "216.05")

TYPED = handover()  # 60 a week x 2 minutes, no spread or errors
# The owner's own words for what the flow does, typed, and linked to it.
OWN = {**TYPED, "source": "Web form", "target": "CRM", "record_type": "contact", "action": "add"}
FORM = {f"handovers[0].{k}": v for k, v in TYPED.items() if isinstance(v, str)} | {
    f"handovers[0].{k}.likely": v["likely"] for k, v in TYPED.items() if isinstance(v, dict)
}


def store() -> MemoryCalculatorStore:
    return MemoryCalculatorStore(
        [
            ActionVolume(
                flow=FLOW,
                action="upsert_contact",
                target="crm",
                weekly_delivered=(WEEKLY,) * 3,
                delivered_total=TOTAL,
                dead_letters=DEAD,
            )
        ]
    )


@pytest.fixture
async def anon():
    async with TestClient(TestServer(make_app(store(), web_toml(flow_name=FLOW)))) as c:
        yield c


@pytest.fixture
async def boss():
    async with TestClient(TestServer(make_app(store(), web_toml(flow_name=FLOW)))) as c:
        await login(c)
        yield c


def leaked(text: str) -> list[str]:
    """The measured figures and flow names found in a response."""
    # The CSRF token is random hex: "4321" turns up in one page in a few thousand.
    text = re.sub(r'name="csrf_token" value="[^"]*"', "", text)
    return [s for s in SECRETS_TEXT if s in text]


async def token_of(client) -> str:
    page = await (await client.get("/")).text()
    m = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert m
    return m.group(1)


@pytest.mark.parametrize(
    ("lang", "sentence"),
    [
        ("en", "The owner can log in to see what Handover measured and saved."),
        ("nl", "De eigenaar kan inloggen om te zien wat Handover heeft gemeten en bespaard."),
        ("da", "Ejeren kan logge ind for at se, hvad Handover har målt og sparet."),
    ],
)
async def test_anonymous_page_shows_no_flows_or_measured_figures(anon, boss, lang, sentence):
    page = await (await anon.get("/", params={"lang": lang})).text()
    assert leaked(page) == []
    assert 'id="h-saved"' not in page and 'class="connected"' not in page
    assert f'<a class="keep-login" href="/login?next=%2F%3Flang%3D{lang}">{sentence}</a>' in page
    assert "Add a handover to see what it costs." in page or lang != "en"  # an empty form
    # the owner sees the connection, its measured week and what it saved
    mine = await (await boss.get("/", params={"lang": lang})).text()
    assert FLOW in mine and 'id="h-saved"' in mine
    assert sentence not in mine
    if lang == "en":
        assert "Already saved" in mine and "98,765" in mine and "4,321" in mine


async def test_anonymous_form_post_computes_typed_rows_only(anon, boss):
    token = await token_of(anon)
    r = await anon.post("/", data={**FORM, "handovers[0].connected": LINK, FIELD: token})
    assert r.status == 200
    page = await r.text()
    assert leaked(page) == []
    assert "Already saved" not in page
    assert re.search(r'id="hl-hours"><strong>2\.00</strong>', page)  # 60 x 2 / 60, typed
    assert 'name="handovers[0].connected"' not in page  # no "Connected by" to choose from
    token = await token_of(boss)
    mine = await (await boss.post("/", data={**FORM, FIELD: token})).text()
    assert FLOW in mine and "98,765" in mine


async def test_anonymous_json_has_no_connections_or_measured_figures(anon, boss):
    body = {"handovers": [TYPED, {**OWN, "connected": LINK}]}
    r = await anon.post("/api/calculator?html=1", json=body)
    assert r.status == 200
    assert leaked(await r.text()) == []
    data = await r.json()
    assert data["connections"] == [] and data["saved"] is None
    assert {h["status"] for h in data["handovers"]} == {"manual"}
    assert [h["connected"] for h in data["handovers"]] == [None, None]
    assert "Already saved" not in data["html"]
    # typed as the link chose nothing: 60 x 2 / 60 twice
    assert data["headline"]["hours_per_week"]["p50"] == "4.000"

    # The owner (session or API token) gets the connection measured and what it saved.
    for client, headers in ((boss, {}), (anon, {"Authorization": f"Bearer {API_TOKEN}"})):
        r = await client.post("/api/calculator?html=1", json=body, headers=headers)
        text = await r.text()
        assert FLOW in text
        mine = await r.json()
        assert mine["saved"]["delivered"] == TOTAL and mine["saved"]["dead_letters"] == DEAD
        linked = next(h for h in mine["handovers"] if h["connected"] == LINK)
        assert linked["volume"]["likely"] == str(WEEKLY)
        assert "Already saved" in mine["html"]


async def test_typing_a_connections_exact_key_reveals_nothing(anon):
    # Typed under the connected key exactly, the owner's row would merge with the connection.
    exact = {**TYPED, "source": "contact.submitted", "target": "crm",
             "record_type": FLOW, "action": "upsert_contact"}  # fmt: skip
    data = await (await anon.post("/api/calculator", json={"handovers": [exact]})).json()
    (row,) = data["handovers"]
    assert (row["status"], row["volume"]["likely"], row["volume"]["badge"]) == ("manual", "60", "typed")
    assert row["delivered"] is None and row["saved"] is None and data["saved"] is None


async def test_an_owners_share_link_opens_as_typed_rows_for_a_visitor(anon, boss):
    shared = await (await boss.post("/api/calculator", json={"handovers": [{**OWN, "connected": LINK}]})).json()
    share = shared["share"]
    # anonymous: the linked row is a typed row, with nothing from the ledger or the config
    r = await anon.get("/", params={"share": share})
    assert r.status == 200
    page = await r.text()
    assert leaked(page) == []
    assert "Web form → CRM: contact (add)" in page and "Already saved" not in page
    api = await anon.get("/api/calculator", params={"share": share})
    assert api.status == 200
    assert leaked(await api.text()) == []
    assert (await api.json())["handovers"][0]["status"] == "manual"
    csv_text = await (await anon.get("/calculator.csv", params={"share": share})).text()
    assert leaked(csv_text) == []
    rows = [row for row in csv.DictReader(io.StringIO(csv_text)) if row["rank"]]
    assert [(row["action"], row["status"]) for row in rows] == [("add", "manual")]
    # the owner opens the same link with the connection measured
    mine = await (await boss.get("/calculator.csv", params={"share": share})).text()
    assert FLOW in mine
    assert str(WEEKLY) in mine
    page = await (await boss.get("/", params={"share": share})).text()
    assert f'<option value="{LINK}" selected>' in page and "98,765" in page


async def test_anonymous_csv_of_typed_rows_has_no_connected_rows(anon, boss):
    share = (await (await anon.post("/api/calculator", json={"handovers": [TYPED]})).json())["share"]
    text = await (await anon.get("/calculator.csv", params={"share": share})).text()
    assert leaked(text) == []
    rows = [row for row in csv.DictReader(io.StringIO(text)) if row["rank"]]
    assert [row["target"] for row in rows] == ["Accounting"]
    # without a share link a visitor gets nothing (no saved scenario, no connected rows)
    empty = await anon.get("/calculator.csv")
    assert leaked(await empty.text()) == []
    mine = await (await boss.get("/calculator.csv", params={"share": share})).text()
    assert "send_email" in mine and str(WEEKLY) in mine
