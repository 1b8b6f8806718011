"""The embedded broker under supervision: a dead broker is noticed, the gateway says 503 with
Retry-After meanwhile, /readyz and /healthz tell the truth, and Handover carries on once a new
broker is up (or says it cannot, and still stops promptly)."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import aiohttp
import pytest

from services.common.config import Settings
from services.common.embedded_broker import broker_binary
from services.runtime import Runtime
from tests.config import QUICK_REBALANCE, Table, action, flow, make_settings
from tests.conftest import wait_for

pytestmark = pytest.mark.integration  # its own brokers, killed and replaced


def _settings(tmp_path: Path, kafka: Table | None = None, api: str = "", sync: Table | None = None) -> Settings:
    """Handover on its embedded broker: website forms to a CRM file (and, with `api`, to that HTTP API too)."""
    return make_settings(
        tmp_path, kafka={**QUICK_REBALANCE, "publish_timeout_s": 2.0, **(kafka or {})}, web={"admin_password": "pw"},
        sync=sync, sources={"website": {"kind": "form"}},
        targets={"crm": {"kind": "file"}, **({"api": {"kind": "http", "url": api}} if api else {})},
        flows=[flow("Contact to CRM", "contact.submitted", action("crm", "upsert_contact"),
                    *([action("api", "send")] if api else []))],
    )


def _gated_broker(tmp_path: Path, gate: Path) -> Path:
    """A broker binary that starts only once `gate` exists (so the test can look at the gap)."""
    script = tmp_path / "gated-tansu"
    script.write_text(f'#!/bin/sh\nwhile [ ! -e "{gate}" ]; do sleep 0.05; done\nexec "{broker_binary()}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


async def _form(http: aiohttp.ClientSession, url: str, email: str) -> aiohttp.ClientResponse:
    async with http.post(f"{url}/hooks/website", json={"email": email, "name": "Ann"}) as r:
        await r.read()
        return r


def _outbox(tmp_path: Path) -> list[str]:
    """The e-mail address of every contact delivered to the CRM outbox."""
    path = tmp_path / "outbox" / "crm.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line)["event"]["data"]["contact"]["email"] for line in lines]


async def test_a_dead_broker_is_replaced_and_the_truth_is_told_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = Runtime(_settings(tmp_path))
    await runtime.start()
    try:
        assert runtime.broker is not None and runtime.sync is not None
        await runtime.sync.wait_assigned()
        async with aiohttp.ClientSession() as http:
            url = runtime.base_url
            assert (await _form(http, url, "before@example.com")).status == 202
            await wait_for(lambda: "before@example.com" in _outbox(tmp_path))

            gate = tmp_path / "gate"
            monkeypatch.setenv("HANDOVER_TANSU_BIN", str(_gated_broker(tmp_path, gate)))
            old = runtime.broker.process
            assert old is not None
            old.kill()

            async def readyz() -> tuple[int, dict[str, object]]:
                async with http.get(f"{url}/readyz") as r:
                    return r.status, await r.json()

            async def noticed() -> bool:
                code, body = await readyz()
                return code == 503 and any("restarting" in p for p in body["problems"])  # type: ignore[union-attr]

            await wait_for(noticed, timeout=10)
            refused = await _form(http, url, "during@example.com")
            assert refused.status == 503 and refused.headers["Retry-After"].isdigit()
            async with http.get(f"{url}/healthz") as r:
                assert r.status == 200  # recovering: alive, not ready
            gate.touch()

            async def ready() -> bool:
                return (await readyz())[0] == 200

            await wait_for(ready, timeout=30)
            assert runtime.broker.process is not old and runtime.broker.exit_code() is None
            assert runtime.metrics.registry.get_sample_value(
                "handover_embedded_broker_restarts_total", {"reason": "crash"}) == 1
            # The vendor's retry now goes through, and is delivered by the same running Handover.
            assert (await _form(http, url, "during@example.com")).status == 202
            await wait_for(lambda: "during@example.com" in _outbox(tmp_path), timeout=40)
            assert _outbox(tmp_path).count("before@example.com") == 1
    finally:
        await runtime.stop()


async def test_a_broker_that_cannot_come_back_fails_healthz_and_the_stop_is_still_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = Runtime(_settings(tmp_path), restart_attempts=2)
    await runtime.start()
    stopped = False
    try:
        assert runtime.broker is not None and runtime.broker.process is not None
        broken = tmp_path / "broken-tansu"
        broken.write_text("#!/bin/sh\nexit 3\n")
        broken.chmod(0o755)
        monkeypatch.setenv("HANDOVER_TANSU_BIN", str(broken))
        runtime.broker.process.kill()
        async with aiohttp.ClientSession() as http:

            async def failing() -> dict[str, object] | None:
                async with http.get(f"{runtime.base_url}/healthz") as r:
                    return await r.json() if r.status == 503 else None

            body = await wait_for(failing, timeout=30)
            assert "could not be started again" in str(body["problems"])
        loop = asyncio.get_running_loop()
        began = loop.time()
        await runtime.stop()
        stopped = True
        assert loop.time() - began < runtime.settings.sync.delivery_timeout_s + 30
        assert not (tmp_path / "embedded-broker").exists()
    finally:
        if not stopped:
            await runtime.stop()


async def test_idle_consumers_stop_fetching_and_the_next_webhook_wakes_them(tmp_path: Path) -> None:
    """An idle `handover run` stops polling its broker (CPU at both ends), yet the next webhook is
    delivered at once: with a poll interval of an hour, only the publisher's doorbell can wake them."""
    runtime = Runtime(_settings(tmp_path, kafka={"idle_fetch_poll_s": 3600}))
    await runtime.start()
    try:
        assert runtime.sync is not None and runtime.recorder is not None
        await runtime.sync.wait_assigned()
        consumers = [w.consumer for w in runtime.sync.workers] + [runtime.recorder.consumer]
        await wait_for(lambda: all(c.assignment() and c.paused() == c.assignment() for c in consumers), timeout=30)
        async with aiohttp.ClientSession() as http:
            assert (await _form(http, runtime.base_url, "wake@example.com")).status == 202
        await wait_for(lambda: "wake@example.com" in _outbox(tmp_path), timeout=20)
        assert runtime.ledger is not None
        await wait_for(lambda: runtime.ledger.search("wake@example.com"), timeout=20)  # the recorder woke too
    finally:
        await runtime.stop()


