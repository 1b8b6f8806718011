"""The owner's operations pages: status, handoff monitor, audit trail, dead letters.

Everything is read from the ledger (shared by every process) and, where only a process knows
(rejected webhooks, a paused target), from this process's metrics registry. A background task
refreshes the ledger-derived gauges (`handover_handoffs_incomplete`, source silence) so
Prometheus can alert on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import msgspec
import structlog
from aiohttp import web

from schemas import decode_event
from services.common.appkeys import METRICS, SETTINGS
from services.common.metrics import WEBHOOK_OUTCOMES
from services.ledger.appkeys import LEDGER
from services.ledger.rows import DEADLETTERED, DELIVERED, RETRYING, DeliveryRow, EventRow
from services.ledger.store import SqlLedger
from services.sync.replay import DeadLetter, UnknownDeadLetter
from services.web import i18n
from services.web.api import REPLAYER
from services.web.auth import setup_auth
from services.web.calculator.words import action_words, event_words
from services.web.csrf import FIELD, csrf_protect, csrf_token, set_csrf_cookie
from services.web.silence import WOOCOMMERCE_DOC, Silence, assess_silence
from services.web.templates import PAGE_TEMPLATES

log = structlog.get_logger("handover.web")
REFRESH_S = web.AppKey("ops_refresh_s", float)
WAITING = ("pending", "sending", "failed", RETRYING)
REASONS = {
    "invalid_signature": "wrong signature",
    "missing_signature": "no signature",
    "timestamp_out_of_tolerance": "too old (replayed?)",
    "invalid_body": "unreadable body",
    "invalid_payload": "missing or wrong fields",
    "unsupported_media_type": "wrong content type",
    "payload_too_large": "too large",
    "rate_limited": "too many at once",
    "broker_unavailable": "could not be stored (Kafka down)",
}


# --- formatting ---------------------------------------------------------------------------------


def clock(ts: float | None, lang: str = "en", now: float | None = None) -> str:
    """A time as the owner reads it: '10:42' today, 'Tue 3 Mar 10:42' ('di 3 mrt 10:42') otherwise."""
    if ts is None:
        return i18n.translate(lang, "ops.never")
    at = dt.datetime.fromtimestamp(ts)
    today = dt.datetime.fromtimestamp(now or time.time()).date()
    return i18n.format_clock(at, lang, with_day=at.date() != today)


def ago(ts: float | None, lang: str = "en", now: float | None = None) -> str:
    """'12 minutes ago' (or 'never'), in the page's language."""
    if ts is None:
        return i18n.translate(lang, "ops.never")
    return i18n.translate(lang, "ops.ago", duration=i18n.duration(lang, (now or time.time()) - ts))


def _paused(request: web.Request, target: str) -> bool:
    value = request.app[METRICS].registry.get_sample_value("handover_target_paused", {"target": target})
    return bool(value)


def plain_error(error: str) -> str:
    """The last error as an owner reads it: without the class name the ledger stores it with
    ("Permanent: http crm answered 422: ..." -> "http crm answered 422: ...")."""
    kind, sep, rest = error.strip().partition(": ")
    return rest if sep and kind in ("Transient", "Permanent", "DeliveryError") else error.strip()


def explain(row: DeliveryRow | None, target: str, paused: bool = False, lang: str = "en") -> str:
    """Why an action is not delivered, in one plain sentence in the page's language."""
    t = i18n.translate
    if row is None:
        return t(lang, "ops.why.not_started", target=target)
    error = plain_error(row.last_error)
    said = t(lang, "ops.why.answered", target=target, error=error) if error else ""
    if row.status == DEADLETTERED:
        return t(lang, "ops.why.gave_up", attempts=i18n.plural(lang, "n.attempts", row.attempts), said=said)
    if paused:
        return t(lang, "ops.why.paused", target=target, said=said)
    if row.status == RETRYING and row.next_attempt_at:
        return t(lang, "ops.why.retry", at=clock(row.next_attempt_at, lang), said=said)
    if row.status in ("sending", "failed"):
        return t(lang, "ops.why.trying", n=row.attempts, said=said)
    return t(lang, "ops.why.queued")


def attempts(n: int | str, lang: str = "en") -> str:
    """Say "1 attempt" or "3 attempts" in the page's language."""
    return i18n.plural(lang, "n.attempts", int(n)) if str(n).isdigit() else str(n)


