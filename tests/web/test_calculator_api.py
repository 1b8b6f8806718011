"""The calculator's JSON API: numbers by hand, measured vs typed, savings, bad input as 422."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal as D

import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.sync.connectors import connector_kinds
from services.web.calculator.present import Present
from services.web.calculator.scenario import ready_connector
from services.web.calculator.store import MemoryCalculatorStore
from tests.web.conftest import CRM_FLOW, crm_volume, handover, login, make_app

CRM_KEY = {
    "source": "contact.submitted",
    "target": "crm",
    "record_type": CRM_FLOW,
    "action": "upsert_contact",
}


async def post(client, *handovers, lang="en", **settings):
    body = {"handovers": list(handovers)}
    if settings:
        body["settings"] = settings
    return await client.post(f"/api/calculator?lang={lang}", json=body)


async def test_typed_handover_numbers_match_the_closed_form(client):
    r = await post(client, handover())
    assert r.status == 200
    body = await r.json()
    # 60 records x 2 min / 60 = 2 h a week; x EUR 40 x 52.14 weeks = EUR 4171.20 a year;
    # 2 x 52.14 / (46 x 40) = 0.0567 of a person-year; no errors at a 0 % error rate.
    head = body["headline"]
    assert head["hours_per_week"] == {"p10": "2.000", "p50": "2.000", "p90": "2.000"}
    assert head["cost_per_year_eur"]["p50"] == "4171.20"
    assert head["share_of_person_year"]["p50"] == "0.0567"
    assert head["errors_per_month"]["p50"] == "0.00"
    row = next(h for h in body["handovers"] if h["source"] == "Shop")
    assert row["status"] == "manual"
    assert row["volume"]["badge"] == "typed"
    assert row["hourly_cost_eur"]["badge"] == "typed"


async def test_defaults_fill_blanks_and_carry_their_source(client):
    h = handover()
    del h["hourly_cost"], h["field_error_percent"]
    body = await (await post(client, h, country="NL")).json()
    row = next(r for r in body["handovers"] if r["source"] == "Shop")
    assert row["hourly_cost_eur"]["likely"] == "45.2"
    assert row["hourly_cost_eur"]["badge"] == "default"
    assert "Eurostat" in row["hourly_cost_eur"]["source"]
    assert row["field_error_rate"]["badge"] == "default"
    assert row["badge"] == "default"  # as solid as its weakest input


async def test_connected_actions_are_measured_over_the_window(owner):
    client = owner  # connected rows and measured figures are the owner's
    body = await (await post(client, handover())).json()
    crm = next(h for h in body["handovers"] if h["action"] == "upsert_contact")
    # weeks 20, 30, 40: median 30, range 20-40, three weeks of history so far
    assert crm["status"] == "connected"
    assert crm["volume"]["badge"] == "measured"
    assert (crm["volume"]["low"], crm["volume"]["likely"], crm["volume"]["high"]) == (
        "20",
        "30",
        "40",
    )
    assert crm["measured_weeks"] == 3
    assert crm["minutes"]["likely"] == "3"  # minutes_saved from the config
    mail = next(h for h in body["handovers"] if h["action"] == "send_email")
    assert mail["status"] == "waiting"  # connected, but the ledger has nothing yet
    assert mail["likely_hours_per_week"] == "0.00"
    # connected work is "already automated", not part of what remains by hand
    assert body["headline"]["hours_per_week"]["p50"] == "2.000"
    assert D(body["automated"]["hours_per_week"]["p50"]) > 0


async def test_only_the_last_eight_weeks_count():
    store = MemoryCalculatorStore([crm_volume(weekly_delivered=(500,) * 4 + tuple(range(1, 9)))])
    async with TestClient(TestServer(make_app(store))) as client:
        await login(client)  # measured figures are the owner's
        body = await (await post(client, handover())).json()
    crm = next(h for h in body["handovers"] if h["action"] == "upsert_contact")
    # last 8 weeks are 1..8: median (4 + 5) / 2 = 4.5; the four weeks of 500 are outside
    assert crm["volume"]["likely"] == "4.5"
    assert crm["measured_weeks"] == 8
    assert body["window_weeks"] == 8


async def test_measured_volume_replaces_the_typed_one_never_both(owner):
    client = owner  # connected rows and measured figures are the owner's
    typed = handover(**CRM_KEY, volume={"likely": "1000"})
    body = await (await post(client, typed, handover())).json()
    same = [h for h in body["handovers"] if h["action"] == "upsert_contact"]
    assert len(same) == 1
    assert same[0]["volume"]["likely"] == "30"
    assert same[0]["volume"]["badge"] == "measured"
    # 1000 typed records would be 1000 x 3 / 60 = 50 h; the measured 30 give 1.5 h
    assert same[0]["likely_hours_per_week"] == "1.50"
    assert body["headline"]["hours_per_week"]["p50"] == "2.000"


async def test_typed_volume_stands_in_until_a_connection_has_data(owner):
    client = owner  # connected rows and measured figures are the owner's
    typed = handover(
        source="contact.submitted",
        target="mail",
        record_type=CRM_FLOW,
        action="send_email",
        volume={"likely": "30"},
    )
    body = await (await post(client, typed)).json()
    mail = [h for h in body["handovers"] if h["action"] == "send_email"]
    assert len(mail) == 1
    # 30 typed records x 2 minutes_saved / 60 = 1 h, badge typed, still "waiting"
    assert (mail[0]["volume"]["badge"], mail[0]["status"]) == ("typed", "waiting")
    assert mail[0]["likely_hours_per_week"] == "1.00"


async def test_already_saved_counts_all_deliveries_net_of_dead_letters():
    store = MemoryCalculatorStore(
        [crm_volume(delivered_total=90, dead_letters=3, duplicates=5, test_events=2)]
    )
    async with TestClient(TestServer(make_app(store))) as client:
        await login(client)  # measured figures are the owner's
        body = await (await post(client, handover())).json()
    saved = body["saved"]
    # 90 deliveries x 3 min = 4.5 h; 3 dead letters x 30 min fixing (10 x 3 min) = 1.5 h;
    # at the EU default EUR 33.5/h: 150.75 gross, 3 h x 33.5 = 100.50 net.
    assert saved["delivered"] == 90
    assert (saved["gross_hours"], saved["dead_letter_hours"], saved["net_hours"]) == (
        "4.500",
        "1.500",
        "3.000",
    )
    assert (saved["gross_eur"], saved["net_eur"]) == ("150.75", "100.50")
    assert saved["not_counted"] == 7


async def test_danish_shows_kroner_at_the_documented_rate(client):
    body = await (await post(client, handover(), lang="da")).json()
    assert body["currency"] == "DKK"
    assert body["eur_to_currency"] == "7.46"
    # EUR 4171.20 x 7.46 = DKK 31117.152 -> 31117.15
    assert body["headline"]["cost_per_year"]["p50"] == "31117.15"
    assert body["headline"]["cost_per_year_eur"]["p50"] == "4171.20"


async def test_form_fields_query_and_share_link_give_the_same_answer(client):
    json_body = await (await post(client, handover())).json()
    form = {
        "handovers[0].source": "Shop",
        "handovers[0].target": "Accounting",
        "handovers[0].record_type": "order",
        "handovers[0].action": "save invoice",
        "handovers[0].fields": "5",
        "handovers[0].volume.likely": "60",
        "handovers[0].minutes.likely": "2",
        "handovers[0].field_error_percent.likely": "0",
        "handovers[0].hourly_cost.likely": "40",
    }
    form_body = await (await client.post("/api/calculator", data=form)).json()
    shared = await (
        await client.get("/api/calculator", params={"share": json_body["share"]})
    ).json()
    for other in (form_body, shared):
        assert other["headline"] == json_body["headline"]
        assert other["share"] == json_body["share"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("volume.likely", "-5", "must not be negative"),
        ("volume.likely", "NaN", "NaN"),
        ("minutes.likely", "Infinity", "finite"),
        ("minutes.likely", "ten", "is not a number"),
        ("hourly_cost.likely", "1e99", "out of range"),
    ],
)
async def test_bad_numbers_are_422_problem_json_naming_the_field(client, field, value, message):
    name, point = field.split(".")
    r = await post(client, handover(**{name: {point: value}}))
    assert r.status == 422
    assert r.content_type == "application/problem+json"
    problem = await r.json()
    assert problem["status"] == 422
    assert [e["field"] for e in problem["errors"]] == [f"handovers[0].{field}"]
    assert message in problem["errors"][0]["message"]


async def test_more_than_168_hours_a_week_is_refused(client):
    # 10,000 records x 60 minutes = 10,000 hours a week
    r = await post(client, handover(volume={"likely": "10000"}, minutes={"likely": "60"}))
    assert r.status == 422
    problem = await r.json()
    assert problem["errors"][0]["field"] == "handovers[0].volume.high"
    assert "168" in problem["errors"][0]["message"]


async def test_several_bad_fields_are_all_named(client):
    r = await post(
        client,
        handover(volume={"likely": "-1"}, minutes={"likely": "x"}, source=""),
        handover(action="other", fields="1.5"),
    )
    fields = {e["field"] for e in (await r.json())["errors"]}
    assert fields == {
        "handovers[0].volume.likely",
        "handovers[0].minutes.likely",
        "handovers[0].source",
        "handovers[1].fields",
    }


async def test_json_numbers_booleans_and_garbage(client):
    ok = await post(client, handover(volume={"likely": 60}, minutes={"likely": 2.0}))
    assert ok.status == 200
    assert (await ok.json())["headline"]["hours_per_week"]["p50"] == "2.000"
    bad = await post(client, handover(volume={"likely": True}))
    assert bad.status == 422
    assert (await bad.json())["errors"][0]["field"] == "handovers[0].volume.likely"
    broken = await client.post(
        "/api/calculator", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status == 400
    assert broken.content_type == "application/problem+json"


async def test_dutch_decimal_comma_is_accepted_in_dutch_only(client):
    form = {
        "handovers[0].source": "Shop",
        "handovers[0].target": "Accounting",
        "handovers[0].record_type": "order",
        "handovers[0].action": "save invoice",
        "handovers[0].fields": "5",
        "handovers[0].volume.likely": "60",
        "handovers[0].minutes.likely": "1,5",
        "handovers[0].field_error_percent.likely": "0",
    }
    nl = await client.post("/api/calculator?lang=nl", data=form)
    assert nl.status == 200
    assert (await nl.json())["headline"]["hours_per_week"]["p50"] == "1.500"  # 60 x 1.5 / 60
    en = await client.post("/api/calculator?lang=en", data=form)
    assert en.status == 422


async def test_unconnected_handover_says_whether_a_connector_exists(owner):
    client = owner  # connected rows and measured figures are the owner's
    body = await (
        await post(client, handover(target="E-mail"), handover(action="b", target="Exact Online"))
    ).json()
    by_target = {h["target"]: h for h in body["handovers"]}
    assert by_target["E-mail"]["connector"] == "smtp"
    assert by_target["Exact Online"]["connector"] is None
    assert by_target["crm"]["connector"] is None  # connected rows need no suggestion


def test_ready_connector_only_names_kinds_that_exist():
    kinds = connector_kinds()
    for name in ("HubSpot", "Pipedrive", "Moneybird", "Email", "Maildir", "File"):
        found = ready_connector(name)
        assert found is None or found in kinds
    assert ready_connector("SMTP") == "smtp" and "smtp" in kinds
    assert ready_connector("Some ERP") is None
    # what Handover ships, named the way the README and an owner do
    assert ready_connector("CRM") == "hubspot, pipedrive"
    assert ready_connector("Accounting") == ready_connector("Boekhouding") == "moneybird"
    assert ready_connector("E-mail") == "smtp"


CRM_LINK = f"{CRM_FLOW}/upsert_contact"


def web_form(**kw):
    """The owner's own words for what the CRM flow now does: 1000 a week by hand, 2 min each."""
    own = {
        "source": "Web form", "target": "CRM", "record_type": "contact", "action": "add",
        "volume": {"likely": "1000"},
    }  # fmt: skip
    return handover(**{**own, **kw})


