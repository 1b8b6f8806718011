"""The web app: health, readiness and Prometheus metrics, plus the owner's pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.common.appkeys import METRICS, SETTINGS
from services.gateway.app import SOURCES
from services.web import i18n
from services.web.calculator.handlers import setup_calculator
from services.web.templates import PAGE_TEMPLATES, page_templates

ReadyCheck = Callable[[], Awaitable[str | None]]  # None when ready, else why not
READY_CHECKS = web.AppKey("ready_checks", list[ReadyCheck])
LIVE_CHECKS = web.AppKey("live_checks", list[ReadyCheck])  # failing: the process cannot recover


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers and no part has given up (a supervisor restarts it if so)."""
    problems = [p for check in request.app.get(LIVE_CHECKS, []) if (p := await check()) is not None]
    if problems:
        return web.json_response({"status": "failing", "problems": problems}, status=503)
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: every registered check passes (Kafka connected, ledger reachable, ...)."""
    problems = [p for check in request.app[READY_CHECKS] if (p := await check()) is not None]
    if problems:
        return web.json_response({"status": "unavailable", "problems": problems}, status=503)
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition of this process's registry."""
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def render_home(request: web.Request) -> web.Response:
    """The landing page: what is connected, and a form to try the demo source."""
    settings = request.app[SETTINGS]
    # The form posts to the gateway: this process's own, or the one [server] gateway_url names.
    here = SOURCES in request.app
    lang = i18n.pick_lang(request)
    page = request.app[PAGE_TEMPLATES].get_template("home.html").render(
        settings=settings, lang=lang, t=lambda key, **values: i18n.translate(lang, key, **values),
        no_gateway=i18n.with_code(lang, "try.no_gateway", setting="[server] gateway_url",
                                  example="http://localhost:8081"),
        action_keys=set(i18n.EN),  # flows and actions said in words where the catalog has them
        form_sources=[n for n, s in settings.sources.items() if s.kind == "form"],
        hooks_url=f"{settings.server.gateway_url.rstrip('/')}/hooks" if settings.server.gateway_url else
        "/hooks" if here else "",
    )
    response = web.Response(text=page, content_type="text/html")
    i18n.remember_lang(request, response, lang)
    return response


# Every Handover process serves these; the owner's pages only the web and `run` processes.
OPS_ROUTES = [web.get("/healthz", healthz), web.get("/readyz", readyz), web.get("/metrics", metrics)]
WEB_ROUTES = [web.get("/try", render_home), web.static("/static/", Path(__file__).parent / "static", name="static")]


def setup_ops(app: web.Application) -> None:
    """Health, readiness and metrics: every Handover process serves these."""
    if READY_CHECKS not in app:
        app[READY_CHECKS] = []
    app.add_routes(OPS_ROUTES)


def setup_web(app: web.Application) -> None:
    """Add the owner's pages to an app that holds settings and metrics."""
    app[PAGE_TEMPLATES] = page_templates()
    app.add_routes(WEB_ROUTES)
    setup_calculator(app)  # the calculator is the landing page, at /