def describe(row: DeliveryRow, lang: str = "en") -> str:
    """What an action did, for the audit trail, in the page's language."""
    t = i18n.translate
    tries = i18n.plural(lang, "n.attempts", row.attempts)
    if row.status == DELIVERED:
        got = f" → {row.external_id}" if row.external_id else ""
        return t(lang, "ops.did.delivered", got=got, at=clock(row.delivered_at, lang))
    if row.status == DEADLETTERED:
        return t(lang, "ops.did.dead", attempts=tries, error=plain_error(row.last_error))
    if row.status == RETRYING:
        return t(lang, "ops.did.retrying", at=clock(row.next_attempt_at, lang), attempts=tries,
                 error=plain_error(row.last_error))  # fmt: skip
    return t(lang, "ops.did.other", status=t(lang, f"ops.st.{row.status}") if f"ops.st.{row.status}" in i18n.EN
             else row.status, attempts=tries)  # fmt: skip


def _render(request: web.Request, name: str, **context: Any) -> web.Response:
    env = request.app[PAGE_TEMPLATES]
    env.filters.setdefault("clock", clock)
    env.filters.setdefault("ago", ago)  # {{ ts|ago(lang) }}
    env.filters.setdefault("duration", lambda seconds, lang="en": i18n.duration(lang, seconds))
    env.filters.setdefault("attempts", attempts)
    # What a flow does and when, in words ("upsert_contact": "save the contact"); the code
    # itself stays on the audit's event JSON, one click away.
    env.filters.setdefault("action_words", lambda action, lang="en": action_words(action, lang))
    env.filters.setdefault("event_words", lambda event_type, lang="en": event_words(event_type, lang))
    lang = i18n.pick_lang(request)
    page = env.get_template(name).render(
        csrf=csrf_token(request), field=FIELD, active=name.removesuffix(".html"), logged_in=True, lang=lang,
        t=lambda key, **values: i18n.translate(lang, key, **values), **context,
    )
    response = web.Response(text=page, content_type="text/html", status=context.get("status_code", 200))
    set_csrf_cookie(request, response)
    return response


# --- status -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceStatus:
    """One source's line on /status."""

    name: str
    kind: str
    last: float | None
    today: int
    rejected: dict[str, int]
    silence: Silence
    woocommerce: bool


async def source_statuses(request: web.Request, now: float) -> list[SourceStatus]:
    """Per configured source: last event, events today, rejections, and whether it is too quiet."""
    settings, ledger = request.app[SETTINGS], request.app[LEDGER]
    midnight = dt.datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    activity = await ledger.source_activity(midnight)
    registry = request.app[METRICS].registry
    out = []
    for name, spec in settings.sources.items():
        last, today = activity.get(name, (None, 0))
        rejected = {}
        for outcome in WEBHOOK_OUTCOMES:
            if outcome in REASONS:
                n = registry.get_sample_value("handover_webhooks_received_total", {"source": name, "outcome": outcome})
                if n:
                    rejected[REASONS[outcome]] = int(n)
        silence = assess_silence(await ledger.source_times(name), now)
        out.append(SourceStatus(name, spec.kind, last, today, rejected, silence, spec.kind == "woocommerce"))
    return out


async def _waiting_since(ledger: SqlLedger) -> dict[str, float]:
    # The oldest action still waiting per target: how far behind that target is.
    rows = await ledger.db.fetch(
        "SELECT target, MIN(COALESCE(first_attempt_at, last_attempt_at)) FROM deliveries "
        "WHERE status IN ('pending', 'sending', 'failed', 'retrying') GROUP BY target"
    )
    return {t: float(at) for t, at in rows if at is not None}


async def _flow_delivered(ledger: SqlLedger) -> dict[str, int]:
    rows = await ledger.db.fetch("SELECT flow, COUNT(*) FROM deliveries WHERE status = 'delivered' GROUP BY flow")
    return {f: int(n) for f, n in rows}


async def render_status(request: web.Request) -> web.Response:
    """GET /status: sources, targets and flows at a glance."""
    settings, ledger = request.app[SETTINGS], request.app[LEDGER]
    now = time.time()
    counts = await ledger.target_counts()
    waiting = await _waiting_since(ledger)
    targets = []
    for name, spec in settings.targets.items():
        c = counts.get(name, {})
        targets.append({
            "name": name, "kind": spec.kind, "delivered": c.get(DELIVERED, 0),
            "retrying": sum(c.get(s, 0) for s in WAITING), "dead": c.get(DEADLETTERED, 0),
            "paused": _paused(request, name), "behind": (now - waiting[name]) if name in waiting else None,
        })
    incomplete = await ledger.incomplete_counts(settings.web.handoff_after_s)
    delivered = await _flow_delivered(ledger)
    flows = [
        {"name": f.name, "on": f.on, "delivered": delivered.get(f.name, 0), "incomplete": incomplete.get(f.name, 0),
         "targets": sorted({a.target for a in f.actions})}
        for f in settings.flows
    ]
    return _render(
        request, "status.html", sources=await source_statuses(request, now), targets=targets, flows=flows,
        handoff_after=i18n.duration(i18n.pick_lang(request), settings.web.handoff_after_s),
        woocommerce_doc=WOOCOMMERCE_DOC, now=now,
    )