def hours(block):
    return D(block["hours_per_week"]["p50"])


async def test_a_linked_row_is_one_handover_typed_until_measured_then_measured():
    store = MemoryCalculatorStore([])  # the CRM flow is connected but has delivered nothing
    async with TestClient(TestServer(make_app(store))) as client:
        await login(client)  # measured figures are the owner's
        # Not linked: the typed row and the connection are two rows (the double count).
        apart = await (await post(client, web_form(), handover())).json()
        assert len(apart["handovers"]) == 4
        # 1000 x 2 / 60 = 33.333 h typed + 2 h Accounting, all still by hand
        assert hours(apart["headline"]) == D("35.333")
        crm = next(h for h in apart["handovers"] if h["connected"] == CRM_LINK)
        # same system name "CRM": suggested, not merged
        assert crm["link_suggestions"] == [{"form_row": 0, "label": "Web form → CRM: contact (add)"}]

        # Linked, nothing measured yet: one row, under the owner's labels, with the typed volume
        # and the config's 3 minutes saved: 1000 x 3 / 60 = 50 h; + 2 h = 52 h, counted once.
        linked = await (await post(client, web_form(connected=CRM_LINK), handover())).json()
        assert len(linked["handovers"]) == 3
        row = next(h for h in linked["handovers"] if h["connected"] == CRM_LINK)
        assert (row["label"], row["form_row"], row["status"]) == (
            "Web form → CRM: contact (add)", 0, "waiting",
        )  # fmt: skip
        assert (row["volume"]["likely"], row["volume"]["badge"]) == ("1000", "typed")
        assert row["likely_hours_per_week"] == "50.00"
        assert hours(linked["total"]) == D("52.000")
        # Handover carries it already: not "still done by hand" (only Accounting's 2 h are).
        assert hours(linked["headline"]) == D("2.000")
        assert row["link_suggestions"] == []

        # The ledger has 20, 30, 40: the measured median 30 replaces the 1000 typed in.
        store.volumes = [crm_volume()]
        measured = await (await post(client, web_form(connected=CRM_LINK), handover())).json()
    assert len(measured["handovers"]) == 3
    row = next(h for h in measured["handovers"] if h["connected"] == CRM_LINK)
    assert (row["label"], row["status"]) == ("Web form → CRM: contact (add)", "connected")
    assert (row["volume"]["likely"], row["volume"]["badge"]) == ("30", "measured")
    assert row["likely_hours_per_week"] == "1.50"  # 30 x 3 / 60
    assert hours(measured["headline"]) == D("2.000")  # only Accounting is left by hand
    assert hours(measured["automated"]) == hours(row)
    # the total holds the 2 h by hand plus the CRM row once (P50s add up to a rounding step)
    assert abs(hours(measured["total"]) - (D("2.000") + hours(row))) <= D("0.001")
    assert measured["saved"]["delivered"] == 90


