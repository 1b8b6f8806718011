"""The calculator's routes: the page (`/`), its JSON API (`/api/calculator`) and the CSV export."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from typing import Any

import msgspec
from aiohttp import web
from markupsafe import Markup

from calculator import (
    FieldError,
    ValidationError,
    decode_fields,
    to_csv,
)
from calculator import defaults as model_defaults
from calculator.messages import InputError, error
from services.web import i18n
from services.web.auth import is_admin
from services.web.calculator.compute import (
    BUSY_RETRY_AFTER_S,
    CALCULATOR_GATE,
    WINDOW_WEEKS,
    CalculatorBusy,
    CalculatorGate,
    Outcome,
    run_model,
)
from services.web.calculator.form import ESTIMATES, POINTS, SHARE, Inputs, as_rendered, clean_form, rendered_rows
from services.web.calculator.present import Present, charts, view_model
from services.web.calculator.scenario import build_scenario, visible_connections
from services.web.calculator.store import CALCULATOR_STORE, MemoryCalculatorStore
from services.web.calculator.words import field_question, plain_message, source_text
from services.web.csrf import FIELD as CSRF_FIELD
from services.web.csrf import csrf_protect, csrf_token, set_csrf_cookie, setup_csrf
from services.web.templates import PAGE_TEMPLATES


def busy(lang: str) -> web.Response:
    """Answer a computation the gate refused: 503 with Retry-After, in the page's language."""
    response = problem(503, "Calculator busy", [error("(calculator)", "busy")], lang)
    response.headers["Retry-After"] = str(BUSY_RETRY_AFTER_S)
    return response


def login_href(share: str, lang: str) -> str:
    """Return the login link that comes back to this scenario (what was typed survives login)."""
    back = f"/?share={share}&lang={lang}" if share else f"/?lang={lang}"
    return "/login?next=" + urllib.parse.quote(back, safe="")


def example_row(lang: str) -> dict[str, str]:
    """Return the pre-filled example row of a first visit: 40 orders a week, 4 minutes each."""
    t = i18n.translate
    return {
        "source": t(lang, "example.source"),
        "target": t(lang, "example.target"),
        "record_type": t(lang, "example.record_type"),
        "volume.likely": "40",
        "minutes.likely": "4",
    }


def _form_rows(inputs: Inputs) -> list[dict[str, str]]:
    # Always one blank row at the end: without JavaScript that is how a handover is added.
    return [*inputs.rows, {}]