# --- handoffs -----------------------------------------------------------------------------------


async def render_handoffs(request: web.Request) -> web.Response:
    """GET /handoffs: events whose actions are not all delivered in time, and why."""
    settings, ledger = request.app[SETTINGS], request.app[LEDGER]
    rows = await ledger.incomplete(settings.web.handoff_after_s)
    items = [
        {"event": ev, "missing": [
            {"flow": flow, "action": action, "target": target, "row": row,
             "why": explain(row, target, _paused(request, target), i18n.pick_lang(request))}
            for flow, action, target, row in missing
        ]}
        for ev, missing in rows
    ]
    after = i18n.duration(i18n.pick_lang(request), settings.web.handoff_after_s)
    return _render(request, "handoffs.html", items=items, handoff_after=after)


# --- audit --------------------------------------------------------------------------------------


async def _expected(ledger: SqlLedger, event_id: str) -> list[tuple[str, str, str]]:
    rows = await ledger.db.fetch(
        "SELECT flow, action, target FROM expected_actions WHERE event_id = $1 ORDER BY flow, action", event_id
    )
    return [(f, a, t) for f, a, t in rows]


async def trail(ledger: SqlLedger, event: EventRow, lang: str = "en") -> list[dict[str, Any]]:
    """Every action of one event: expected ones not started yet included."""
    done = {(r.flow, r.action): r for r in await ledger.deliveries_for(event.id)}
    sent = await ledger.sent_for(event.id)  # what each action sent and was answered, if kept
    actions = []
    for flow, action, target in await _expected(ledger, event.id):
        row = done.pop((flow, action), None)
        actions.append({"flow": flow, "action": action, "target": target, "row": row,
                        "text": describe(row, lang) if row else i18n.translate(lang, "ops.did.not_started"),
                        "sent": sent.get(row.key) if row else None})
    for (flow, action), row in sorted(done.items()):
        actions.append({"flow": flow, "action": action, "target": row.target, "row": row, "text": describe(row, lang),
                        "sent": sent.get(row.key)})
    return actions


async def render_audit(request: web.Request) -> web.Response:
    """GET /audit?q=: find events by order number, e-mail or name; show what each action did."""
    ledger = request.app[LEDGER]
    q = request.query.get("q", "").strip()[:200]
    results = []
    if q:
        # An event id (the thank-you page's link, a dead letter's) finds that event itself.
        exact = await ledger.event(q)
        found = [exact] if exact is not None else []
        found += [ev for ev in await ledger.search(q) if exact is None or ev.id != exact.id]
        for ev in found:
            results.append({"event": ev, "actions": await trail(ledger, ev, i18n.pick_lang(request))})
    return _render(request, "audit.html", q=q, results=results)


# --- dead letters -------------------------------------------------------------------------------


def _letter_view(dl: DeadLetter) -> dict[str, Any]:
    h = dl.headers
    return {"dl": dl, "flow": h.get("flow", ""), "action": h.get("action", ""), "attempts": h.get("attempts", ""),
            "error": h.get("error-message", "") or h.get("error-class", ""), "when": dl.timestamp}


async def _dead_letters_page(
    request: web.Request, result: str = "", ok: bool = True, status: int = 200
) -> web.Response:
    settings = request.app[SETTINGS]
    target = request.query.get("target") or None
    if target is not None and target not in settings.targets:
        target = None
    letters = sorted(await request.app[REPLAYER].read(target), reverse=True,
                     key=lambda d: (d.timestamp, d.target, d.partition, d.offset))  # newest first
    return _render(
        request, "dead_letters.html", letters=[_letter_view(d) for d in letters],
        targets=list(settings.targets), target=target, result=result, ok=ok, status_code=status,
        inspect=None,
    )


async def render_dead_letters(request: web.Request) -> web.Response:
    """GET /dead-letters[?target=]: every dead letter, newest first, with replay buttons."""
    return await _dead_letters_page(request)


async def inspect_dead_letter(request: web.Request) -> web.Response:
    """GET /dead-letters/{id}: one dead letter's headers, error and event."""
    lang = i18n.pick_lang(request)
    try:
        dl = await request.app[REPLAYER].get(request.match_info["id"])
    except UnknownDeadLetter:
        raise web.HTTPNotFound(text=i18n.translate(lang, "ops.letter_gone")) from None
    try:
        event_json = json.dumps(msgspec.json.decode(dl.value), indent=2, ensure_ascii=False)
        event = decode_event(dl.value)
        headline = i18n.translate(lang, "ops.letter_headline", type=event.type, source=event.source)
    except (msgspec.DecodeError, msgspec.ValidationError):
        event_json, headline = dl.value.decode("utf-8", "replace"), i18n.translate(lang, "ops.unreadable")
    ev = await request.app[LEDGER].event(dl.event_id) if dl.event_id else None
    return _render(
        request, "dead_letters.html", letters=[], targets=list(request.app[SETTINGS].targets), target=None,
        result="", ok=True, inspect={"view": _letter_view(dl), "headers": sorted(dl.headers.items()),
                                     "event_json": event_json, "headline": headline, "event": ev},
    )