async def test_the_link_travels_in_the_share_link_and_is_listed(owner):
    client = owner  # connected rows and measured figures are the owner's
    body = await (await post(client, web_form(connected=CRM_LINK))).json()
    assert {c["id"] for c in body["connections"]} == {CRM_LINK, f"{CRM_FLOW}/send_email"}
    shared = await (await client.get("/api/calculator", params={"share": body["share"]})).json()
    assert shared["share"] == body["share"]
    assert [h["label"] for h in shared["handovers"] if h["connected"] == CRM_LINK] == [
        "Web form → CRM: contact (add)"
    ]


async def test_unknown_or_doubled_links_are_422_on_the_field(owner):
    client = owner  # connected rows and measured figures are the owner's
    r = await post(client, handover(), web_form(connected="No such flow/x"))
    assert r.status == 422
    errors = (await r.json())["errors"]
    assert [e["field"] for e in errors] == ["handovers[1].connected"]
    assert "is not a connected flow action" in errors[0]["message"]
    twice = await post(
        client, web_form(connected=CRM_LINK), web_form(action="update", connected=CRM_LINK)
    )
    assert twice.status == 422
    error = (await twice.json())["errors"][0]
    assert error["field"] == "handovers[1].connected"
    assert "already linked to handovers[0]" in error["message"]


