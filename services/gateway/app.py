"""The gateway: POST /hooks/{source} verifies, maps, publishes to Kafka, and only then answers.

Every request takes the same path: rate limit -> size -> content type -> signature ->
timestamp -> dedupe -> parse/validate -> publish (wait for the ack) -> answer.
"""

from __future__ import annotations

import datetime as dt
import email.message
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import structlog
from aiohttp import web

from schemas import AnyEvent
from services.common.appkeys import METRICS, PUBLISHER, SETTINGS
from services.common.errors import BrokerUnavailable
from services.common.http import json_response, problem, wants_html
from services.gateway.dedupe import DedupeStore, InFlight, MemoryDedupeStore, Remembering
from services.gateway.openapi import openapi_document
from services.gateway.ratelimit import TokenBucket
from services.gateway.sources import source_kinds
from services.gateway.sources.base import Ignored, Inbound, Rejected, Source, event_id

log = structlog.get_logger("handover.gateway")

SOURCES = web.AppKey("sources", dict[str, Source])
DEDUPE = web.AppKey("dedupe", DedupeStore)
INFLIGHT = web.AppKey("inflight", InFlight)
BUCKETS = web.AppKey("buckets", dict[str, TokenBucket])
T = TypeVar("T")
RETRY_AFTER_S = 5  # what a vendor is told to wait while Kafka does not acknowledge

