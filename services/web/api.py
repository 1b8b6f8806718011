"""The admin JSON API: dead letters (list, replay). Bearer token from `web.api_token`."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from services.common.appkeys import METRICS, SETTINGS
from services.common.http import json_response, problem
from services.ledger.appkeys import LEDGER
from services.sync.replay import DeadLetter, Replayer, UnknownDeadLetter

REPLAYER = web.AppKey("replayer", Replayer)


def bearer_ok(request: web.Request) -> bool:
    """True when the request carries the configured API token (constant-time compare)."""
    token = request.app[SETTINGS].api_token
    header = request.headers.get("Authorization", "")
    if token is None or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), token.reveal().encode())


@web.middleware
async def require_token(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every /api/ route except the public calculator needs the bearer token."""
    if request.path.startswith("/api/") and not request.path.startswith("/api/calculator"):
        if not bearer_ok(request):
            return problem(
                401, "unauthorized", "send `Authorization: Bearer <web.api_token>`",
                headers={"WWW-Authenticate": 'Bearer realm="handover"'},
            )
    return await handler(request)


def dead_letter_json(dl: DeadLetter) -> dict[str, object]:
    """A dead letter as the API shows it."""
    h = dl.headers
    return {
        "id": dl.id, "target": dl.target, "status": dl.status, "event_id": dl.event_id,
        "flow": h.get("flow", ""), "action": h.get("action", ""), "error_class": h.get("error-class", ""),
        "error_message": h.get("error-message", ""), "attempts": int(h.get("attempts", "0") or 0),
        "first_attempt": h.get("first-attempt", ""), "last_attempt": h.get("last-attempt", ""),
        "original": {
            "topic": h.get("original-topic", ""), "partition": h.get("original-partition", ""),
            "offset": h.get("original-offset", ""),
        },
        "deadlettered_at": dl.when.isoformat(),
    }


async def list_dead_letters(request: web.Request) -> web.Response:
    """GET /api/dead-letters[?target=NAME]: every dead letter with its status."""
    target = request.query.get("target") or None
    if target is not None and target not in request.app[SETTINGS].targets:
        return problem(404, "unknown_target", f"no target named {target!r}")
    letters = await request.app[REPLAYER].read(target)
    return json_response({"dead_letters": [dead_letter_json(dl) for dl in letters]})


async def replay_dead_letter(request: web.Request) -> web.Response:
    """POST /api/dead-letters/{id}/replay: deliver it again with its original idempotency key."""
    replayer = request.app[REPLAYER]
    try:
        dl = await replayer.get(request.match_info["id"])
    except UnknownDeadLetter:
        return problem(404, "unknown_dead_letter", f"no dead letter {request.match_info['id']!r}")
    outcome = await replayer.replay(dl)
    status = 200 if outcome.status in ("delivered", "already_delivered") else 502
    return json_response({"id": dl.id, "outcome": outcome.status, "detail": outcome.detail}, status=status)


async def replayer_ctx(app: web.Application) -> AsyncIterator[None]:
    """Create the replayer with the app; close its connectors after."""
    app[REPLAYER] = Replayer(app[SETTINGS], app[LEDGER], app[METRICS])
    yield
    await app[REPLAYER].close()


ROUTES = [
    web.get("/api/dead-letters", list_dead_letters),
    web.post("/api/dead-letters/{id}/replay", replay_dead_letter),
]


def setup_api(app: web.Application) -> None:
    """Add the admin API routes and the token middleware."""
    app.middlewares.append(require_token)
    app.cleanup_ctx.append(replayer_ctx)
    app.add_routes(ROUTES)