# --- connected, less than a week measured; open dead letters ----------------------------------

CRM_MINUTES = D(3)  # minutes_saved of the CRM action in the test config
EU_RATE = D("33.5")  # the EU default hourly cost a connection without a typed row gets


async def results(client, *handovers, **settings):
    """The API's JSON and its rendered results fragment."""
    body = {"handovers": list(handovers)}
    if settings:
        body["settings"] = settings
    r = await client.post("/api/calculator?html=1&lang=en", json=body)
    assert r.status == 200
    data = await r.json()
    return data, data["html"]


def row_of(body, action):
    return next(h for h in body["handovers"] if h["action"] == action)


async def test_a_connection_with_deliveries_but_no_full_week_says_what_is_true():
    # Two deliveries this (partial) week: no complete week measured yet.
    store = MemoryCalculatorStore([crm_volume(weekly_delivered=(), delivered_total=2)])
    async with TestClient(TestServer(make_app(store))) as client:
        await login(client)  # measured figures are the owner's
        body, html = await results(client, handover())
        crm = row_of(body, "upsert_contact")
        assert (crm["status"], crm["delivered"], crm["volume"]["badge"]) == ("waiting", 2, "default")
        assert "connected; 2 delivered so far, less than a week measured: counted as 0 a " \
            "week until then" in html
        assert "Already saved: 2 deliveries:" in html
        assert "Connected; no full week measured yet: counted as 0 a week until one is." in html
        mail = row_of(body, "send_email")  # connected, the ledger has nothing for it
        assert (mail["status"], mail["delivered"]) == ("waiting", 0)
        assert "connected, nothing delivered yet: counted as 0 a week until a week is measured" in html
        assert "nothing measured" not in html and "no deliveries measured" not in html

        # Linked to the owner's row, the typed 1000 a week stands in until a week is measured.
        body, html = await results(client, web_form(connected=CRM_LINK))
        linked = next(h for h in body["handovers"] if h["connected"] == CRM_LINK)
        assert (linked["volume"]["likely"], linked["volume"]["badge"]) == ("1000", "typed")
        assert "connected; 2 delivered so far, less than a week measured: using your estimate " \
            "until then" in html

        # The CSV says the same: connected, estimate standing in; not "manual".
        r = await client.get("/calculator.csv", params={"share": body["share"]})
        rows = list(csv.DictReader(io.StringIO(await r.text())))
        by_action = {row["action"]: row for row in rows if row["rank"]}
        assert by_action["add"]["status"] == "connected_estimate"
        assert by_action["send_email"]["status"] == "connected_estimate"


