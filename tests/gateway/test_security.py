"""The public door, attacked as someone on the internet would: a flooding client, guessed
Idempotency-Keys, captcha tokens, a form too big for Kafka, aborted requests, markup in field
names. Real gateway, real broker; the captcha vendors are local fakes that answer as their
siteverify documentation says."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from schemas import decode_event
from services.assembly import parse_settings
from services.common.clientaddr import client_address, is_https
from services.common.config import KafkaConfig, SourceConfig
from services.common.embedded_broker import EmbeddedBroker
from tests.config import make_settings
from tests.conftest import wait_for
from tests.gateway import harness
from tests.gateway.harness import Gateway, unique

UNLIMITED = {"kind": "form", "client_rate_limit_per_minute": 0}


def sources(captcha: str) -> dict[str, dict[str, Any]]:
    """Form sources of every flavour; `captcha` is the fake vendors' base URL."""
    return {
        "website": UNLIMITED,
        "door": {"kind": "form", "rate_limit_per_minute": 30},
        "big": {**UNLIMITED, "max_body_bytes": 2097152},
        "turnstile": {**UNLIMITED, "captcha": {
            "provider": "turnstile", "secret": "ts-secret", "verify_url": f"{captcha}/turnstile/v0/siteverify"}},
        "hcaptcha": {**UNLIMITED, "captcha": {
            "provider": "hcaptcha", "secret": "0xhc-secret", "sitekey": "hc-site",
            "verify_url": f"{captcha}/siteverify"}},
        "friendly": {**UNLIMITED, "captcha": {
            "provider": "friendlycaptcha", "secret_env": "FRC_KEY", "sitekey": "FCMG",
            "verify_url": f"{captcha}/api/v2/captcha/siteverify"}},
        "down": {**UNLIMITED, "captcha": {
            "provider": "turnstile", "secret": "ts-secret", "verify_url": f"{captcha}/broken"}},
    }


class FakeCaptchaVendors:
    """Turnstile, hCaptcha and Friendly Captcha (v2) siteverify, as each vendor documents it:
    tokens the widget issued pass once; a second use, a made-up token or a wrong key fail."""

    def __init__(self) -> None:
        self.issued: set[str] = set()
        self.used: set[str] = set()
        self.requests: list[dict[str, Any]] = []

    def issue(self) -> str:
        """A token as a solved widget would put in the form."""
        token = f"0.{unique()}"
        self.issued.add(token)
        return token

    def _check(self, token: str) -> str:
        if not token:
            return "missing-input-response"
        if token in self.used:
            return "timeout-or-duplicate"
        if token not in self.issued:
            return "invalid-input-response"
        self.used.add(token)
        return ""

    async def turnstile(self, request: web.Request) -> web.Response:
        # https://developers.cloudflare.com/turnstile/get-started/server-side-validation/
        # form-encoded or JSON; {"success": bool, "error-codes": [...]}, always JSON.
        if request.content_type == "application/json":
            data = await request.json()
        else:
            data = dict(await request.post())
        self.requests.append({"vendor": "turnstile", **data})
        if data.get("secret") != "ts-secret":
            return web.json_response({"success": False, "error-codes": ["invalid-input-secret"]})
        error = self._check(str(data.get("response", "")))
        if error:
            return web.json_response({"success": False, "error-codes": [error]})
        return web.json_response({"success": True, "error-codes": [], "hostname": "example.com",
                                  "challenge_ts": "2026-12-07T04:00:00.000Z"})

    async def hcaptcha(self, request: web.Request) -> web.Response:
        # https://docs.hcaptcha.com/#verify-the-user-response-server-side: form-encoded only.
        data = dict(await request.post())
        self.requests.append({"vendor": "hcaptcha", **data})
        if data.get("secret") != "0xhc-secret":
            return web.json_response({"success": False, "error-codes": ["invalid-input-secret"]})
        if data.get("sitekey") not in (None, "hc-site"):
            return web.json_response({"success": False, "error-codes": ["sitekey-secret-mismatch"]})
        error = self._check(str(data.get("response", "")))
        if error:
            return web.json_response({"success": False, "error-codes": [error]})
        return web.json_response({"success": True, "challenge_ts": "2026-12-07T04:00:00Z", "hostname": "example.com"})

    async def friendly(self, request: web.Request) -> web.Response:
        # https://developer.friendlycaptcha.com/docs/v2/getting-started/verify: JSON, X-API-Key;
        # 401 for a missing or wrong key; 200 {"success": false, "error": {...}} for a bad response.
        data = await request.json()
        self.requests.append({"vendor": "friendly", "key": request.headers.get("X-API-Key"), **data})
        if request.headers.get("X-API-Key") != "frc-api-key":
            return web.json_response(
                {"success": False, "error": {"error_code": "auth_invalid", "detail": "invalid API key"}}, status=401
            )
        error = self._check(str(data.get("response", "")))
        if error:
            code = "response_duplicate" if error == "timeout-or-duplicate" else "response_invalid"
            return web.json_response({"success": False, "error": {"error_code": code, "detail": error}})
        return web.json_response({"success": True, "data": {"challenge": {"timestamp": "2026-12-07T04:00:00Z",
                                                                           "origin": "https://example.com"}}})

    async def broken(self, request: web.Request) -> web.Response:
        return web.Response(status=502, text="<html>Bad gateway</html>")

    def app(self) -> web.Application:
        """The fake vendors on one local server."""
        app = web.Application()
        app.router.add_post("/turnstile/v0/siteverify", self.turnstile)
        app.router.add_post("/siteverify", self.hcaptcha)
        app.router.add_post("/api/v2/captcha/siteverify", self.friendly)
        app.router.add_post("/broken", self.broken)
        return app


