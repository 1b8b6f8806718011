"""CSRF protection for the owner's HTML forms: a double-submit cookie signed with a process key.

Every page with a form calls `csrf_token(request)` for the hidden field and `set_csrf_cookie`
on its response; every form handler is wrapped in `csrf_protect`. A POST passes only when the
form field equals the cookie *and* the token carries a valid HMAC under this process's random
key: a bare double-submit check could be beaten by anyone able to plant a cookie (a sibling
subdomain), but they cannot mint a token without the key. The key lives only in memory, so a
restart invalidates old tokens; the page simply hands out a new one on the next GET.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from services.common.clientaddr import is_https
from services.common.signing import hmac_sha256_hex

CSRF_KEY = web.AppKey("csrf_key", bytes)
COOKIE = "handover_csrf"
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
_REQUEST_TOKEN = web.RequestKey("handover_csrf_token", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def setup_csrf(app: web.Application) -> None:
    """Give the app a random per-process signing key unless it has one already."""
    if CSRF_KEY not in app:
        app[CSRF_KEY] = secrets.token_bytes(32)


def new_token(key: bytes) -> str:
    """Return a fresh token: a random nonce and its HMAC under the key."""
    nonce = secrets.token_hex(16)
    return f"{nonce}.{hmac_sha256_hex(key, nonce)}"


def valid_token(key: bytes, token: str | None) -> bool:
    """Return True when the token was minted with this key."""
    if not token or token.count(".") != 1 or len(token) > 200 or not token.isascii():
        return False  # compare_digest refuses non-ASCII text (a TypeError, a 500)
    nonce, mac = token.split(".")
    return hmac.compare_digest(mac, hmac_sha256_hex(key, nonce))


def csrf_token(request: web.Request) -> str:
    """Return the token for this request's forms: the cookie's if valid, else a new one."""
    if _REQUEST_TOKEN in request:
        return request[_REQUEST_TOKEN]
    key = request.app[CSRF_KEY]
    token = request.cookies.get(COOKIE)
    if not valid_token(key, token):
        token = new_token(key)
    request[_REQUEST_TOKEN] = token
    return token


def set_csrf_cookie(request: web.Request, response: web.StreamResponse) -> None:
    """Set (or refresh) the CSRF cookie to the token the page's forms carry."""
    token = csrf_token(request)
    if request.cookies.get(COOKIE) != token:
        response.set_cookie(
            COOKIE,
            token,
            path="/",
            httponly=True,  # the token reaches scripts through the form field, never the cookie
            samesite="Strict",
            secure=is_https(request),
        )


async def check_csrf(request: web.Request) -> None:
    """Raise 403 unless the POSTed form field (or header) matches a valid cookie token."""
    key = request.app[CSRF_KEY]
    cookie = request.cookies.get(COOKIE)
    sent = request.headers.get(HEADER)
    if sent is None:
        form = await request.post()
        value = form.get(FIELD)
        sent = value if isinstance(value, str) else None
    if not (cookie and sent and valid_token(key, cookie) and hmac.compare_digest(cookie.encode(), sent.encode())):
        raise web.HTTPForbidden(
            text="This form has expired or did not come from this site. "
            "Go back, reload the page and try again.",
        )


def csrf_protect(handler: Handler) -> Handler:
    """Wrap a POST handler so it runs only with a valid CSRF token (else 403)."""

    @functools.wraps(handler)
    async def protected(request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            await check_csrf(request)
        return await handler(request)

    return protected