async def test_open_dead_letters_costing_more_than_was_saved_are_said_plainly():
    delivered, dead = 9, 1
    store = MemoryCalculatorStore(
        [crm_volume(weekly_delivered=(delivered,), delivered_total=delivered, dead_letters=dead)]
    )
    # By hand from the inputs: the default per dead letter is 10 x the minutes per record.
    per_dead = 10 * CRM_MINUTES
    gross = D(delivered) * CRM_MINUTES / 60
    fixing = D(dead) * per_dead / 60
    gross_h, fixing_h = gross.quantize(D("0.001")), fixing.quantize(D("0.001"))
    gross_eur = (gross * EU_RATE).quantize(D("0.01"))
    fixing_eur = (fixing * EU_RATE).quantize(D("0.01"))
    assert gross_h < fixing_h  # the case under test: fixing costs more than was saved
    p = Present("en", "EUR")
    async with TestClient(TestServer(make_app(store))) as client:
        await login(client)  # measured figures are the owner's
        body, html = await results(client, handover())
        for saved in (body["saved"], row_of(body, "upsert_contact")["saved"]):
            assert saved["costs_more"] is True
            assert (saved["gross_hours"], saved["dead_letter_hours"], saved["net_hours"]) == (
                str(gross_h), str(fixing_h), str(gross_h - fixing_h),
            )  # fmt: skip
            assert (saved["gross_eur"], saved["dead_letter_eur"], saved["net_eur"]) == (
                str(gross_eur), str(fixing_eur), str(gross_eur - fixing_eur),
            )  # fmt: skip
        assert row_of(body, "upsert_contact")["saved"]["minutes_per_dead_letter"] == str(per_dead)
        sentence = (
            f"Failed handovers cost more time than Handover saved so far: {delivered} deliveries "
            f"saved {p.hours(gross_h)} h ({p.money(gross_eur)}), but fixing {dead} open dead "
            f"letter{'s' if dead != 1 else ''} costs {p.hours(fixing_h)} h ({p.money(fixing_eur)}), "
            f"{p.hours(fixing_h - gross_h)} h ({p.money(fixing_eur - gross_eur)}) more. Fix the "
            "cause under Dead letters, then replay them."
        )
        assert html.count(sentence) == 2  # the total and the CRM row
        assert 'href="/dead-letters"' in html
        assert "Already saved: Failed" not in html
        saved_texts = re.findall(r'<p id="saved-total"[^>]*>(.*?)</p>', html, re.S)
        saved_texts += re.findall(r'<div class="row-saved[^"]*">(.*?)</div>', html, re.S)
        assert saved_texts and not any(re.search(r"-\d", text) for text in saved_texts)

        # The owner says a dead letter takes them 2 minutes: now the deliveries saved more.
        body, html = await results(client, handover(), dead_letter_minutes="2")
        mine = D(dead) * D(2) / 60
        mine_h, mine_eur = mine.quantize(D("0.001")), (mine * EU_RATE).quantize(D("0.01"))
        crm = row_of(body, "upsert_contact")["saved"]
        assert crm["costs_more"] is False and crm["minutes_per_dead_letter"] == "2"
        assert (crm["dead_letter_hours"], crm["net_hours"]) == (str(mine_h), str(gross_h - mine_h))
        assert (
            f"Already saved: {delivered} deliveries: {p.hours(gross_h)} h ({p.money(gross_eur)}) "
            f"gross, {p.hours(gross_h - mine_h)} h ({p.money(gross_eur - mine_eur)}) after "
            f"{p.hours(mine_h)} h ({p.money(mine_eur)}) fixing {dead} open dead letter{'s' if dead != 1 else ''}."
        ) in html
        assert "Failed handovers" not in html