@pytest.fixture(scope="module")
async def vendors() -> AsyncIterator[tuple[FakeCaptchaVendors, str]]:
    """The fake captcha vendors, listening on loopback."""
    fake = FakeCaptchaVendors()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture(scope="module")
async def gw(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory, vendors: tuple[FakeCaptchaVendors, str]
) -> AsyncIterator[Gateway]:
    """A gateway behind a trusted proxy on loopback, with form sources of every flavour."""
    settings = make_settings(
        tmp_path_factory.mktemp("sec"), broker.bootstrap_servers, env={"FRC_KEY": "frc-api-key"},
        server={"trusted_proxies": ["127.0.0.1/32"]}, sources=sources(vendors[1]),
    )
    g = await harness.start_gateway(settings, broker.bootstrap_servers)
    yield g
    await harness.stop_gateway(g)


async def post_form(gw: Gateway, source: str, fields: dict[str, str], **headers: str) -> tuple[int, Any]:
    """A browser-less form post (JSON answers)."""
    async with gw.http.post(gw.url(source), data=io.BytesIO(urlencode(fields).encode()), headers={
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json", **headers,
    }) as r:
        text = await r.text()
        try:
            return r.status, json.loads(text)
        except ValueError:
            return r.status, text


# --- per-client rate limits -------------------------------------------------------------------


async def test_one_flooding_client_does_not_lock_out_the_next_genuine_one(gw: Gateway) -> None:
    flooder = {"X-Forwarded-For": "203.0.113.9"}
    answers = [(await post_form(gw, "door", {"email": f"flood{i}@example.com"}, **flooder))[0] for i in range(35)]
    # The flooder gets its own allowance (20 a minute on an unsigned source), then 429s...
    assert answers[:20] == [202] * 20 and set(answers[20:]) == {429}
    # ...and a real customer from elsewhere still gets through (the source takes 30 a minute).
    marker = f"genuine-{unique()}@example.com"
    status, body = await post_form(gw, "door", {"email": marker}, **{"X-Forwarded-For": "198.51.100.4"})
    assert status == 202, body
    await wait_for(lambda: gw.published(marker))


async def test_x_forwarded_for_counts_only_from_a_trusted_proxy() -> None:
    settings = parse_settings('[server]\ntrusted_proxies = ["10.0.0.0/8", "::1"]', env={})
    from services.common.appkeys import SETTINGS

    app = web.Application()
    app[SETTINGS] = settings

    def request(peer: str, **headers: str) -> web.Request:
        transport = _Transport(peer)
        return make_mocked_request("POST", "/hooks/x", headers=headers, app=app, transport=transport)

    # A client behind two of our proxies; whatever it wrote itself (the leftmost) is ignored.
    assert client_address(request("10.1.1.1", **{"X-Forwarded-For": "6.6.6.6, 203.0.113.7, 10.2.2.2"})) == "203.0.113.7"
    # From a peer that is not a trusted proxy the header is the client's own claim: ignored.
    assert client_address(request("198.51.100.1", **{"X-Forwarded-For": "1.2.3.4"})) == "198.51.100.1"
    assert client_address(request("10.1.1.1", **{"X-Forwarded-For": "not-an-ip, 203.0.113.7"})) == "203.0.113.7"
    assert client_address(request("10.1.1.1")) == "10.1.1.1"
    assert is_https(request("10.1.1.1", **{"X-Forwarded-Proto": "https"}))
    assert not is_https(request("198.51.100.1", **{"X-Forwarded-Proto": "https"}))
    # An IPv4 client on a dual-stack socket is the same client as over IPv4, asked once or often.
    for _ in range(2):
        assert client_address(request("::ffff:198.51.100.1")) == "198.51.100.1"
        assert client_address(request("::ffff:10.1.1.1", **{"X-Forwarded-For": "203.0.113.7"})) == "203.0.113.7"
        assert client_address(request("unknown-peer")) == "unknown-peer"
    # A hop too long to be an address is garbage, like any other, and is not kept in the cache.
    from services.common.clientaddr import _parsed_ip

    cached = _parsed_ip.cache_info().currsize
    assert client_address(request("10.1.1.1", **{"X-Forwarded-For": "203.0.113.7, " + "1" * 5000})) == "10.1.1.1"
    assert _parsed_ip.cache_info().currsize == cached


