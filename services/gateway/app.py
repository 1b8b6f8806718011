"""The gateway: POST /hooks/{source} verifies, maps, publishes to Kafka, and only then answers.

Every request takes the same path: rate limit -> size -> content type -> signature ->
timestamp -> dedupe -> parse/validate -> publish (wait for the ack) -> answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.message
import hashlib
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from functools import partial
from html import escape
from typing import TypeVar

import aiohttp
import structlog
from aiohttp import web

from schemas import AnyEvent
from services.common.appkeys import METRICS, PUBLISHER, SETTINGS
from services.common.clientaddr import client_address
from services.common.errors import BrokerUnavailable, EventTooLarge
from services.common.http import json_response, problem, wants_html
from services.common.kafka import event_record
from services.common.ratelimit import PerClient, TokenBucket
from services.gateway.captcha import token_field, verify_captcha
from services.gateway.dedupe import DedupeStore, InFlight, MemoryDedupeStore, Remembering
from services.gateway.errors import Rejected
from services.gateway.openapi import openapi_document
from services.gateway.sources import source_kinds
from services.gateway.sources.base import Ignored, Inbound, Source, event_id
from services.gateway.sources.form import form_fields
from services.ledger.journal import IntakeJournal

log = structlog.get_logger("handover.gateway")

SOURCES = web.AppKey("sources", dict[str, Source])
DEDUPE = web.AppKey("dedupe", DedupeStore)
INFLIGHT = web.AppKey("inflight", InFlight)
BUCKETS = web.AppKey("buckets", dict[str, TokenBucket])
CLIENT_BUCKETS = web.AppKey("client_buckets", dict[str, PerClient[TokenBucket]])
CAPTCHA_HTTP = web.AppKey("captcha_http", aiohttp.ClientSession)
UNSIGNED_CLIENT_RATE = 20  # per client per minute on unsigned sources, unless configured
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
        # Field names and messages can echo what the client sent: escape them like the detail.
        fields = "".join(f"<li>{escape(e.path.removeprefix('$.'))}: {escape(e.message)}</li>" for e in exc.errors)
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
    # Counted as what really happened: "error" (a 500) unless an answer says otherwise.
    outcome = "error"
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
    except (ConnectionError, asyncio.CancelledError):
        outcome = "aborted"  # the client went away before the answer
        raise
    except Exception:
        log.exception("webhook_failed", source=name)
        raise
    finally:
        duration = time.perf_counter() - started
        metrics.webhook_answered(name, outcome, duration)
        if outcome in ("accepted", "duplicate", "ignored"):
            log.info("webhook_received", source=name, outcome=outcome, event_ids=ids, duration_s=round(duration, 6))


async def _handle(request: web.Request, source: Source, ids: list[str]) -> web.StreamResponse:
    app = request.app
    cfg = source.config
    client = client_address(request)
    # The client's own allowance first: a flooding client must not use up everyone's.
    wait = app[CLIENT_BUCKETS][source.name].take(client)
    if wait:
        raise Rejected(
            429, "rate_limited", "too many requests from this address", headers={"Retry-After": str(int(wait))}
        )
    wait = app[BUCKETS][source.name].take()
    if wait:
        raise Rejected(
            429, "rate_limited", "too many requests for this source", headers={"Retry-After": str(int(wait))}
        )
    timeout = app[SETTINGS].server.read_timeout_s or None
    try:
        # The whole body within the read timeout: a body trickled in a byte at a time is cut off.
        async with asyncio.timeout(timeout):
            body = await _read_body(request, cfg.max_body_bytes)
    except TimeoutError:
        raise Rejected(408, "request_timeout", f"the body did not arrive within {timeout:g} seconds",
                       headers={"Connection": "close"}) from None
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
    captcha = getattr(cfg, "captcha", None)
    if captcha is not None and source.spec.captcha_secret is not None:
        token = dict(form_fields(inbound)).get(token_field(captcha), "")
        await verify_captcha(app[CAPTCHA_HTTP], captcha, source.spec.captcha_secret, token, client)
    delivery = source.delivery_key(inbound)  # the signed content's identity, else the delivery id
    if delivery and not source.signed:
        # A key the client chose is scoped to this body: whoever guesses a genuine sender's key
        # cannot make that sender's submission come back "duplicate" and be dropped.
        delivery = f"{delivery}:{hashlib.sha256(body).hexdigest()[:32]}"
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
        inbound.memo.clear()  # the decoded body (~3x its bytes) is not held through the publish
        if isinstance(result, Ignored):
            return _answer(request, source, "ignored", [], reason=result.reason)
        events: list[AnyEvent] = await source.enrich(result, app[GATEWAY_HTTP])
        records = [event_record(e) for e in events]
        try:
            await app[PUBLISHER].publish_records(records)
        except EventTooLarge as exc:  # permanent: a retry can never succeed
            log.warning("event_too_large", source=source.name, size=exc.size, limit=exc.limit)
            raise Rejected(413, "payload_too_large", str(exc)) from exc
        except BrokerUnavailable as exc:
            log.warning("broker_unavailable", source=source.name, error=str(exc))
            raise Rejected(
                503, "broker_unavailable", "the event could not be stored yet; please retry",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            ) from exc
        journal = app[JOURNAL]
        if journal is not None:
            # The one-box mode: the broker keeps nothing across a restart, so the answer waits
            # for the journal (and the dedupe entry, in the same commit). Should that fail, the
            # vendor retries; the event is then published again under the same id, and skipped.
            await _dedupe(journal.accept(records, cfg.dedupe_window_hours * 3600, eid if delivery else None))
            ids.extend(e.id for e in events)
            return _answer(request, source, "accepted", [e.id for e in events])
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
JOURNAL = web.AppKey("journal", IntakeJournal | None)  # type: ignore[arg-type]
GATEWAY_HTTP = web.AppKey("gateway_http", aiohttp.ClientSession)


async def _http_ctx(app: web.Application) -> AsyncIterator[None]:
    """The session a source uses to complete events from its vendor's API (Stripe line items)."""
    async with aiohttp.ClientSession() as http:
        app[GATEWAY_HTTP] = http
        yield


