"""Admin login for the operations pages: password (or API token) → signed session cookie.

The cookie holds an expiry and a nonce, signed with HMAC-SHA256 under a key derived from
`web.session_secret_env` (shared by every web replica behind a load balancer; else a random
per-process key, so a restart logs everyone out) *and* the admin password and API token: a new
password ends every session. Logging out revokes that session's nonce on the server, so the old
cookie no longer opens anything (per process: another replica learns it at its next restart).
The cookie is `Secure` whenever the browser reached us over TLS (`services.common.clientaddr`).
Failed logins are limited per client address (behind trusted proxies, the real client's), so a
password cannot be guessed at speed and a stranger cannot lock the owner out. Forms carry the
CSRF token from `services.web.csrf`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import quote, urlsplit

import structlog
from aiohttp import web

from services.common.appkeys import SETTINGS
from services.common.clientaddr import client_address, is_https
from services.common.errors import ConfigError
from services.common.ratelimit import Clock, PerClient, SlidingWindow
from services.common.signing import hmac_sha256, hmac_sha256_hex
from services.ledger.appkeys import LEDGER
from services.web import i18n
from services.web.api import bearer_ok
from services.web.csrf import FIELD, csrf_protect, csrf_token, set_csrf_cookie, setup_csrf
from services.web.templates import PAGE_TEMPLATES

log = structlog.get_logger("handover.web")

SESSION_COOKIE = "handover_session"
SESSION_TTL_S = 12 * 3600
PROTECTED = ("/status", "/handoffs", "/audit", "/dead-letters")
SESSION_KEY = web.AppKey("session_key", bytes)


LOGIN_FAILURES = 5  # failed logins a client may make in any LOGIN_WINDOW_S seconds
LOGIN_WINDOW_S = 60.0


def login_limiter(clock: Clock = time.monotonic, max_clients: int = 10_000) -> PerClient[SlidingWindow]:
    """Failed logins per client: at most LOGIN_FAILURES in any LOGIN_WINDOW_S seconds, at most
    `max_clients` clients remembered (the least recently failing forgotten first)."""
    return PerClient(partial(SlidingWindow, LOGIN_FAILURES, LOGIN_WINDOW_S, clock), max_clients)


LIMITER = web.AppKey("login_limiter", PerClient[SlidingWindow])


@dataclass
class Revoked:
    """Nonces of sessions that logged out, kept until their cookie would have expired anyway."""

    max_sessions: int = 100_000
    _until: dict[str, float] = field(default_factory=dict)

    def revoke(self, nonce: str, expires: float) -> None:
        """End this session now."""
        now = time.time()
        for old in [n for n, t in self._until.items() if t <= now]:
            del self._until[old]
        self._until[nonce] = expires
        while len(self._until) > self.max_sessions:
            del self._until[next(iter(self._until))]

    def __contains__(self, nonce: str) -> bool:
        return nonce in self._until

    def dump(self) -> str:
        """The unexpired revocations as JSON (kept in the ledger, so a restart or another web
        replica does not take a logged-out cookie back)."""
        now = time.time()
        return json.dumps({n: t for n, t in self._until.items() if t > now})

    def load(self, text: str | None) -> None:
        """Add the revocations another process (or an earlier run) kept."""
        try:
            kept = json.loads(text) if text else {}
        except ValueError:
            return
        if isinstance(kept, dict):
            for nonce, until in kept.items():
                if isinstance(until, int | float) and nonce not in self._until:
                    self.revoke(str(nonce), float(until))


REVOKED = web.AppKey("revoked_sessions", Revoked)
REVOKED_KEY = "revoked_sessions"  # the ledger's key-value store
REVOKED_REFRESH_S = 60.0


async def _kept_revocations(app: web.Application) -> AsyncIterator[None]:
    """Load the logouts the ledger kept, and pick up other replicas' now and then."""

    async def refresh() -> None:
        while True:
            try:
                app[REVOKED].load(await app[LEDGER].get_value(REVOKED_KEY))
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                log.warning("revoked_sessions_unreadable", error=repr(exc))
            await asyncio.sleep(REVOKED_REFRESH_S)

    app[REVOKED].load(await app[LEDGER].get_value(REVOKED_KEY))
    task = asyncio.create_task(refresh())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def new_session(key: bytes, now: float | None = None) -> str:
    """A session cookie value: expiry, nonce and their HMAC."""
    payload = f"{int((now or time.time()) + SESSION_TTL_S)}.{secrets.token_hex(8)}"
    return f"{payload}.{hmac_sha256_hex(key, payload)}"


