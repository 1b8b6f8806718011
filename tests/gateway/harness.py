"""A running gateway-only Handover with one source of every kind, and vendor-signed requests."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from schemas import EVENT_TYPES
from schemas.topics import event_topic
from services.common.config import Settings
from services.runtime import Parts, Runtime
from tests.config import make_settings
from tests.conftest import TopicWatcher, wait_for
from tests.gateway import signing

STANDARD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the spec's test-vector secret
SECRETS = {
    "shop": "shpss_http_secret",
    "woo": "wc-secret-&-more",
    "stripe": "whsec_http_secret",
    "tf": "typeform-secret",
    "tally": "tally-secret",
    "wf": "webflow-secret",
    "std": STANDARD_SECRET,
    "small": "shpss_small",
    "limited": "shpss_limited",
}
KIND_OF = {
    "shop": "shopify",
    "woo": "woocommerce",
    "stripe": "stripe",
    "tf": "typeform",
    "tally": "tally",
    "wf": "webflow",
    "std": "standard",
    "website": "form",
    "small": "shopify",
    "limited": "shopify",
}

SOURCES: dict[str, dict[str, Any]] = {
    **{name: {"kind": KIND_OF[name], "secret": secret} for name, secret in SECRETS.items()},
    "website": {"kind": "form", "max_body_bytes": 8192,
                "client_rate_limit_per_minute": 0},  # every test posts from 127.0.0.1
    "small": {"kind": "shopify", "secret": SECRETS["small"], "max_body_bytes": 2048},
    "limited": {"kind": "shopify", "secret": SECRETS["limited"], "rate_limit_per_minute": 3},
}


def gateway_settings(data_dir: str, bootstrap: str, publish_timeout_s: float = 5.0) -> Settings:
    """The test config with every source kind, against `bootstrap`."""
    return make_settings(data_dir, bootstrap, kafka={"publish_timeout_s": publish_timeout_s}, sources=SOURCES)


def unique() -> str:
    """A fresh marker for delivery ids and bodies."""
    return uuid.uuid4().hex


def signed_headers(
    source: str, body: bytes, delivery: str, secret: str = "", now: float | None = None, topic: str = ""
) -> dict[str, str]:
    """The headers `source`'s vendor sends with `body` (fresh timestamps; `delivery` as id)."""
    kind = KIND_OF[source]
    key = secret or SECRETS.get(source, "")
    t = int(now if now is not None else time.time())
    if kind == "shopify":
        return {
            "X-Shopify-Topic": topic or "orders/create",
            "X-Shopify-Webhook-Id": delivery,
            "X-Shopify-Event-Id": delivery,
            **signing.shopify(key, body),
        }
    if kind == "woocommerce":
        return {
            "X-WC-Webhook-Topic": topic or "order.created",
            "X-WC-Webhook-Delivery-ID": delivery,
            "X-WC-Webhook-ID": "3",
            **signing.woocommerce(key, body),
        }
    if kind == "stripe":
        return signing.stripe(key, body, t)
    if kind == "typeform":
        return signing.typeform(key, body)
    if kind == "tally":
        return signing.tally(key, body)
    if kind == "webflow":
        return signing.webflow(key, body, t * 1000)
    if kind == "standard":
        return signing.standard(key, delivery, t, body)
    return {"Idempotency-Key": delivery}


def with_delivery_id(source: str, body: bytes, delivery: str) -> bytes:
    """The body with its vendor delivery id replaced (kinds whose id travels in the body)."""
    kind = KIND_OF[source]
    doc = json.loads(body)
    if kind == "stripe":
        doc["id"] = delivery
    elif kind == "typeform":
        doc["event_id"] = delivery
    elif kind == "tally":
        doc["eventId"] = delivery
    elif kind == "webflow":
        doc["payload"]["id"] = delivery
    elif kind == "shopify":  # the signed body's resource version names a delivery too
        doc["updated_at"] = delivery
    elif kind == "woocommerce" and isinstance(doc, dict) and "id" in doc:
        doc["date_modified_gmt"] = delivery
    else:
        return body
    return json.dumps(doc, ensure_ascii=False).encode()


@dataclass
class Gateway:
    """A running gateway, an HTTP client and a watcher on every event topic."""

    runtime: Runtime
    http: aiohttp.ClientSession
    watcher: TopicWatcher
    canaries: list[str] = field(default_factory=list)

    def url(self, source: str) -> str:
        """The hook URL of a source."""
        return f"{self.runtime.base_url}/hooks/{source}"

    async def post(
        self, source: str, body: bytes, headers: dict[str, str], content_type: str | None = "application/json"
    ) -> tuple[int, dict[str, str], Any]:
        """POST raw bytes; (status, headers, decoded JSON body or text)."""
        hdrs = dict(headers)
        skip: list[str] = []
        if content_type is None:
            skip = ["Content-Type"]  # no header at all (aiohttp would add octet-stream)
        else:
            hdrs.setdefault("Content-Type", content_type)
        async with self.http.post(self.url(source), data=body, headers=hdrs, skip_auto_headers=skip) as r:
            text = await r.text()
            try:
                payload: Any = json.loads(text)
            except ValueError:
                payload = text
            return r.status, dict(r.headers), payload

    def published(self, marker: str) -> list[bytes]:
        """Published values containing `marker`."""
        m = marker.encode()
        return [v for v in self.watcher.values() if m in v]

    async def assert_nothing_published(self, *markers: str) -> None:
        """Prove no record holds any marker: publish a canary form after, wait until it is seen."""
        canary = f"canary-{unique()}@example.com"
        async with self.http.post(self.url("website"), data={"email": canary}) as r:
            assert r.status == 202, await r.text()
        await wait_for(lambda: self.published(canary))
        for marker in markers:
            assert self.published(marker) == [], marker

    def outcome_count(self, source: str, outcome: str) -> float:
        """handover_webhooks_received_total{source, outcome}."""
        value = self.runtime.metrics.registry.get_sample_value(
            "handover_webhooks_received_total", {"source": source, "outcome": outcome}
        )
        return value or 0.0


async def start_gateway(settings: Settings, bootstrap: str, **runtime_kw: Any) -> Gateway:
    """Start a gateway-only Runtime (no consumer group: fast) and watch every event topic."""
    runtime = Runtime(settings, Parts(gateway=True, web=False, sync=False, recorder=False), **runtime_kw)
    await runtime.start()
    watcher = TopicWatcher(bootstrap, [event_topic(t) for t in EVENT_TYPES])
    await watcher.start()
    return Gateway(runtime, aiohttp.ClientSession(), watcher)


async def stop_gateway(gw: Gateway) -> None:
    """Stop client, watcher and runtime."""
    await gw.http.close()
    await gw.watcher.stop()
    await gw.runtime.stop()


class ThreadedGateway:
    """A gateway-only Runtime on an event loop in a background thread."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ThreadedGateway:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.runtime.start(), self.loop).result(30)
        return self

    def __exit__(self, *exc: object) -> None:
        done: Future[Any] = asyncio.run_coroutine_threadsafe(self.runtime.stop(), self.loop)
        done.result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