class _Transport:
    """Just enough of a transport for `request.remote`."""

    def __init__(self, peer: str) -> None:
        self.peer = peer

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return (self.peer, 40000) if name == "peername" else default

    def is_closing(self) -> bool:
        return False


def test_a_bad_trusted_proxy_is_a_config_error_naming_it() -> None:
    from services.common.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        parse_settings('[server]\ntrusted_proxies = ["10.0.0.0/8", "proxy.internal"]', env={})
    assert err.value.path == "server.trusted_proxies[1]"


def test_client_buckets_stay_bounded() -> None:
    from services.common.ratelimit import PerClient, TokenBucket

    buckets = PerClient(lambda: TokenBucket(1), max_clients=100)
    for i in range(10_000):
        buckets.take(f"10.0.{i // 256}.{i % 256}")
    assert len(buckets) == 100
    assert buckets.take("10.0.39.15") > 0  # a recent client is still remembered


# --- Idempotency-Key on an unsigned source -----------------------------------------------------


async def test_a_guessed_idempotency_key_cannot_drop_a_genuine_submission(gw: Gateway) -> None:
    key = "order-form-1"  # a key a site's script would plausibly use
    attacker = f"attacker-{unique()}@example.com"
    genuine = f"genuine-{unique()}@example.com"
    status, _ = await post_form(gw, "website", {"email": attacker}, **{"Idempotency-Key": key})
    assert status == 202
    status, body = await post_form(gw, "website", {"email": genuine}, **{"Idempotency-Key": key})
    assert (status, body["status"]) == (202, "accepted")
    await wait_for(lambda: gw.published(genuine))
    # The genuine client's own resend is still recognised.
    status, body = await post_form(gw, "website", {"email": genuine}, **{"Idempotency-Key": key})
    assert (status, body["status"]) == (200, "duplicate")


# --- captcha ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "field"), [
    ("turnstile", "cf-turnstile-response"), ("hcaptcha", "h-captcha-response"), ("friendly", "frc-captcha-response"),
])
async def test_a_solved_captcha_passes_once_and_a_forged_one_publishes_nothing(
    gw: Gateway, vendors: tuple[FakeCaptchaVendors, str], source: str, field: str
) -> None:
    fake, _ = vendors
    token = fake.issue()
    good = f"human-{unique()}@example.com"
    status, body = await post_form(gw, source, {"email": good, field: token}, **{"X-Forwarded-For": "192.0.2.44"})
    assert status == 202, body
    [raw] = await wait_for(lambda: gw.published(good))
    event = decode_event(raw)
    assert field not in event.data.fields  # the token is not contact data
    sent = fake.requests[-1]
    assert sent.get("response") == token
    if source != "friendly":
        assert sent["remoteip"] == "192.0.2.44"  # the client behind the trusted proxy
    # A replayed token, a made-up one, and none at all: 403 naming the field, nothing published.
    bots = []
    for value in (token, "0.forged", ""):
        bot = f"bot-{unique()}@example.com"
        bots.append(bot)
        status, problem = await post_form(gw, source, {"email": bot, field: value})
        assert (status, problem["reason"]) == (403, "captcha_failed"), problem
        assert problem["errors"][0]["path"] == f"$.{field}"
    await gw.assert_nothing_published(*bots)


async def test_a_captcha_vendor_that_does_not_answer_fails_closed_with_503(
    gw: Gateway, vendors: tuple[FakeCaptchaVendors, str]
) -> None:
    fake, _ = vendors
    marker = f"while-down-{unique()}@example.com"
    status, problem = await post_form(gw, "down", {"email": marker, "cf-turnstile-response": fake.issue()})
    assert (status, problem["reason"]) == (503, "captcha_unavailable")
    assert gw.outcome_count("down", "captcha_unavailable") == 1
    await gw.assert_nothing_published(marker)


