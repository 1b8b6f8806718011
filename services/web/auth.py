"""Admin login for the operations pages: password (or API token) → signed session cookie.

The cookie holds an expiry and a nonce, signed with HMAC-SHA256 under `web.session_secret_env`
(shared by every web replica behind a load balancer) or a random per-process key (a restart
logs everyone out). Failed logins are limited per client address, so a password cannot be
guessed at speed. Forms carry the CSRF token from `services.web.csrf`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from aiohttp import web

from services.common.appkeys import SETTINGS
from services.common.errors import ConfigError
from services.web.api import bearer_ok
from services.web.csrf import FIELD, csrf_protect, csrf_token, set_csrf_cookie, setup_csrf

SESSION_COOKIE = "handover_session"
SESSION_TTL_S = 12 * 3600
PROTECTED = ("/status", "/handoffs", "/audit", "/dead-letters")
SESSION_KEY = web.AppKey("session_key", bytes)


@dataclass
class LoginLimiter:
    """At most `max_failures` failed logins per client in any `window_s` seconds."""

    max_failures: int = 5
    window_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, client: str) -> deque[float]:
        q = self._failures.setdefault(client, deque())
        cutoff = self.clock() - self.window_s
        while q and q[0] <= cutoff:
            q.popleft()
        if not q:
            del self._failures[client]  # bounded memory: forget clients with nothing recent
            return deque()
        return q

    def retry_after(self, client: str) -> float:
        """Seconds until this client may try again (0: it may try now)."""
        q = self._recent(client)
        if len(q) < self.max_failures:
            return 0.0
        return max(1.0, q[0] + self.window_s - self.clock())

    def failed(self, client: str) -> None:
        """Count one failed login."""
        self._recent(client)
        self._failures.setdefault(client, deque()).append(self.clock())

    def clear(self, client: str | None = None) -> None:
        """Forget failures (of one client, or all)."""
        if client is None:
            self._failures.clear()
        else:
            self._failures.pop(client, None)


LIMITER = web.AppKey("login_limiter", LoginLimiter)


def _sign(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode("ascii"), hashlib.sha256).hexdigest()


def new_session(key: bytes, now: float | None = None) -> str:
    """A session cookie value: expiry, nonce and their HMAC."""
    payload = f"{int((now or time.time()) + SESSION_TTL_S)}.{secrets.token_hex(8)}"
    return f"{payload}.{_sign(key, payload)}"


def valid_session(key: bytes, value: str | None, now: float | None = None) -> bool:
    """True for an unexpired session cookie signed with this key."""
    if not value or value.count(".") != 2 or len(value) > 200 or not value.isascii():
        return False
    expires, nonce, mac = value.split(".")
    if not expires.isdigit() or not hmac.compare_digest(mac, _sign(key, f"{expires}.{nonce}")):
        return False
    return int(expires) > (now or time.time())


def logged_in(request: web.Request) -> bool:
    """True when the request carries a valid admin session cookie."""
    return valid_session(request.app[SESSION_KEY], request.cookies.get(SESSION_COOKIE))


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


def _safe_next(value: str | None) -> str:
    # Only local paths: an open redirect would let a phishing link bounce through us.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/status"


def password_ok(request: web.Request, password: str) -> bool:
    """True when the password equals web.admin_password or web.api_token (constant time)."""
    settings = request.app[SETTINGS]
    ok = False
    for secret in (settings.admin_password, settings.api_token):
        if secret is not None:
            ok |= hmac.compare_digest(password.encode(), secret.reveal().encode())
    return ok


def _render_login(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    from services.web.app import TEMPLATES  # the template environment setup_web created
    from services.web.password import password_file

    settings = request.app[SETTINGS]
    page = request.app[TEMPLATES].get_template("login.html").render(
        csrf=csrf_token(request), field=FIELD, error=error, next=_safe_next(request.query.get("next")),
        configured=settings.admin_password is not None or settings.api_token is not None,
        logged_in=False, password_file=password_file(settings),
    )
    response = web.Response(text=page, content_type="text/html", status=status)
    set_csrf_cookie(request, response)
    return response


async def show_login(request: web.Request) -> web.Response:
    """GET /login: the password form."""
    return _render_login(request)


@csrf_protect
async def log_in(request: web.Request) -> web.StreamResponse:
    """POST /login: check the password, set the session cookie, go where the user was going."""
    client = request.remote or "unknown"
    limiter = request.app[LIMITER]
    wait = limiter.retry_after(client)
    if wait:
        response = _render_login(
            request, f"Too many wrong passwords. Try again in {int(wait) + 1} seconds.", status=429
        )
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    form = await request.post()
    password = form.get("password")
    if not isinstance(password, str) or not password or not password_ok(request, password):
        limiter.failed(client)
        return _render_login(request, "That password is not right.", status=401)
    nxt = form.get("next")
    response = see_other(_safe_next(nxt if isinstance(nxt, str) else None))
    response.set_cookie(
        SESSION_COOKIE, new_session(request.app[SESSION_KEY]), path="/", httponly=True,
        samesite="Lax", secure=request.secure, max_age=SESSION_TTL_S,
    )
    return response


@csrf_protect
async def log_out(request: web.Request) -> web.StreamResponse:
    """POST /logout: drop the session cookie."""
    response = see_other("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


def session_key(settings_env_name: str) -> bytes:
    """The signing key: from the named environment variable, else random for this process."""
    if not settings_env_name:
        return secrets.token_bytes(32)
    value = os.environ.get(settings_env_name)
    if not value:
        raise ConfigError("web.session_secret_env", f"environment variable {settings_env_name} is not set")
    return hashlib.sha256(value.encode()).digest()


def setup_auth(app: web.Application) -> None:
    """Add /login, /logout and the middleware that guards the operations pages."""
    setup_csrf(app)
    if SESSION_KEY not in app:
        app[SESSION_KEY] = session_key(app[SETTINGS].web.session_secret_env)
    if LIMITER not in app:
        app[LIMITER] = LoginLimiter()
    app.middlewares.append(require_login)
    app.router.add_get("/login", show_login)
    app.router.add_post("/login", log_in)
    app.router.add_post("/logout", log_out)