def _outcome_text(dl: DeadLetter, status: str, detail: str, lang: str) -> str:
    t = i18n.translate
    what = t(lang, "ops.replay_what", action=dl.headers.get("action", "action"), target=dl.target)
    if status == "delivered":
        return t(lang, "ops.replayed", what=what)
    if status == "already_delivered":
        return t(lang, "ops.replay_nothing", what=what)
    return t(lang, "ops.replay_failed", what=what, status=status, detail=detail)


@csrf_protect
async def replay_from_page(request: web.Request) -> web.Response:
    """POST /dead-letters/{id}/replay: deliver one dead letter again and show the result."""
    lang = i18n.pick_lang(request)
    replayer = request.app[REPLAYER]
    try:
        dl = await replayer.get(request.match_info["id"])
    except UnknownDeadLetter:
        return await _dead_letters_page(request, i18n.translate(lang, "ops.no_such_letter"), ok=False, status=404)
    outcome = await replayer.replay(dl)
    ok = outcome.status in ("delivered", "already_delivered")
    log.info("dead_letter_replayed", id=dl.id, target=dl.target, event_id=dl.event_id, outcome=outcome.status)
    return await _dead_letters_page(request, _outcome_text(dl, outcome.status, outcome.detail, lang), ok=ok,
                                    status=200 if ok else 502)


@csrf_protect
async def replay_all_from_page(request: web.Request) -> web.Response:
    """POST /dead-letters/replay-all (target=...): replay every open dead letter of one target."""
    lang = i18n.pick_lang(request)
    form = await request.post()
    target = form.get("target")
    if not isinstance(target, str) or target not in request.app[SETTINGS].targets:
        return await _dead_letters_page(request, i18n.translate(lang, "ops.choose_target"), ok=False, status=400)
    results = await request.app[REPLAYER].replay_all(target)
    good = sum(1 for _, o in results if o.status in ("delivered", "already_delivered"))
    bad = [
        _outcome_text(dl, o.status, o.detail, lang)
        for dl, o in results
        if o.status not in ("delivered", "already_delivered")
    ]
    text = i18n.translate(
        lang, f"ops.replayed_all.{'one' if len(results) == 1 else 'other'}", n=len(results), target=target, good=good
    )
    if bad:
        text += " " + " ".join(bad[:5])
    log.info("dead_letters_replayed", target=target, replayed=len(results), delivered=good)
    return await _dead_letters_page(request, text, ok=not bad, status=200 if not bad else 502)


# --- gauges from the ledger ---------------------------------------------------------------------


async def refresh_gauges(app: web.Application, now: float | None = None) -> None:
    """Set handoffs-incomplete and source-silence gauges from the ledger."""
    settings, ledger, metrics = app[SETTINGS], app[LEDGER], app[METRICS]
    now = now or time.time()
    incomplete = await ledger.incomplete_counts(settings.web.handoff_after_s)
    for flow in settings.flows:
        metrics.handoffs_incomplete.labels(flow.name).set(incomplete.get(flow.name, 0))
    for source in settings.sources:
        silence = assess_silence(await ledger.source_times(source), now)
        metrics.source_silence.labels(source).set(silence.seconds)
        metrics.source_silence_limit.labels(source).set(silence.limit_s or 0)


async def refresher_ctx(app: web.Application) -> AsyncIterator[None]:
    """Refresh the ledger-derived gauges every REFRESH_S seconds while the app runs."""

    async def loop() -> None:
        while True:
            try:
                await refresh_gauges(app)
            except Exception as exc:  # noqa: BLE001 - a ledger hiccup must not stop the refresher
                log.warning("gauge_refresh_failed", error=repr(exc))
            await asyncio.sleep(app.get(REFRESH_S, 15.0))

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


ROUTES = [
    web.get("/status", render_status),
    web.get("/handoffs", render_handoffs),
    web.get("/audit", render_audit),
    web.get("/dead-letters", render_dead_letters),
    web.post("/dead-letters/replay-all", replay_all_from_page),
    web.get("/dead-letters/{id}", inspect_dead_letter),
    web.post("/dead-letters/{id}/replay", replay_from_page),
]


def setup_ops_pages(app: web.Application) -> None:
    """Add login, the operations pages and the gauge refresher (needs setup_web and setup_api)."""
    setup_auth(app)
    app.cleanup_ctx.append(refresher_ctx)
    app.add_routes(ROUTES)