THANKS_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Thank you</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem">
<h1>Thank you</h1>
<p>We received your message.</p>
<p><a href="/try">Back to the form</a>{audit}</p></body></html>"""
# The owner trying the demo form sees what Handover did with the post (after logging in).
THANKS_AUDIT = ' · <a href="/audit?q={event}">See what Handover did with it</a>'
_EVENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


def content_params(header: str) -> dict[str, str]:
    """The parameters of a Content-Type header (charset, boundary), names lower-cased."""
    msg = email.message.Message()
    msg["Content-Type"] = header
    return {k.lower(): str(v) for k, v in msg.get_params(failobj=[])[1:]}


async def _read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise Rejected(413, "payload_too_large", f"body is over the limit of {limit} bytes")
    # StreamReader.read(n) returns what has arrived so far, up to n: read until the end, so a
    # large body sent in several packets is verified whole, and stop as soon as it is too large.
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(limit + 1 - size):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise Rejected(413, "payload_too_large", f"body is over the limit of {limit} bytes")
    return b"".join(chunks)


def _rejection(request: web.Request, exc: Rejected) -> web.Response:
    if wants_html(request) and exc.status < 500:
        fields = "".join(f"<li>{e.path.removeprefix('$.')}: {e.message}</li>" for e in exc.errors)
        from html import escape

        body = (
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Please check the form"
            f"</title></head><body><h1>Please check the form</h1><p>{escape(exc.detail)}</p>"
            f"<ul>{fields}</ul><p><a href=\"javascript:history.back()\">Back</a></p></body></html>"
        )
        return web.Response(status=exc.status, text=body, content_type="text/html", headers=exc.headers)
    errors = [{"path": e.path, "message": e.message} for e in exc.errors]
    return problem(exc.status, exc.reason, exc.detail, errors, exc.headers)


async def receive_webhook(request: web.Request) -> web.StreamResponse:
    """Handle one webhook delivery end to end."""
    started = time.perf_counter()
    app = request.app
    metrics = app[METRICS]
    name = request.match_info["source"]
    source = app[SOURCES].get(name)
    if source is None:
        return problem(404, "unknown_source", f"no source named {name!r} is configured")
    outcome = "accepted"
    ids: list[str] = []
    try:
        response = await _handle(request, source, ids)
        outcome = response.headers.get("X-Handover-Outcome", "accepted")
        return response
    except Rejected as exc:
        outcome = exc.reason if exc.reason != "invalid_field" else "invalid_payload"
        log.info("webhook_rejected", source=name, outcome=outcome, status=exc.status, reason=exc.reason,
                 detail=exc.detail)
        return _rejection(request, exc)
    finally:
        duration = time.perf_counter() - started
        metrics.webhook_answered(name, outcome, duration)
        if outcome in ("accepted", "duplicate", "ignored"):
            log.info("webhook_received", source=name, outcome=outcome, event_ids=ids, duration_s=round(duration, 6))


async def _handle(request: web.Request, source: Source, ids: list[str]) -> web.StreamResponse:
    app = request.app
    cfg = source.config
    wait = app[BUCKETS][source.name].take()
    if wait:
        raise Rejected(
            429, "rate_limited", "too many requests for this source", headers={"Retry-After": str(int(wait))}
        )
    body = await _read_body(request, cfg.max_body_bytes)
    raw_type = request.headers.get("Content-Type")
    # aiohttp reports a missing Content-Type as application/octet-stream; keep "none" distinct
    # so a kind can let exactly its known untyped requests through (WooCommerce's ping).
    media = request.content_type.lower() if raw_type is not None else ""
    inbound = Inbound(
        source=source.name, headers=request.headers, body=body, content_type=media,
        received_at=dt.datetime.now(dt.UTC), params=content_params(raw_type) if raw_type and ";" in raw_type else {},
    )
    if media not in source.content_types and not (media == "" and source.accepts_untyped(inbound)):
        raise Rejected(
            415, "unsupported_media_type",
            f"Content-Type {media or '(none)'} is not accepted; use {', '.join(source.content_types)}",
        )
    source.verify(inbound, inbound.received_at)
    delivery = source.delivery_id(inbound)
    eid = event_id(source.name, delivery) if delivery else str(uuid.uuid4())
    guard = app[INFLIGHT](eid)
    await guard.acquire()
    held = True
    try:
        if delivery and await _dedupe(app[DEDUPE].seen(eid)):
            # Parsing is deterministic: the resend names the same events the first answer did.
            try:
                again = source.parse(inbound, eid)
            except Rejected:
                again = []
            if isinstance(again, list) and again:
                ids.extend(e.id for e in again)
            else:
                ids.append(eid)
            return _answer(request, source, "duplicate", list(ids))
        result = source.parse(inbound, eid)
        if isinstance(result, Ignored):
            return _answer(request, source, "ignored", [], reason=result.reason)
        events: list[AnyEvent] = result
        try:
            await app[PUBLISHER].publish_many(list(events))
        except BrokerUnavailable as exc:
            log.warning("broker_unavailable", source=source.name, error=str(exc))
            raise Rejected(
                503, "broker_unavailable", "the event could not be stored yet; please retry",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            ) from exc
        ids.extend(e.id for e in events)
        if delivery:
            # Acknowledged by Kafka: answer now and remember the delivery after. Until it is
            # remembered, a resend to this process waits for the guard, which the write holds.
            app[REMEMBERING].start(app[DEDUPE], eid, cfg.dedupe_window_hours * 3600, guard)
            held = False
        return _answer(request, source, "accepted", [e.id for e in events])
    finally:
        if held:
            guard.release()


REMEMBERING = web.AppKey("remembering", Remembering)


async def _dedupe(call: Awaitable[T]) -> T:
    try:
        return await call
    except Exception as exc:
        log.warning("dedupe_store_unavailable", error=repr(exc))
        raise Rejected(
            503, "ledger_unavailable", "the delivery could not be checked yet; please retry",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        ) from exc


def _answer(
    request: web.Request, source: Source, outcome: str, ids: list[str], reason: str = ""
) -> web.StreamResponse:
    headers = {"X-Handover-Outcome": outcome}
    if source.kind == "form" and wants_html(request):
        # A person's browser: send it on to a thank-you page (POST-redirect-GET).
        target = getattr(source.config, "thank_you_url", "") or (
            f"/hooks/{source.name}/thanks" + (f"?event={ids[0]}" if ids else "")
        )
        return web.Response(status=303, headers={**headers, "Location": target})
    if outcome == "ignored":
        return json_response({"status": "ignored", "reason": reason}, 200, headers)
    if outcome == "duplicate":
        return json_response({"status": "duplicate", "event_ids": ids}, 200, headers)
    return json_response({"status": "accepted", "event_ids": ids}, 202, headers)


async def thank_you(request: web.Request) -> web.Response:
    """The built-in thank-you page browsers land on after a form post."""
    event = request.query.get("event", "")
    audit = THANKS_AUDIT.format(event=event) if _EVENT_ID.fullmatch(event) else ""
    return web.Response(text=THANKS_PAGE.format(audit=audit), content_type="text/html")


async def openapi_json(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of this gateway's hook endpoints."""
    doc = openapi_document(request.app[SOURCES], request.app[SETTINGS].server.public_url)
    return json_response(doc)


def setup_gateway(app: web.Application, dedupe: DedupeStore | None = None) -> None:
    """Add the gateway's routes and state to an app that already holds settings and publisher."""
    settings = app[SETTINGS]
    kinds = source_kinds()
    app[SOURCES] = {name: kinds[spec.kind](spec) for name, spec in settings.sources.items()}
    app[DEDUPE] = dedupe if dedupe is not None else MemoryDedupeStore()
    app[INFLIGHT] = InFlight()
    app[REMEMBERING] = Remembering()
    app[BUCKETS] = {
        name: TokenBucket(spec.config.rate_limit_per_minute) for name, spec in settings.sources.items()
    }
    app.router.add_post("/hooks/{source}", receive_webhook)
    app.router.add_get("/openapi.json", openapi_json)
    app.router.add_get("/hooks/{source}/thanks", thank_you)


async def publisher_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start the Kafka publisher with the app and stop it after."""
    await app[PUBLISHER].start()
    yield
    if REMEMBERING in app:
        await app[REMEMBERING].drain()  # answered already: finish remembering those deliveries
    await app[PUBLISHER].stop()