def valid_session(key: bytes, value: str | None, now: float | None = None, revoked: Revoked | None = None) -> bool:
    """True for an unexpired session cookie signed with this key (and not logged out)."""
    if not value or value.count(".") != 2 or len(value) > 200 or not value.isascii():
        return False
    expires, nonce, mac = value.split(".")
    if not expires.isdigit() or not hmac.compare_digest(mac, hmac_sha256_hex(key, f"{expires}.{nonce}")):
        return False
    if revoked is not None and nonce in revoked:
        return False
    return int(expires) > (now or time.time())


def logged_in(request: web.Request) -> bool:
    """True when the request carries a valid admin session cookie."""
    return valid_session(
        request.app[SESSION_KEY], request.cookies.get(SESSION_COOKIE), revoked=request.app.get(REVOKED)
    )


def is_admin(request: web.Request) -> bool:
    """True for the owner or an operator: a logged-in admin session, or the API bearer token.
    An app without the login pages (no session key) has no sessions at all."""
    return bearer_ok(request) or (SESSION_KEY in request.app and logged_in(request))


def _protected(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PROTECTED)


@web.middleware
async def require_login(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """The operations pages need a session (or the API token); browsers are sent to log in."""
    if _protected(request.path) and not is_admin(request):
        if request.method in ("GET", "HEAD") and "text/html" in request.headers.get("Accept", ""):
            raise web.HTTPFound(f"/login?next={quote(request.path_qs, safe='')}")
        return web.Response(
            status=401, text="Log in at /login first.", headers={"WWW-Authenticate": 'Bearer realm="handover"'}
        )
    return await handler(request)


def see_other(location: str) -> web.Response:
    """A 303 to a local path (a plain response, so cookies can be set on it)."""
    return web.Response(status=303, headers={"Location": location})


_C0_AND_SPACE = "".join(map(chr, range(0x21)))


def safe_next(value: str | None) -> str:
    """Where to go after login: `value` if a browser would read it as a path on this site, else
    /status. An open redirect would let a phishing link bounce through us, so `value` is read
    the way the WHATWG URL parser reads it (https://url.spec.whatwg.org/#concept-basic-url-parser):
    leading and trailing C0 controls and spaces stripped, every tab and newline removed, and
    (http and https being special schemes) a backslash taken for a slash. "/\t/evil.example"
    is "//evil.example" to a browser: another host."""
    if not value:
        return "/status"
    url = value.strip(_C0_AND_SPACE)
    url = url.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    if not url.startswith("/") or url.startswith("//"):
        return "/status"
    parts = urlsplit("http://handover.invalid" + url)
    if parts.netloc != "handover.invalid":
        return "/status"
    # Whatever else is left (other controls, spaces, non-ASCII) is percent-encoded, so the
    # Location header stays one valid line.
    return "".join(c if "!" <= c <= "~" else quote(c, safe="") for c in url)


def password_ok(request: web.Request, password: str) -> bool:
    """True when the password equals web.admin_password or web.api_token (constant time)."""
    settings = request.app[SETTINGS]
    ok = False
    for secret in (settings.admin_password, settings.api_token):
        if secret is not None:
            ok |= hmac.compare_digest(password.encode(), secret.reveal().encode())
    return ok


def _render_login(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    from services.web.password import password_file

    settings = request.app[SETTINGS]
    lang = i18n.pick_lang(request)
    file = password_file(settings)
    page = request.app[PAGE_TEMPLATES].get_template("login.html").render(
        csrf=csrf_token(request), field=FIELD, error=error, next=safe_next(request.query.get("next")),
        configured=settings.admin_password is not None or settings.api_token is not None,
        logged_in=False, password_file=file, lang=lang,
        t=lambda key, **values: i18n.translate(lang, key, **values),
        not_configured=i18n.with_code(lang, "login.not_configured", setting="web.admin_password_env",
                                  token="web.api_token_env"),
        file_note=i18n.with_code(lang, "login.password_file", file=str(file), command=f"cat {file}",
                             setting="[web] admin_password_env") if file else "",
    )
    response = web.Response(text=page, content_type="text/html", status=status)
    set_csrf_cookie(request, response)
    i18n.remember_lang(request, response, lang)
    return response


async def show_login(request: web.Request) -> web.Response:
    """GET /login: the password form."""
    return _render_login(request)


@csrf_protect
async def log_in(request: web.Request) -> web.StreamResponse:
    """POST /login: check the password, set the session cookie, go where the user was going."""
    client = client_address(request)
    failures = request.app[LIMITER]
    known = failures.get(client)  # a client that never failed is not remembered
    wait = known.wait() if known is not None else 0.0
    if wait:
        lang = i18n.pick_lang(request)
        response = _render_login(request, i18n.plural(lang, "login.too_many", int(wait) + 1), status=429)
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    form = await request.post()
    password = form.get("password")
    if not isinstance(password, str) or not password or not password_ok(request, password):
        failures.for_client(client).record()
        return _render_login(request, i18n.translate(i18n.pick_lang(request), "login.wrong"), status=401)
    nxt = form.get("next")
    response = see_other(safe_next(nxt if isinstance(nxt, str) else None))
    response.set_cookie(
        SESSION_COOKIE, new_session(request.app[SESSION_KEY]), path="/", httponly=True,
        samesite="Lax", secure=is_https(request), max_age=SESSION_TTL_S,
    )
    return response


@csrf_protect
async def log_out(request: web.Request) -> web.StreamResponse:
    """POST /logout: end the session on the server and drop the cookie."""
    value = request.cookies.get(SESSION_COOKIE)
    if valid_session(request.app[SESSION_KEY], value):
        assert value is not None
        expires, nonce, _ = value.split(".")
        revoked = request.app[REVOKED]
        revoked.revoke(nonce, float(expires))
        ledger = request.app.get(LEDGER)
        if ledger is not None:  # outlives this process; the other replicas read it within a minute
            await ledger.put_value(REVOKED_KEY, revoked.dump())
    response = see_other("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


def session_key(settings_env_name: str, *credentials: str) -> bytes:
    """The signing key: from the named environment variable (else random for this process),
    bound to the credentials, so a new admin password or API token ends every session."""
    if not settings_env_name:
        base = secrets.token_bytes(32)
    else:
        value = os.environ.get(settings_env_name)
        if not value:
            raise ConfigError("web.session_secret_env", f"environment variable {settings_env_name} is not set")
        base = hashlib.sha256(value.encode()).digest()
    bound = "\0".join(hashlib.sha256(c.encode()).hexdigest() for c in credentials)
    return hmac_sha256(base, b"handover-session\0" + bound.encode())


ROUTES = [web.get("/login", show_login), web.post("/login", log_in), web.post("/logout", log_out)]


def setup_auth(app: web.Application) -> None:
    """Add /login, /logout and the middleware that guards the operations pages."""
    setup_csrf(app)
    settings = app[SETTINGS]
    if SESSION_KEY not in app:
        credentials = [s.reveal() if s is not None else "" for s in (settings.admin_password, settings.api_token)]
        app[SESSION_KEY] = session_key(settings.web.session_secret_env, *credentials)
    if REVOKED not in app:
        app[REVOKED] = Revoked()
        if LEDGER in app:
            app.cleanup_ctx.append(_kept_revocations)
    if LIMITER not in app:
        app[LIMITER] = login_limiter()
    app.middlewares.append(require_login)
    app.add_routes(ROUTES)
