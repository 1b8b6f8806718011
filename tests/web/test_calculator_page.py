"""The calculator page without JavaScript: CSRF-protected form POST, escaping, languages, CSV."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal as D

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.web.calculator.store import MemoryCalculatorStore
from services.web.csrf import COOKIE, FIELD
from services.web.i18n import format_money, format_number
from tests.web.conftest import ADMIN_PASSWORD, API_TOKEN, login, make_app

ROW = {
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


async def token_of(client, path="/") -> str:
    """GET a page and return the CSRF token its form carries (the cookie jar keeps the cookie)."""
    page = await (await client.get(path)).text()
    m = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert m, "the form carries a CSRF token"
    return m.group(1)


def field_error(page: str, name: str) -> str:
    """The error text shown next to one field."""
    m = re.search(rf'<span class="field-error" id="e-{re.escape(name)}"[^>]*>([^<]*)</span>', page)
    assert m, f"no error slot for {name}"
    return m.group(1)


async def test_form_post_round_trip_saves_and_renders_the_result(owner, store):
    client = owner  # only the logged-in owner's scenario is saved
    token = await token_of(client)
    r = await client.post("/", data={**ROW, FIELD: token})
    assert r.status == 200
    page = await r.text()
    # 60 x 2 / 60 = 2 h a week, EUR 40 x 2 x 52.14 = EUR 4,171 a year
    assert re.search(r'id="hl-hours"><strong>2\.00</strong>', page)
    assert "€4,171" in page
    assert store.typed is not None and store.typed["handovers[0].source"] == "Shop"
    # the saved handover comes back on the next visit, without retyping
    again = await (await client.get("/")).text()
    assert 'value="Accounting"' in again
    assert re.search(r'id="hl-hours"><strong>2\.00</strong>', again)
    assert "Saved. Next time this page opens with these handovers." in page
    assert 'id="not-saved"' not in again and "Calculate and save" in again


async def test_logging_in_keeps_what_was_typed(client, store):
    # Typed as a visitor, then "Log in to keep them": after the login the same rows are on the
    # form, and "Calculate and save" keeps them.
    token = await token_of(client)
    page = await (await client.post("/?lang=en", data={**FOUR_FIELDS, FIELD: token})).text()
    href = re.search(r'<a class="keep-login" href="([^"]+)">Owner\? Log in', page).group(1)
    login_page = await (await client.get(href.replace("&amp;", "&"))).text()
    nxt = re.search(r'name="next" value="([^"]+)"', login_page).group(1).replace("&amp;", "&")
    assert nxt.startswith("/?share=")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login_page).group(1)
    r = await client.post("/login", data={"csrf_token": csrf, "password": ADMIN_PASSWORD, "next": nxt},
                          allow_redirects=False)  # fmt: skip
    assert r.status == 303 and r.headers["Location"] == nxt
    mine = await (await client.get(nxt)).text()
    assert 'value="Web shop"' in mine and 'value="40"' in mine
    assert 'id="calculate">Calculate and save</button>' in mine
    form = dict(re.findall(r'<input id="f-([^"]+)" name="[^"]+" value="([^"]*)"', mine))
    token = re.search(r'name="csrf_token" value="([^"]+)"', mine).group(1)
    await client.post("/", data={**{k: v for k, v in form.items() if v}, FIELD: token})
    assert store.typed is not None and store.typed["handovers[0].source"] == "Web shop"


async def test_every_page_has_the_navigation(client):
    page = await (await client.get("/")).text()
    nav = re.search(r'<nav class="site".*?</nav>', page, re.S).group(0)
    assert 'href="/"' in nav and "Log in" in nav and "/status" not in nav  # a visitor's
    await login(client)
    for path in ("/", "/status", "/handoffs", "/audit", "/dead-letters"):
        r = await client.get(path)
        if r.status == 404:
            continue  # the ops pages are added by the runtime (tests/ops checks them there)
        nav = re.search(r'<nav class="site".*?</nav>', await r.text(), re.S).group(0)
        for text in ("Calculator", "Status", "Handoffs", "Dead letters", "Log out"):
            assert text in nav, (path, text)


async def test_anonymous_visitor_can_calculate_but_nothing_is_saved_or_shown(client, store):
    # `/` shares its port with the public webhooks: nobody but the owner saves or reads.
    token = await token_of(client)
    r = await client.post("/", data={**ROW, FIELD: token})
    assert r.status == 200
    page = await r.text()
    assert re.search(r'id="hl-hours"><strong>2\.00</strong>', page)  # the results are there
    assert store.typed is None
    assert "Saved." not in page
    # said in plain words, with the owner's way to keep them
    assert "Your results are not saved." in page
    assert 'id="calculate">Calculate</button>' in page
    # the share link and the CSV of what they posted still work
    share = re.search(r'id="share-link" href="/\?share=([^&"]+)', page).group(1)
    # ... and the login link comes back to it
    keep = f'<a class="keep-login" href="/login?next=%2F%3Fshare%3D{share}%26lang%3Den">'
    assert keep + "Owner? Log in to keep them for next time.</a>" in page
    assert 'value="Accounting"' in await (await client.get("/", params={"share": share})).text()
    csv_text = await (await client.get("/calculator.csv", params={"share": share})).text()
    assert ",Shop," in csv_text


async def test_anonymous_visitor_never_sees_the_owners_saved_scenario(store):
    secret = {**ROW, "handovers[0].target": "Payroll", "handovers[0].hourly_cost.likely": "73"}
    store.typed = dict(secret)
    async with TestClient(TestServer(make_app(store))) as anon:
        page = await (await anon.get("/")).text()
        assert "Payroll" not in page and 'value="73"' not in page
        assert "Your results are not saved." in page
        csv_text = await (await anon.get("/calculator.csv")).text()
        assert "Payroll" not in csv_text
        # an anonymous POST does not overwrite it either
        token = await token_of(anon)
        await anon.post("/", data={**ROW, FIELD: token})
        assert store.typed == secret
        # a forged or wrong session cookie is no login
        anon.session.cookie_jar.update_cookies({"handover_session": "9999999999.ab.cd"})
        assert "Payroll" not in await (await anon.get("/")).text()
    async with TestClient(TestServer(make_app(store))) as owner:
        await login(owner)
        page = await (await owner.get("/")).text()
        assert 'value="Payroll"' in page and 'value="73"' in page
        assert "Payroll" in await (await owner.get("/calculator.csv")).text()
    async with TestClient(TestServer(make_app(store))) as script:
        bearer = {"Authorization": f"Bearer {API_TOKEN}"}
        assert "Payroll" in await (await script.get("/calculator.csv", headers=bearer)).text()
        wrong = {"Authorization": "Bearer not-the-token"}
        assert "Payroll" not in await (await script.get("/calculator.csv", headers=wrong)).text()


async def test_the_json_api_neither_saves_nor_reads_the_saved_scenario(client, store):
    store.typed = {**ROW, "handovers[0].target": "Payroll"}
    r = await client.post("/api/calculator", data=ROW)
    assert r.status == 200
    assert store.typed["handovers[0].target"] == "Payroll"  # untouched
    r = await client.get("/api/calculator")
    assert "Payroll" not in await r.text()


async def test_post_without_a_matching_csrf_token_is_refused(client, store):
    assert (await client.post("/", data=ROW)).status == 403
    await token_of(client)
    assert (await client.post("/", data={**ROW, FIELD: "0" * 32 + "." + "0" * 64})).status == 403
    assert (await client.post("/", data={**ROW, FIELD: "0" * 32 + "." + "é" * 64})).status == 403  # not a 500
    assert store.typed is None


async def test_a_forged_non_ascii_csrf_cookie_is_refused_not_a_server_error(client, store):
    token = await token_of(client)
    nonce, _ = token.split(".")
    client.session.cookie_jar.clear()
    forged = {"Cookie": f"{COOKIE}={nonce}.{'é' * 64}"}
    assert (await client.post("/", data={**ROW, FIELD: token}, headers=forged)).status == 403
    assert store.typed is None


async def test_a_token_from_another_process_is_refused():
    # Two apps, two per-process keys: a token minted by one is worthless to the other.
    async with TestClient(TestServer(make_app())) as a, TestClient(TestServer(make_app())) as b:
        foreign = await token_of(a)
        b.session.cookie_jar.update_cookies({COOKIE: foreign})
        assert (await b.post("/", data={**ROW, FIELD: foreign})).status == 403


async def test_bad_input_shows_each_field_and_why(client, store):
    token = await token_of(client)
    data = {
        **ROW,
        "handovers[0].volume.likely": "-3",
        "handovers[0].minutes.likely": "abc",
        FIELD: token,
    }
    r = await client.post("/", data=data)
    assert r.status == 422
    page = await r.text()
    assert field_error(page, "handovers[0].volume.likely") == "must not be negative"
    assert "is not a number" in field_error(page, "handovers[0].minutes.likely")
    assert field_error(page, "handovers[0].source") == ""
    assert re.search(r'id="f-handovers\[0\]\.volume\.likely"[^>]*value="-3"[^>]*aria-invalid', page)
    assert store.typed is None  # nothing invalid is saved


async def test_blank_rows_are_dropped_and_errors_follow_the_rows_shown(client):
    token = await token_of(client)
    data = {FIELD: token, "handovers[0].source": "", "handovers[0].volume.likely": ""}
    data.update({k.replace("[0]", "[1]"): v for k, v in ROW.items()})
    data["handovers[1].volume.likely"] = "NaN"
    page = await (await client.post("/", data=data)).text()
    # the blank first row is gone, so the bad row is now the first one on the page
    assert "NaN" in field_error(page, "handovers[0].volume.likely")


async def test_nothing_typed_is_rendered_unescaped(client):
    token = await token_of(client)
    evil = "<script>alert(1)</script>"
    data = {
        **ROW,
        "handovers[0].source": evil,
        "handovers[0].target": '"><img src=x>',
        FIELD: token,
    }
    page = await (await client.post("/", data=data)).text()
    assert "<script>alert" not in page and "<img src=x>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    api = await client.post(
        "/api/calculator?html=1", data={k: v for k, v in data.items() if k != FIELD}
    )
    html = (await api.json())["html"]
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "<svg" in html  # the chart labels are escaped too


async def test_charts_are_accessible_svg(client):
    token = await token_of(client)
    page = await (await client.post("/", data={**ROW, FIELD: token})).text()
    for chart in ("chart-ranked", "chart-flow"):
        assert re.search(rf'<svg class="chart" id="{chart}" role="img" aria-labelledby=', page)
        assert f'<title id="{chart}-title">' in page
    assert "cdn" not in page.lower()


async def test_ranking_marks_ties_and_ready_connectors(client):
    token = await token_of(client)
    data = {**ROW, FIELD: token}
    data.update({k.replace("[0]", "[1]"): v for k, v in ROW.items()})
    data["handovers[1].target"] = "Email"  # smtp exists
    # 300 x 2 / 60 = 10 h a week each: the two tie, far above the measured CRM row (< 4 h)
    data["handovers[0].volume.likely"] = data["handovers[1].volume.likely"] = "300"
    page = await (await client.post("/", data=data)).text()
    ties = re.findall(r'<tr class="status-(\w+) tie" data-rank="(\d)"', page)
    assert ties == [("manual", "1"), ("manual", "2")]
    assert "Handover has a ready-made connector: smtp" in page
    # "Accounting" is what Handover ships a connector for (the README's "Web shop → Accounting")
    assert "Handover has a ready-made connector: moneybird" in page
    data["handovers[0].target"] = "Exact Online"
    page = await (await client.post("/", data={**data, FIELD: await token_of(client)})).text()
    assert "No ready-made connector yet" in page


async def test_dutch_page_uses_decimal_commas_and_remembers_the_choice(client):
    token = await token_of(client)
    data = {**ROW, "handovers[0].minutes.likely": "1,5", FIELD: token}
    page = await (await client.post("/?lang=nl", data=data)).text()
    # 60 x 1.5 / 60 = 1.5 h; EUR 40 x 1.5 x 52.14 = EUR 3,128.40 -> "€ 3.128"
    assert re.search(r'id="hl-hours"><strong>1,50</strong>', page)
    assert "€ 3.128" in page
    assert "Uren per week" in page
    await client.get("/?lang=nl")
    assert 'lang="nl"' in await (await client.get("/")).text()  # the cookie keeps Dutch


async def test_danish_page_shows_kroner(client):
    token = await token_of(client)
    page = await (await client.post("/?lang=da", data={**ROW, FIELD: token})).text()
    # EUR 4171.20 x 7.46 = DKK 31,117.15 -> "31.117 kr."
    assert "31.117 kr." in page
    assert "7,46 DKK" in page  # the rate and its source are labelled, in Danish


async def test_every_default_is_shown_with_its_source(client):
    page = await (await client.get("/")).text()
    for source in ("Eurostat", "Barchard", "1-10-100", "Keystroke-Level Model", "46 working"):
        assert source in page


async def test_csv_export_downloads_the_shared_scenario(client):
    share = (await (await client.post("/api/calculator", data=ROW)).json())["share"]
    r = await client.get("/calculator.csv", params={"share": share})
    assert r.status == 200
    assert r.content_type == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await r.text())))
    shop = next(row for row in rows if row["source"] == "Shop")
    assert shop["hours_per_week_p50"] == "2.000"
    assert shop["status"] == "manual"
    assert [row["handover"] for row in rows[-3:]] == ["total", "already automated", "remaining"]


async def test_shared_link_opens_the_scenario_and_a_broken_one_says_so(client):
    share = (await (await client.post("/api/calculator", data=ROW)).json())["share"]
    page = await (await client.get("/", params={"share": share})).text()
    assert 'value="Accounting"' in page
    broken = await client.get("/", params={"share": "1garbage!"})
    assert broken.status == 422
    assert "damaged" in await broken.text()


async def test_demo_form_moved_to_try_and_static_files_are_served(client):
    assert (await client.get("/static/calculator.js")).status == 200


async def test_the_try_form_posts_to_the_gateway_wherever_it_runs():
    import msgspec

    from services.common.appkeys import SETTINGS
    from services.gateway.app import setup_gateway

    async def try_page(app: web.Application) -> str:
        async with TestClient(TestServer(app)) as c:
            r = await c.get("/try")
            assert r.status == 200
            return await r.text()

    together = make_app()  # `handover run`: the gateway is in this process
    setup_gateway(together)
    assert 'action="/hooks/website"' in await try_page(together)
    alone = make_app()  # `handover web` (compose): a form posting here would get a 404
    page = await try_page(alone)
    assert "<form" not in page and "gateway_url" in page
    told = make_app()
    settings = told[SETTINGS]
    told[SETTINGS] = msgspec.structs.replace(
        settings, server=msgspec.structs.replace(settings.server, gateway_url="http://localhost:8081/"))
    assert 'action="http://localhost:8081/hooks/website"' in await try_page(told)


async def test_measured_rows_show_the_window_and_savings():
    from tests.web.conftest import crm_volume

    store = MemoryCalculatorStore([crm_volume(delivered_total=90, dead_letters=3)])
    async with TestClient(TestServer(make_app(store))) as client:
        await login(client)  # measured figures are the owner's
        page = await (await client.get("/")).text()
    assert "median of the last 3 weeks" in page
    # 4.5 h gross, EUR 150.75 -> "€151"; net 3 h, EUR 100.50 -> "€101" (half-up)
    assert "90 deliveries: 4.5 h (€151) gross, 3.0 h (€101)" in page


def test_locale_number_formats():
    assert format_number(1234567.891, "en", 2) == "1,234,567.89"
    assert format_number(1234567.891, "nl", 2) == "1.234.567,89"
    assert format_number(-0.004, "da", 2) == "0,00"
    assert format_money(31117.15, "DKK", "da") == "31.117 kr."
    assert format_money(1000, "EUR", "en") == "€1,000"


async def test_first_visit_without_flows_is_an_empty_form_not_an_error():
    from services.assembly import parse_settings
    from services.common.appkeys import METRICS, SETTINGS
    from services.common.metrics import Metrics
    from services.web.app import setup_web

    app = web.Application()
    app[SETTINGS] = parse_settings("", env={})
    app[METRICS] = Metrics()
    setup_web(app)
    async with TestClient(TestServer(app)) as client:
        r = await client.get("/")
        page = await r.text()
    assert r.status == 200
    assert "Add a handover to see what it costs." in page
    assert re.search(r'id="error-summary" role="alert">\s*</div>', page)  # no error summary


LINKED = {
    **ROW,
    "handovers[0].source": "Web form",
    "handovers[0].target": "CRM",
    "handovers[0].record_type": "contact",
    "handovers[0].action": "add",
}
CRM_LINK = "Contact form to CRM/upsert_contact"


def ranked_rows(page: str) -> list[str]:
    """The labels of the ranking table, worst first."""
    return re.findall(r'<th scope="row"><span class="label">([^<]*)</span>', page)


async def test_connected_by_select_links_a_typed_row_without_javascript(owner, store):
    client = owner
    token = await token_of(client)
    page = await (await client.post("/", data={**LINKED, FIELD: token})).text()
    # not linked: the typed row, the CRM connection (with a suggestion) and the mail one
    assert len(ranked_rows(page)) == 3
    assert 'class="link-suggest" href="#f-handovers[0].connected"' in page
    select = re.search(r'<select id="f-handovers\[0\]\.connected".*?</select>', page, re.S)
    assert select and '<option value="" selected' not in select.group(0)
    assert f'<option value="{CRM_LINK}">' in select.group(0)

    r = await client.post("/", data={**LINKED, "handovers[0].connected": CRM_LINK, FIELD: token})
    assert r.status == 200
    page = await r.text()
    # one row for the CRM handover, under the owner's label, measured: 30 x 3 / 60 = 1.5 h;
    # what remains by hand is the 0 h of the unmeasured mail action
    assert sorted(ranked_rows(page)) == [
        "Contact form to CRM: send the e-mail (mail)",  # named by its flow, in words
        "Web form → CRM: contact (add)",
    ]
    assert re.search(r'id="hl-hours"><strong>0\.00</strong>', page)
    assert "connected, measured · via save the contact" in page
    assert f'<option value="{CRM_LINK}" selected>' in page
    assert store.typed["handovers[0].connected"] == CRM_LINK  # kept for the next visit
    assert f'<option value="{CRM_LINK}" selected>' in await (await client.get("/")).text()


async def test_an_unknown_link_is_an_error_next_to_the_select(owner, store):
    client = owner  # an anonymous visitor's links are dropped, not checked
    token = await token_of(client)
    data = {**LINKED, "handovers[0].connected": "Gone/flow", FIELD: token}
    r = await client.post("/", data=data)
    assert r.status == 422
    page = await r.text()
    message = "&#39;Gone/flow&#39; is not a connected flow action"
    assert field_error(page, "handovers[0].connected") == message
    assert re.search(r'<select id="f-handovers\[0\]\.connected"[^>]*aria-invalid="true"', page)
    assert '<option value="Gone/flow" selected>' in page  # kept, so it can be changed
    assert store.typed is None


# English that used to stay on the Dutch page: show-the-math labels, formulas and units, the
# defaults list, sources written for connected rows, warnings and errors with values inside.
ENGLISH = (
    "Show the math",
    "How many a week",
    "Minutes each",
    "Typing time",
    "Chance a record has a mistake",
    "Minutes to find and fix a mistake",
    "Fixing mistakes",
    "Hours per week",
    "Money per year (EUR)",
    "Share of one person",
    "Mistakes per month",
    "Keystroke floor",
    "h/week",
    "probably between",
    "what you entered",
    "How the headline adds up",
    "Hourly cost, Netherlands",
    "Typing errors per field",
    "Working weeks per year",
    "Euro to Danish kroner",
    "Minutes saved per delivery",
    "Manual data entry",
    "Finding and fixing an error",
    "hourly labour costs",
    "Connected; no full week measured",
    "nothing delivered yet",
    "no open dead letters",
    "Each open dead letter costs",
    "Minutes to fix one open dead letter",
    "Minutes per open dead letter",
    "Median of the last",
    "is below the keystroke floor",
    "Connected by",
    "not connected yet",
    "may be this one",
    "is not a number",
)


async def test_dutch_page_has_no_english_labels_left(owner):
    client = owner  # the connected rows' texts are on the owner's page only
    token = await token_of(client)
    data = {**LINKED, "handovers[0].minutes.likely": "0.2", FIELD: token}
    en = await (await client.post("/?lang=en", data=data)).text()
    found = [text for text in ENGLISH if text in en]
    # every string is there in English (so its absence in Dutch means something) ...
    assert set(found) == set(ENGLISH) - {"is not a number"}, set(ENGLISH) - set(found)
    nl = await (await client.post("/?lang=nl", data=data)).text()
    assert [text for text in ENGLISH if text in nl] == []
    # ... and the Dutch is there instead: 60 x 0.2 / 60 = 0.2 h of retyping
    assert "Laat de berekening zien" in nl and "Typtijd" in nl
    assert "V × t / 60 = 60 × 0,2 / 60" in nl
    assert "Uurkosten, Nederland" in nl
    assert "0,2 min is minder dan de toetsaanslagbodem van 0,33 min voor 5 veld(en)" in nl

    bad = await client.post("/?lang=nl", data={**data, "handovers[0].minutes.likely": "tien"})
    message = field_error(await bad.text(), "handovers[0].minutes.likely")
    assert message == "&#39;tien&#39; is geen getal"


async def test_csv_has_one_header_row_of_stable_ids_and_numbers_in_every_data_row(owner):
    from decimal import Decimal

    client = owner  # the connected rows are in the owner's CSV only

    share = (await (await client.post("/api/calculator", data=ROW)).json())["share"]
    r = await client.get("/calculator.csv", params={"share": share, "lang": "nl"})
    text = (await r.read()).decode("utf-8-sig")
    header, *data = list(csv.reader(io.StringIO(text), delimiter=";"))  # Dutch Excel's separator
    assert header[:3] == ["rank", "handover", "source"]  # the same ids in every language
    assert "Plaats" not in text  # no second, translated header row read as data
    assert [row[1] for row in data[-3:]] == ["totaal", "al geautomatiseerd", "resterend"]
    shop = next(row for row in data if row[2] == "Shop")
    # a decimal comma, as Dutch Excel reads it ("2.000" would be two thousand there)
    assert shop[header.index("hours_per_week_p50")] == "2,000"
    # every data row: its numbers read as numbers (the three closing rows leave per-record
    # cells empty, which spreadsheets and pandas read as missing, not text)
    per_record = {"rank", "volume_per_week", "minutes_per_record", "error_probability"}
    numeric = per_record | {c for c in header if c.startswith(("hours_", "cost_", "errors_"))}
    for row in data:
        assert len(row) == len(header)
        for name in numeric:
            cell = row[header.index(name)]
            if cell == "" and name in per_record and row[0] == "":
                continue
            Decimal(cell.replace(",", "."))  # raises if not a number
    assert sum(1 for row in data if row[0]) == 3  # the typed row and the two connected ones


async def test_minutes_per_dead_letter_is_a_setting_on_the_form():
    from tests.web.conftest import crm_volume

    # 90 deliveries x 3 min = 4.5 h; 3 open dead letters at the default 10 x 3 min = 1.5 h;
    # at 4 min each (typed) they take 3 x 4 / 60 = 0.2 h.
    store = MemoryCalculatorStore([crm_volume(delivered_total=90, dead_letters=3)])
    async with TestClient(TestServer(make_app(store))) as client:
        await login(client)  # the owner: the setting is kept for the next visit
        token = await token_of(client)
        page = await (await client.get("/")).text()
        assert "after 1.5 h (€50) fixing 3 open dead letters" in page
        assert 'id="f-settings.dead_letter_minutes" name="settings.dead_letter_minutes" value=""' in page
        bad = await client.post("/", data={**ROW, "settings.dead_letter_minutes": "-4", FIELD: token})
        assert bad.status == 422
        assert field_error(await bad.text(), "settings.dead_letter_minutes") == "must not be negative"
        r = await client.post("/", data={**ROW, "settings.dead_letter_minutes": "4", FIELD: token})
        assert r.status == 200
        page = await r.text()
        assert "after 0.20 h (€7) fixing 3 open dead letters" in page
        assert 'name="settings.dead_letter_minutes" value="4"' in page
        assert store.typed["settings.dead_letter_minutes"] == "4"  # kept for the next visit
        assert "after 0.20 h (€7)" in await (await client.get("/")).text()


async def test_dutch_and_danish_thousands_separators_are_refused_not_read_as_decimals(client):
    token = await token_of(client)
    for lang, says in (
        ("nl", "&#39;1.000&#39; is geen getal; schrijf 1000 zonder scheidingsteken voor duizendtallen"),
        ("da", "&#39;1.000&#39; er ikke et tal; skriv 1000 uden tusindtalsseparator"),
    ):
        data = {**ROW, "handovers[0].volume.likely": "1.000", FIELD: token}
        r = await client.post(f"/?lang={lang}", data=data)
        assert r.status == 422, lang
        page = await r.text()
        assert field_error(page, "handovers[0].volume.likely") == says
        assert re.search(r'id="f-handovers\[0\]\.volume\.likely"[^>]*value="1.000"', page)
        for typed, plain in (("12.500", "12500"), ("1.000,50", "1000,50"), ("1.000.000", "1000000")):
            data = {**ROW, "handovers[0].volume.likely": typed, FIELD: token}
            page = await (await client.post(f"/?lang={lang}", data=data)).text()
            assert plain in field_error(page, "handovers[0].volume.likely"), (lang, typed)
        # the decimal comma still works: 60 x 1.5 / 60 = 1.5 h
        data = {**ROW, "handovers[0].minutes.likely": "1,5", FIELD: token}
        r = await client.post(f"/?lang={lang}", data=data)
        assert r.status == 200
        assert re.search(r'id="hl-hours"><strong>1,50</strong>', await r.text())
    # the live results (the JSON API) refuse it the same way; JSON numbers are numbers
    api = await client.post("/api/calculator?lang=nl", data={**ROW, "handovers[0].volume.likely": "1.000"})
    assert api.status == 422
    error = (await api.json())["errors"][0]
    assert error["field"] == "handovers[0].volume.likely"
    assert "schrijf 1000 zonder" in error["localized"]
    body = {"handovers": [{**{k[13:]: v for k, v in ROW.items() if "." not in k[13:]},
                           "volume": {"likely": 1.125}, "minutes": {"likely": 2}}]}
    ok = await client.post("/api/calculator?lang=nl", json=body)
    assert ok.status == 200, await ok.text()
    shop = next(h for h in (await ok.json())["handovers"] if h["source"] == "Shop")
    assert shop["volume"]["likely"] == "1.125"


async def test_english_thousands_comma_says_to_write_the_number_plainly(client):
    token = await token_of(client)
    data = {**ROW, "handovers[0].volume.likely": "1,000", FIELD: token}
    page = await (await client.post("/", data=data)).text()
    message = field_error(page, "handovers[0].volume.likely")
    assert message == "&#39;1,000&#39; is not a number; write 1000 without a thousands separator"
    assert "use a dot" not in message
    data = {**ROW, "handovers[0].minutes.likely": "1.5", FIELD: token}
    page = await (await client.post("/", data=data)).text()
    assert re.search(r'id="hl-hours"><strong>1\.50</strong>', page)


async def test_shared_and_saved_scenarios_keep_their_dot_decimals_in_dutch(owner, store):
    # A link (or the saved scenario) holds the model's own text: "1.125" is not 1125 refused.
    data = {**ROW, "handovers[0].volume.likely": "1.125"}
    share = (await (await owner.post("/api/calculator", data=data)).json())["share"]
    r = await owner.get("/", params={"share": share, "lang": "nl"})
    page = await r.text()
    assert r.status == 200, field_error(page, "handovers[0].volume.likely")
    # shown Dutch-style, so sending the form back unchanged reads 1.125 again
    assert re.search(r'id="f-handovers\[0\]\.volume\.likely"[^>]*value="1,125"', page)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    again = await owner.post("/?lang=nl", data={**data, "handovers[0].volume.likely": "1,125", FIELD: token})
    assert again.status == 200
    assert 'value="1,125"' in await again.text()  # as typed, not "1.125"
    assert store.typed["handovers[0].volume.likely"] == "1.125"
    store.typed = dict(data)
    assert (await owner.get("/?lang=da")).status == 200
    assert (await owner.get("/calculator.csv", params={"share": share, "lang": "nl"})).status == 200


FOUR_FIELDS = {
    "handovers[0].source": "Web shop",
    "handovers[0].target": "Accounting",
    "handovers[0].volume.likely": "40",
    "handovers[0].minutes.likely": "4",
}


def cell(page, element_id):
    m = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:dd|li)>', page, re.S)
    assert m, element_id
    return re.sub(r"<[^>]+>", "", m.group(1))


async def test_first_try_with_the_four_fields_gives_a_result(client):
    # The README's path: from, to, how many a week, minutes each; nothing else.
    token = await token_of(client)
    r = await client.post("/?lang=en", data={**FOUR_FIELDS, FIELD: token})
    page = await r.text()
    assert r.status == 200, re.findall(r'class="field-error"[^>]*>([^<]+)<', page)
    # 40 x 4 / 60 = 2.67 h of typing; fields per record defaulted for a web shop (12) and shown
    assert "Typing: 2.67 h a week" in cell(page, "hl-typing")
    assert '<tr data-code="fields"><td>Fields per record <span class="badge badge-default">' in page
    api = await (await client.post("/api/calculator", json={"handovers": [
        {"source": "Web shop", "target": "Accounting", "volume": {"likely": 40},
         "minutes": {"likely": 4}}]})).json()  # fmt: skip
    assert api["handovers"][0]["fields"] == 12
    assert api["handovers"][0]["label"] == "Web shop → Accounting"


async def test_a_missing_field_is_named_in_plain_words_and_linked(client):
    token = await token_of(client)
    data = {**FOUR_FIELDS, "handovers[0].volume.likely": "", FIELD: token}
    page = await (await client.post("/?lang=en", data=data)).text()
    summary = re.search(r'<div id="error-summary" role="alert">(.*?)</div>', page, re.S).group(1)
    assert '<a href="#f-handovers[0].volume.likely">Handover 1: how many a week?</a>' in summary
    assert "please fill this in" in summary
    assert "handovers[0]" not in re.sub(r'href="[^"]*"', "", summary)  # no field paths shown
    nl = await (await client.post("/?lang=nl", data=data)).text()
    assert "Overdracht 1: hoeveel per week?" in nl and "vul dit in" in nl


async def test_no_error_bar_without_errors(client):
    page = await (await client.get("/")).text()
    assert '<div id="error-summary" role="alert"></div>' in page


async def test_first_visit_has_an_example_row_that_computes(client):
    page = await (await client.get("/?lang=en")).text()
    assert re.search(r'id="f-handovers\[0\]\.volume\.likely"[^>]*value="40"', page)
    form = dict(re.findall(r'<input id="f-([^"]+)" name="[^"]+" value="([^"]*)"', page))
    token = await token_of(client)
    r = await client.post("/?lang=en", data={**{k: v for k, v in form.items() if v}, FIELD: token})
    assert r.status == 200
    assert "Typing: 2.67 h a week" in cell(await r.text(), "hl-typing")


async def test_headline_equals_show_the_math(client):
    token = await token_of(client)
    data = {**FOUR_FIELDS, FIELD: token,
            "handovers[1].source": "Contact form", "handovers[1].target": "CRM",
            "handovers[1].volume.likely": "15", "handovers[1].volume.low": "5",
            "handovers[1].volume.high": "30", "handovers[1].minutes.likely": "2.5"}  # fmt: skip
    for lang in ("en", "nl", "da"):
        page = await (await client.post(f"/?lang={lang}", data=data)).text()
        sep = "." if lang == "en" else ","
        rows = re.findall(r'<tr data-code="hours">.*?= ([\d.,]+) ', page, re.S)
        assert len(rows) == 2, lang
        total = sum(D(x.replace(",", "X").replace(".", "").replace("X", ".")) if sep == ","
                    else D(x.replace(",", "")) for x in rows)  # fmt: skip
        shown = cell(page, "hl-hours").split()[0]
        assert D(shown.replace(",", ".") if sep == "," else shown) == total, lang
        assert "probably between" in cell(page, "hl-hours") if lang == "en" else True
        # the money the table shows is the math's cost, rounded to whole units
        costs = re.findall(r'<tr data-code="cost">.*?= (.*?)</td>', page, re.S)
        assert len(costs) == 2


def test_read_decimal_input_refuses_dot_thousands_in_dutch_and_danish_only():
    from services.web.i18n import read_decimal_input

    for lang in ("nl", "da"):
        assert read_decimal_input("1,5", lang) == ("1.5", None)
        assert read_decimal_input("0.500", lang) == ("0.500", None)  # a leading 0 groups nothing
        assert read_decimal_input("2.5", lang) == ("2.5", None)  # not the thousands pattern
        for typed in ("1.000", "12.500", " 1.000 ", "1.000,50", "999.999.999"):
            assert read_decimal_input(typed, lang)[1] is not None, (lang, typed)
    assert read_decimal_input("1.000", "en") == ("1.000", None)  # an English decimal
    assert read_decimal_input("1,000", "en") == ("1,000", None)  # the model refuses it, clearly


async def test_a_shared_scenario_opened_in_danish_shows_kroner(client):
    token = await token_of(client)
    page = await (await client.post("/?lang=en", data={**ROW, FIELD: token})).text()
    share = re.search(r'id="share-link" href="/\?share=([^&"]+)', page).group(1)
    assert "€4,171" in page
    danish = await (await client.get("/", params={"share": share, "lang": "da"})).text()
    assert "31.117 kr." in danish  # EUR 4,171.20 x 7.46
    # a currency the owner chose stays chosen
    page = await (await client.post("/?lang=en", data={**ROW, "settings.currency": "EUR", FIELD: token})).text()
    share = re.search(r'id="share-link" href="/\?share=([^&"]+)', page).group(1)
    assert "€" in await (await client.get("/", params={"share": share, "lang": "da"})).text()


async def test_dutch_and_danish_csv_split_on_semicolons_with_a_bom(client):
    token = await token_of(client)
    page = await (await client.post("/?lang=en", data={**ROW, FIELD: token})).text()
    share = re.search(r'id="share-link" href="/\?share=([^&"]+)', page).group(1)
    for lang in ("nl", "da"):
        raw = await (await client.get("/calculator.csv", params={"share": share, "lang": lang})).read()
        assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads the arrows right
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
        assert len(rows[0]) == len(rows[1]) > 10
        assert "2,000" in rows[1]  # 60 x 2 / 60 hours, with a decimal comma
    english = await (await client.get("/calculator.csv", params={"share": share, "lang": "en"})).read()
    assert not english.startswith(b"\xef\xbb\xbf") and b",2.000," in english


def test_every_message_has_a_dutch_and_a_danish_text():
    from calculator.messages import MESSAGES
    from services.web.i18n import CATALOGS, EN

    # every code the model can send has its text in the page's catalog
    assert sorted(c for c in MESSAGES if f"error.{c}" not in EN) == []
    for code, english in MESSAGES.items():
        # the code's values all reach the page's text (the English one is the API's `message`)
        assert set(re.findall(r"\{(\w+)\}", english)) == set(re.findall(r"\{(\w+)\}", EN[f"error.{code}"])), code

    for lang in ("nl", "da"):
        missing = sorted(set(EN) - set(CATALOGS[lang]))
        assert missing == [], f"{lang} lacks {missing}"
        extra = sorted(set(CATALOGS[lang]) - set(EN))
        assert extra == [], f"{lang} has keys English does not: {extra}"
        for key, text in EN.items():
            # the same placeholders, so no value is lost (or a KeyError raised) in translation
            assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", CATALOGS[lang][key])), key