async def _dedupe(call: Awaitable[T]) -> T:
    try:
        return await call
    except Exception as exc:
        log.warning("dedupe_store_unavailable", error=repr(exc))
        raise Rejected(
            503, "ledger_unavailable", "the delivery could not be checked or recorded yet; please retry",
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


def setup_gateway(
    app: web.Application, dedupe: DedupeStore | None = None, journal: IntakeJournal | None = None
) -> None:
    """Add the gateway's routes and state to an app that already holds settings and publisher;
    with a `journal`, every accepted event is in it before the answer."""
    settings = app[SETTINGS]
    kinds = source_kinds()
    app[SOURCES] = {name: kinds[spec.kind](spec) for name, spec in settings.sources.items()}
    app[DEDUPE] = dedupe if dedupe is not None else MemoryDedupeStore()
    app[INFLIGHT] = InFlight()
    app[REMEMBERING] = Remembering()
    app[JOURNAL] = journal
    app.cleanup_ctx.append(_http_ctx)
    app[BUCKETS] = {
        name: TokenBucket(spec.config.rate_limit_per_minute) for name, spec in settings.sources.items()
    }
    app[CLIENT_BUCKETS] = {
        name: PerClient(
            partial(TokenBucket, _client_rate(spec.config.client_rate_limit_per_minute, app[SOURCES][name].signed))
        )
        for name, spec in settings.sources.items()
    }
    if any(getattr(spec.config, "captcha", None) is not None for spec in settings.sources.values()):
        app.cleanup_ctx.append(_captcha_http_ctx)
    app.router.add_post("/hooks/{source}", receive_webhook)
    app.router.add_get("/openapi.json", openapi_json)
    app.router.add_get("/hooks/{source}/thanks", thank_you)


async def drain_remembering(app: web.Application) -> None:
    """At shutdown: finish remembering the deliveries already answered."""
    await app[REMEMBERING].drain()


def _client_rate(configured: int | None, signed: bool) -> int:
    if configured is not None:
        return configured
    return 0 if signed else UNSIGNED_CLIENT_RATE


async def _captcha_http_ctx(app: web.Application) -> AsyncIterator[None]:
    async with aiohttp.ClientSession() as session:
        app[CAPTCHA_HTTP] = session
        yield
