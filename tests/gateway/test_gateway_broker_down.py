"""When Kafka does not acknowledge, the gateway answers 503 with Retry-After (never a 2xx), keeps
running, and publishes again once the broker is back, even on a broker that lost its topics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas import decode_event
from services.common.embedded_broker import EmbeddedBroker
from tests.conftest import TopicWatcher, wait_for
from tests.gateway import harness
from tests.gateway.harness import signed_headers, unique
from tests.gateway.signing import fixture

pytestmark = pytest.mark.integration  # its own broker, stopped and restarted


def order(marker: str) -> bytes:
    """A Shopify order sample carrying `marker` in its note, as an order of its own (the signed
    body's order id and version name the delivery)."""
    doc = json.loads(fixture("shopify/orders_create.json"))
    doc["note"] = marker
    doc["updated_at"] = marker
    return json.dumps(doc).encode()


async def test_no_ack_is_a_503_with_retry_after_and_publishing_resumes_after_a_restart(tmp_path: Path) -> None:
    # A broker of its own: stopping the session broker would break every other test.
    kafka = EmbeddedBroker(log_path=tmp_path / "tansu.log")
    await kafka.astart()
    settings = harness.gateway_settings(str(tmp_path), kafka.bootstrap_servers, publish_timeout_s=1.0)
    gw = await harness.start_gateway(settings, kafka.bootstrap_servers)
    restarted: EmbeddedBroker | None = None
    try:
        first = unique()
        body = order(first)
        status, _, answer = await gw.post("shop", body, signed_headers("shop", body, unique()))
        assert status == 202, answer
        await wait_for(lambda: gw.published(first))
        await gw.watcher.stop()

        await kafka.astop()
        lost = unique()
        body = order(lost)
        delivery = unique()
        for _ in range(3):  # the vendor retries: every attempt is a 503, never a 2xx
            status, headers, problem = await gw.post("shop", body, signed_headers("shop", body, delivery))
            assert status == 503
            assert headers["Content-Type"].startswith("application/problem+json")
            assert int(headers["Retry-After"]) >= 1
            assert problem["reason"] == "broker_unavailable" and problem["status"] == 503
        assert gw.outcome_count("shop", "broker_unavailable") == 3
        async with gw.http.get(f"{gw.runtime.base_url}/healthz") as r:
            assert r.status == 200  # the process is still serving

        # The same broker comes back on the same port, empty (memory storage keeps no topics).
        restarted = EmbeddedBroker(port=kafka.port, log_path=tmp_path / "tansu2.log")
        await restarted.astart()

        async def retried_until_accepted() -> bool:
            status, _, _ = await gw.post("shop", body, signed_headers("shop", body, delivery))
            assert status in (202, 503)  # 503 while the producer reconnects, then accepted
            return status == 202

        await wait_for(retried_until_accepted, timeout=30, interval=0.2)
        # The vendor's next retry of that delivery is a duplicate: it was accepted exactly once.
        status, _, answer = await gw.post("shop", body, signed_headers("shop", body, delivery))
        assert (status, answer["status"]) == (200, "duplicate")

        watcher = TopicWatcher(restarted.bootstrap_servers, ["handover.events.order.created"])
        await watcher.start()
        try:
            assert watcher.consumer is not None
            watcher.started_ms = 0  # the whole log, including what came before the watcher
            await watcher.consumer.seek_to_beginning()
            raw = await wait_for(lambda: [v for v in watcher.values() if lost.encode() in v])
            # The accepted event is on the new broker. A send that timed out (answered 503) may
            # still reach Kafka later from the producer's queue: at-least-once, so every copy
            # carries the same deterministic event id and consumers dedupe by it.
            assert {decode_event(v).id for v in raw} == set(answer["event_ids"])
            assert decode_event(raw[0]).data.note == lost  # type: ignore[union-attr]
        finally:
            await watcher.stop()
    finally:
        await gw.http.close()
        await gw.runtime.stop()
        if restarted is not None:
            await restarted.astop()
        await kafka.astop()


async def test_a_broker_down_at_answer_time_never_redirects_a_browser(tmp_path: Path) -> None:
    """A browser posting a form while Kafka is down gets the 503 page, not the thank-you page."""
    kafka = EmbeddedBroker(log_path=tmp_path / "tansu.log")
    await kafka.astart()
    settings = harness.gateway_settings(str(tmp_path), kafka.bootstrap_servers, publish_timeout_s=0.5)
    gw = await harness.start_gateway(settings, kafka.bootstrap_servers)
    try:
        await gw.watcher.stop()
        await kafka.astop()
        async with gw.http.post(
            gw.url("website"),
            data={"email": "a@example.com"},
            allow_redirects=False,
            headers={"Accept": "text/html"},
        ) as r:
            assert r.status == 503
            assert "Retry-After" in r.headers
    finally:
        await gw.http.close()
        await gw.runtime.stop()
        await kafka.astop()