def _field_errors(errors: list[FieldError], lang: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in errors:
        message = plain_message(e.message, lang)
        out[e.path] = f"{out[e.path]}; {message}" if e.path in out else message
    return out


def _defaults_shown(p: Present) -> list[tuple[str, str]]:
    d = model_defaults
    rows = [
        (p.t("default.hourly_cost", country=p.t(f"country.{code}")), e.source)
        for code, e in d.HOURLY_LABOUR_COST_EUR.items()
    ]
    rows += [
        (p.t("field_error_percent"), d.FIELD_ERROR_RATE.source),
        (p.t("fix_minutes"), d.FIX_FACTOR_SOURCE),
        (p.t("default.dead_letter"), d.DEAD_LETTER_SOURCE),
        (p.t("chars_per_field"), d.CHARS_PER_FIELD.source),
        (p.t("default.minutes_floor"), d.KLM_SOURCE),
        (p.t("working_weeks"), d.WORKING_WEEKS_PER_YEAR.source),
        (p.t("hours_week"), d.HOURS_PER_WEEK.source),
        (p.t("default.rate"), d.EUR_TO["DKK"].source),
    ]
    return [(name, source_text(source, p.lang)) for name, source in rows]


async def _page(
    request: web.Request,
    inputs: Inputs,
    errors: list[FieldError],
    lang: str,
    *,
    status: int = 200,
    notice: str = "",
) -> web.Response:
    owner = is_admin(request)
    connected = visible_connections(request)
    # A first visit with nothing typed and nothing connected is an empty form, not an error.
    empty = not inputs.rows and not connected
    built, model_errors = (None, []) if errors or empty else build_scenario(inputs, connected, lang)
    errors = errors + model_errors
    if model_errors:
        status = 422  # a shared link or a saved scenario the current config no longer accepts
    view = outcome = None
    chart_svgs: dict[str, Markup] = {}
    currency = "DKK" if lang == "da" else "EUR"
    if built is not None:
        try:
            outcome = await run_model(request.app, built)
        except CalculatorBusy:
            # The typed form comes back as it was, with the reason and a way to try again.
            status, notice = 503, i18n.translate(lang, "busy")
        else:
            view = view_model(outcome, lang, owner=owner)
            currency = view["currency"]
    p = Present(lang, currency)
    if outcome is not None and view is not None:
        chart_svgs = charts(view, outcome, p)
    # "More" opens on a row whose error (or warning) is inside it, so the link reaches the field.
    more = re.compile(
        r"handovers\[(\d+)\]\.(field_error_percent|fix_minutes|hourly_cost|chars|record_type|action"
        r"|fields|volume\.(?:low|high)|minutes\.(?:low|high))"
    )
    open_rows = {int(m.group(1)) for e in errors if (m := more.match(e.path))}
    example = not inputs.rows and not connected and not errors
    rows = _form_rows(inputs)
    if example:
        rows[0] = example_row(lang)
    fields_default = [
        str(model_defaults.fields_for(r.get("record_type", ""), r.get("source", ""),
                                      r.get("target", ""))[0])
        for r in rows
    ]  # fmt: skip
    page = (
        request.app[PAGE_TEMPLATES]
        .get_template("calculator.html")
        .render(
            open_rows=open_rows,
            t=p.t,
            p=p,
            lang=lang,
            langs=i18n.LANGS,
            lang_names=i18n.NAMES,
            view=view,
            charts=chart_svgs,
            rows=rows,
            example=example,
            fields_default=fields_default,
            error_items=[(e.path, field_question(e.path, lang), msg)
                         for e in errors if (msg := _field_errors([e], lang)[e.path])],
            settings_form=inputs.settings_shown,
            errors=_field_errors(errors, lang),
            error_list=errors,
            csrf=csrf_token(request),
            defaults=_defaults_shown(p),
            countries=list(model_defaults.HOURLY_LABOUR_COST_EUR),
            currencies=list(model_defaults.EUR_TO),
            points=POINTS,
            estimates=ESTIMATES,
            notice=notice,
            owner=owner,
            connected=connected,
            window_weeks=WINDOW_WEEKS,
            # the site navigation (_nav.html)
            active="calculator",
            logged_in=owner,
            field=CSRF_FIELD,
            login_href=login_href(view["share"] if view else "", lang),
        )
    )
    response = web.Response(text=page, content_type="text/html", status=status)
    if status == 503:
        response.headers["Retry-After"] = str(BUSY_RETRY_AFTER_S)
    set_csrf_cookie(request, response)
    i18n.remember_lang(request, response, lang)
    return response


async def render_calculator(request: web.Request) -> web.Response:
    """Show the calculator: a shared scenario (?share=), else the saved one, else a blank form.

    Only the owner (services.web.auth.is_admin) sees the saved scenario and the connected, measured rows;
    anyone else starts from a blank form and sees typed rows only.
    """
    lang = i18n.pick_lang(request)
    token = request.query.get(SHARE)
    if token:
        try:
            data: Mapping[str, Any] = decode_fields(token)
        except ValidationError as exc:
            empty = Inputs({}, [], [])
            return await _page(request, empty, list(exc.errors), lang, status=422)
    else:
        data = await _saved(request)
    inputs, errors = clean_form(data, lang, typed=False, links=is_admin(request))
    return await _page(request, as_rendered(inputs), errors, lang, status=422 if errors else 200)


async def _saved(request: web.Request) -> dict[str, str]:
    # The saved scenario is the owner's: nobody else gets to see it (services.web.auth.is_admin).
    if not is_admin(request):
        return {}
    return await request.app[CALCULATOR_STORE].load_typed() or {}


@csrf_protect
async def submit_calculator(request: web.Request) -> web.Response:
    """Handle the plain form POST: validate, re-render the result; save it for the owner only.

    An anonymous visitor gets the same results (and a share link), but nothing is saved: the
    page says so and offers the owner the login. Nor are connected rows or measured figures
    computed for them (see visible_connections).
    """
    lang = i18n.pick_lang(request)
    owner = is_admin(request)
    form = await request.post()
    posted = {k: v for k, v in form.items() if isinstance(v, str)}
    inputs, errors = clean_form(posted, lang, links=owner)
    errors = rendered_rows(errors, inputs)
    inputs = as_rendered(inputs)
    connected = visible_connections(request)
    if not errors:
        built, errors = build_scenario(inputs, connected, lang)
        if built is not None:
            notice = ""
            if owner:
                await request.app[CALCULATOR_STORE].save_typed(inputs.fields)
                notice = i18n.translate(lang, "saved_ok")
            return await _page(request, inputs, [], lang, notice=notice)
    return await _page(request, inputs, errors, lang, status=422)


def problem(status: int, title: str, errors: list[FieldError], lang: str) -> web.Response:
    """Return an RFC 9457 problem+json response naming every bad field."""
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": "; ".join(f"{e.path}: {e.message}" for e in errors),
        "errors": [
            {
                "field": e.path,
                "message": str(e.message),
                "label": field_question(e.path, lang),
                "localized": plain_message(e.message, lang),
            }
            for e in errors
        ],
    }
    return web.Response(
        body=msgspec.json.encode(body), status=status, content_type="application/problem+json"
    )