async def test_a_rotated_broker_carries_on_with_nothing_lost_or_repeated(tmp_path: Path) -> None:
    """Replacing the embedded broker with a fresh one (its memory bound) re-drives what is
    unfinished: an action waiting for a target that is down is delivered once it is back."""
    from aiohttp import web

    from services.common.embedded_broker import free_port

    up = asyncio.Event()
    calls: list[str] = []

    async def crm(request: web.Request) -> web.Response:
        if not up.is_set():
            return web.json_response({"message": "down for maintenance"}, status=503)
        calls.append(request.headers["Idempotency-Key"])
        return web.json_response({"id": "c-1"}, status=201)

    app = web.Application()
    app.router.add_post("/contacts", crm)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    settings = _settings(
        tmp_path, kafka={"embedded_max_rss_mb": 1}, api=f"http://127.0.0.1:{port}/contacts",
        sync={"backoff_initial_s": 0.05, "backoff_max_s": 0.2, "max_attempts": 1000, "breaker_threshold": 1000000},
    )
    # The supervisor would rotate a 1 MB broker every few seconds: the test rotates it itself, once.
    runtime = Runtime(settings, rotation_check_s=3600)
    await runtime.start()
    try:
        assert runtime.sync is not None and runtime.broker is not None and runtime.ledger is not None
        await runtime.sync.wait_assigned()
        async with aiohttp.ClientSession() as http:
            for i in range(5):
                assert (await _form(http, runtime.base_url, f"r{i}@example.com")).status == 202
        await wait_for(lambda: len(_outbox(tmp_path)) == 5, timeout=30)
        assert runtime.rotation_due()  # 1 MB: far past it
        old = runtime.broker.process
        await runtime.rotate_broker()
        assert runtime.broker.process is not old
        assert runtime.metrics.registry.get_sample_value(
            "handover_embedded_broker_restarts_total", {"reason": "rotation"}) == 1
        assert runtime.metrics.registry.get_sample_value("handover_journal_redriven_total") == 5
        up.set()
        await wait_for(lambda: len(calls) == 5, timeout=60)
        async with aiohttp.ClientSession() as http:
            assert (await _form(http, runtime.base_url, "after@example.com")).status == 202
        await wait_for(lambda: "after@example.com" in _outbox(tmp_path) and len(calls) == 6, timeout=60)
        assert sorted(_outbox(tmp_path)) == sorted([f"r{i}@example.com" for i in range(5)] + ["after@example.com"])
        assert len(set(calls)) == len(calls)  # the target saw each action once
    finally:
        await runtime.stop()
        await runner.cleanup()


class _SizedBroker:
    """Stands in for the embedded broker where only its size is asked."""

    def __init__(self, rss: int) -> None:
        self.rss = rss

    def rss_bytes(self) -> int:
        """The resident size the test says."""
        return self.rss


def test_a_broker_holding_mostly_the_backlog_it_was_given_is_not_rotated_again(tmp_path: Path) -> None:
    mib = 1024 * 1024
    runtime = Runtime(_settings(tmp_path, kafka={"embedded_max_rss_mb": 100}))
    broker = _SizedBroker(150 * mib)
    runtime.broker, runtime.journal = broker, object()  # type: ignore[assignment]
    assert runtime.rotation_due()  # came up empty: 150 MiB is past the limit and its quarter
    runtime.broker_floor = 140 * mib  # a target down for days: the re-drive alone filled it to 140
    assert not runtime.rotation_due()  # a fresh broker would hold the same again
    broker.rss = 189 * mib
    assert not runtime.rotation_due()
    broker.rss = 190 * mib  # grown by half the limit since: rotating frees that much
    assert runtime.rotation_due()