async def test_dead_letters_before_any_delivery_are_not_hidden():
    store = MemoryCalculatorStore([crm_volume(weekly_delivered=(), delivered_total=0, dead_letters=2)])
    async with TestClient(TestServer(make_app(store))) as client:
        await login(client)  # measured figures are the owner's
        body, html = await results(client, handover())
    assert body["saved"]["costs_more"] is True and body["saved"]["dead_letters"] == 2
    assert "Nothing connected has been delivered yet." not in html
    assert "Failed handovers cost more time than Handover saved so far: 0 deliveries" in html
    assert "connected, nothing delivered yet" in html


async def test_no_open_dead_letters_reads_plainly():
    async with TestClient(TestServer(make_app(MemoryCalculatorStore([crm_volume()])))) as client:
        await login(client)  # measured figures are the owner's
        _, html = await results(client, handover())
    # 90 deliveries x 3 min = 4.5 h; x EUR 33.5 = EUR 150.75 -> "€151"
    total = D(90) * CRM_MINUTES / 60
    p = Present("en", "EUR")
    assert (
        f"90 deliveries: {p.hours(total)} h ({p.money(total * EU_RATE)}); no open dead letters."
    ) in html


def test_counts_are_said_with_the_right_plural_in_every_language():
    one = {"delivered": 1, "dead_letters": 1, "gross_hours": "0.05", "gross_eur": "1.68",
           "dead_letter_hours": "0.5", "dead_letter_eur": "16.75", "net_hours": "-0.45",
           "net_eur": "-15.07", "costs_more": True}  # fmt: skip
    assert "1 delivery saved" in Present("en", "EUR").saved(one)
    assert "fixing 1 open dead letter costs" in Present("en", "EUR").saved(one)
    assert "met 1 levering bespaarde het" in Present("nl", "EUR").saved(one)
    assert "1 åben fejlet levering" in Present("da", "DKK").saved(one)
    many = {**one, "delivered": 2, "dead_letters": 3}
    assert "2 deliveries saved" in Present("en", "EUR").saved(many)
    assert "3 open dead letters" in Present("en", "EUR").saved(many)
    assert "(s)" not in Present("en", "EUR").saved(many) + Present("nl", "EUR").saved(one)
    assert Present("en", "EUR").weeks(1) == "1 week" and Present("da", "DKK").weeks(8) == "8 uger"