def test_a_captcha_without_a_secret_is_a_config_error() -> None:
    from services.common.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        parse_settings('[sources.w]\nkind = "form"\ncaptcha = { provider = "recaptcha", secret = "x" }', env={})
    assert err.value.path.startswith("sources.w") and "recaptcha" in err.value.message
    with pytest.raises(ConfigError) as err:
        parse_settings('[sources.w]\nkind = "form"\ncaptcha = { provider = "hcaptcha", secret_env = "NOPE" }', env={})
    assert err.value.path == "sources.w.captcha.secret_env"


# --- a form too big for Kafka ----------------------------------------------------------------


async def test_a_form_over_kafkas_record_limit_is_413_not_a_retryable_503(gw: Gateway) -> None:
    marker = f"huge-{unique()}@example.com"
    fields = {"email": marker, **{f"f{i}": "x" * 8 for i in range(100_000)}}
    body = urlencode(fields)
    assert len(body) < 2 * 1024 * 1024  # within the source's body limit
    status, problem = await post_form(gw, "big", fields)
    assert (status, problem["reason"]) == (413, "payload_too_large"), problem
    assert "record limit" in problem["detail"]
    await gw.assert_nothing_published(marker)


def test_the_default_body_limit_is_below_kafkas_record_limit() -> None:
    assert SourceConfig(kind="form").max_body_bytes < KafkaConfig().max_record_bytes < 1048588


# --- counting what really happened ----------------------------------------------------------


async def test_an_aborted_request_is_counted_aborted_not_accepted(gw: Gateway) -> None:
    accepted = gw.outcome_count("website", "accepted")
    aborted = gw.outcome_count("website", "aborted")
    port = gw.runtime.port
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /hooks/website HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 5000\r\n\r\nemail=half"
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    await wait_for(lambda: gw.outcome_count("website", "aborted") == aborted + 1)
    assert gw.outcome_count("website", "accepted") == accepted


# --- the HTML error page ---------------------------------------------------------------------


async def test_field_names_on_the_html_error_page_are_escaped(gw: Gateway) -> None:
    body = json.dumps({"email": "a@example.com", "<img src=x onerror=alert(1)>": {"x": 1}})
    async with gw.http.post(gw.url("website"), data=body, headers={
        "Content-Type": "application/json", "Accept": "text/html",
    }) as r:
        page = await r.text()
        assert r.status == 422
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_trusted_proxies_can_come_from_the_environment() -> None:
    settings = parse_settings("", env={"HANDOVER_SERVER_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1"})
    assert settings.server.trusted_proxies == ["10.0.0.0/8", "192.0.2.1"]
    assert parse_settings("", env={}).server.trusted_proxies == ["127.0.0.1", "::1"]  # a proxy on this host


async def test_a_500_is_counted_as_an_error_for_the_5xx_alert(gw: Gateway) -> None:
    from services.gateway.app import SOURCES
    from services.gateway.sources.form import FormSource

    class Broken(FormSource):
        """A source whose mapping has a bug."""

        def parse(self, inbound, event_id):  # type: ignore[no-untyped-def]
            raise RuntimeError("a bug in a source's mapping")

    assert gw.runtime.runner is not None
    sources = gw.runtime.runner.app[SOURCES]
    original = sources["door"]
    sources["door"] = Broken(original.spec)
    accepted = gw.outcome_count("door", "accepted")
    try:
        status, _ = await post_form(gw, "door", {"email": "bug@example.com"}, **{"X-Forwarded-For": "192.0.2.200"})
    finally:
        sources["door"] = original
    assert status == 500
    assert gw.outcome_count("door", "error") == 1
    assert gw.outcome_count("door", "accepted") == accepted
    alerts = (Path(__file__).parents[2] / "deploy" / "prometheus" / "alerts.yml").read_text()
    assert "|error" in alerts  # HandoverGateway5xx counts it


async def test_the_openapi_document_names_the_new_answers(gw: Gateway) -> None:
    async with gw.http.get(f"{gw.runtime.base_url}/openapi.json") as r:
        doc = await r.json()
    post = doc["paths"]["/hooks/turnstile"]["post"]["responses"]
    assert {"403", "408", "413", "429", "503"} <= set(post)
    assert "403" not in doc["paths"]["/hooks/website"]["post"]["responses"]  # no captcha there