async def _api_input(request: web.Request) -> Mapping[str, Any]:
    if request.method == "GET":
        return dict(request.query)
    if request.content_type == "application/json":
        try:
            data = msgspec.json.decode(await request.read())
        except msgspec.DecodeError:
            raise InputError("body_not_json") from None
        if not isinstance(data, dict):
            raise InputError("body_not_object")
        return _flatten_json(data)
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _flatten_json(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    # Nested JSON ({"handovers": [{"volume": {"likely": 3}}]}) becomes the form's flat names so
    # the API and the form clean, renumber and report errors the same way.
    flat: dict[str, Any] = {}
    for name, value in data.items():
        path = f"{prefix}.{name}" if prefix else str(name)
        if isinstance(value, Mapping):
            flat.update(_flatten_json(value, path))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    flat.update(_flatten_json(item, f"{path}[{i}]"))
                else:
                    flat[f"{path}[{i}]"] = item
        elif value is None:
            continue
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            flat[path] = object()  # caught below as "must be text or a number"
        else:
            # Numbers stay numbers: clean_form reads only text as typed in the page's language
            # (a JSON 1.125 is not "1.125" typed on the Dutch page, 1125 refused).
            flat[path] = value
    return flat


async def calculate_api(request: web.Request) -> web.Response:
    """Compute a scenario given as JSON, form fields or a query; 422 problem+json if bad.

    No side effects (nothing is saved, and the saved scenario is never read), so it needs
    neither a login nor a CSRF token; `?html=1` adds the rendered results fragment the page's
    script swaps in. Connected rows, measured volumes and savings are only in the owner's
    answer (see visible_connections); anyone else gets the typed rows computed.
    """
    lang = i18n.pick_lang(request)
    try:
        data = await _api_input(request)
    except InputError as exc:
        return problem(400, "Bad request", [exc.at("(body)")], lang)
    bad = [error(k, "text_or_number") for k, v in data.items()
           if not isinstance(v, str | int | float)]  # fmt: skip
    if bad:
        return problem(422, "Invalid input", bad, lang)
    token = data.get(SHARE) if request.method == "GET" else None
    if token:
        try:
            data = decode_fields(str(token))
        except ValidationError as exc:
            return problem(422, "Invalid input", list(exc.errors), lang)
    owner = is_admin(request)
    # a link holds dot decimals
    outcome = await _computed(request, data, lang, typed=not token, owner=owner)
    if isinstance(outcome, web.Response):
        return outcome
    view = view_model(outcome, lang, owner=owner)
    if request.query.get("html") == "1":
        view["html"] = await _results_html(request, outcome, view, lang, owner=owner)
    return web.json_response(view)


async def _computed(
    request: web.Request, data: Mapping[str, Any], lang: str, *, typed: bool, owner: bool
) -> Outcome | web.Response:
    """The scenario in `data` computed, or the answer that says why not (422 naming the fields,
    503 while the calculator is busy)."""
    inputs, errors = clean_form(data, lang, typed=typed, links=owner)
    built = None
    if not errors:
        built, errors = build_scenario(inputs, visible_connections(request), lang)
    if built is None:
        return problem(422, "Invalid input", errors, lang)
    try:
        return await run_model(request.app, built)
    except CalculatorBusy:
        return busy(lang)


async def _results_html(
    request: web.Request, outcome: Outcome, view: dict[str, Any], lang: str, *, owner: bool
) -> str:
    p = Present(lang, view["currency"])
    return request.app[PAGE_TEMPLATES].get_template("calculator_results.html").render(
        t=p.t, p=p, lang=lang, view=view, charts=charts(view, outcome, p),
        window_weeks=WINDOW_WEEKS, notice="", owner=owner,
    )  # fmt: skip


async def export_csv(request: web.Request) -> web.Response:
    """Download the current scenario (?share=, else the owner's saved one) as CSV, worst first.

    One header row of stable column ids (calculator.share.CSV_HEADER, the same in every
    language); the three closing rows are named in the page's language. Connected rows and
    measured volumes are the owner's only (see visible_connections).
    """
    lang = i18n.pick_lang(request)
    token = request.query.get(SHARE)
    try:
        data: Mapping[str, Any] = decode_fields(token) if token else await _saved(request)
    except ValidationError as exc:
        return problem(422, "Invalid input", list(exc.errors), lang)
    outcome = await _computed(request, data, lang, typed=False, owner=is_admin(request))
    if isinstance(outcome, web.Response):
        return outcome
    return web.Response(
        # One header row, stable column ids (a second, translated one would read as data in
        # spreadsheets and pandas); status, badge and tie cells stay codes.
        # Dutch and Danish spreadsheets split on ";" and read "," as the decimal sign; the BOM
        # tells Excel the file is UTF-8 (else "→" and "ø" come out garbled).
        text=("\ufeff" if lang in ("nl", "da") else "") + to_csv(
            outcome.result, group_names=i18n.CSV_GROUPS[lang],
            delimiter=";" if lang in ("nl", "da") else ",", decimal="," if lang in ("nl", "da") else ".",
        ),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="handover-calculator.csv"'},
    )


ROUTES = [
    web.get("/", render_calculator),
    web.post("/", submit_calculator),
    web.route("GET", "/api/calculator", calculate_api),
    web.route("POST", "/api/calculator", calculate_api),
    web.get("/calculator.csv", export_csv),
]


async def gate_ctx(app: web.Application) -> AsyncIterator[None]:
    """The calculator's worker threads live as long as the app (stopped on cleanup)."""
    yield
    app[CALCULATOR_GATE].close()


def setup_calculator(app: web.Application) -> None:
    """Add the calculator routes; use a memory store unless a CalculatorStore is set."""
    setup_csrf(app)
    if CALCULATOR_STORE not in app:
        app[CALCULATOR_STORE] = MemoryCalculatorStore()
    if CALCULATOR_GATE not in app:
        app[CALCULATOR_GATE] = CalculatorGate()
    app.cleanup_ctx.append(gate_ctx)
    app.add_routes(ROUTES)
