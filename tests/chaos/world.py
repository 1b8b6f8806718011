"""The chaos world: Handover as real subprocesses on its own broker, misbehaving HTTP targets,
vendor-like senders that retry, and a tap that reads back what Kafka holds."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import EVENT_TYPES, decode_event
from schemas.topics import deadletter_topic, event_topic, sync_group
from services.assembly import parse_settings
from services.common.config import Settings
from services.common.embedded_broker import free_port
from services.flows.compile import idempotency_key
from services.flows.context import event_context
from services.sync.errors import Permanent
from tests.chaos.checker import Answer, DeadLetterSeen, OffsetSnapshot, Published, Sent, TargetCall
from tests.config import QUICK_REBALANCE, action, config_toml, flow
from tests.conftest import wait_for
from tests.gateway import signing

REPO = Path(__file__).resolve().parents[2]
SECRETS = {"shop": "shpss_chaos", "woo": "wc-chaos-secret", "stripe": "whsec_chaos"}
TARGETS = ("alpha", "beta")

# The chaos runs' tables: quick retries and timeouts, and sources that never hold a sender back.
KAFKA = {**QUICK_REBALANCE, "publish_timeout_s": 2.0, "fetch_max_wait_ms": 20}
SYNC = {"backoff_initial_s": 0.05, "backoff_max_s": 1.0, "delivery_timeout_s": 1.0, "breaker_probe_s": 0.5,
        "max_attempts": 8, "concurrency": 32}
UNLIMITED = {"rate_limit_per_minute": 1_000_000}
SOURCES = {
    "shop": {"kind": "shopify", "secret": SECRETS["shop"], **UNLIMITED},
    "woo": {"kind": "woocommerce", "secret": SECRETS["woo"], **UNLIMITED},
    "stripe": {"kind": "stripe", "secret": SECRETS["stripe"], **UNLIMITED},
    "website": {"kind": "form", **UNLIMITED, "client_rate_limit_per_minute": 0},
}
FLOWS = [
    flow("orders", "order.created", action("alpha", "send")),
    flow("big orders", "order.created", action("beta", "send", name="big"), when="order.total >= 100"),
    flow("customers", "customer.created", action("alpha", "send")),
    flow("payments", "payment.received", action("beta", "send")),
    flow("contacts", "contact.submitted", action("alpha", "send"), action("beta", "send", name="copy")),
]


def chaos_config(data_dir: Path, bootstrap: str, port: int, alpha: str, beta: str,
                 fetch_max_wait_ms: int = 20, breaker_threshold: int = 5) -> str:
    """The chaos config: every event type to the `alpha` and `beta` targets (`bootstrap` empty: the
    embedded broker)."""
    return config_toml(
        data_dir, bootstrap, server={"port": port}, ledger={"url": f"sqlite:///{data_dir}/ledger.db"},
        logging={"level": "warning", "format": "json"}, kafka={**KAFKA, "fetch_max_wait_ms": fetch_max_wait_ms},
        sync={**SYNC, "breaker_threshold": breaker_threshold}, sources=SOURCES,
        targets={name: {"kind": "http", "url": url + "/effects/{{ event.type }}"}
                 for name, url in (("alpha", alpha), ("beta", beta))},
        flows=FLOWS,
    )


def write_config(path: Path, data_dir: Path, bootstrap: str, port: int, alpha: str, beta: str,
                 fetch_max_wait_ms: int = 20, breaker_threshold: int = 5) -> Settings:
    """Write the chaos config to `path` and return it parsed."""
    text = chaos_config(data_dir, bootstrap, port, alpha, beta, fetch_max_wait_ms, breaker_threshold)
    path.write_text(text)
    return parse_settings(text, env={})


# --- targets ------------------------------------------------------------------------------------


@dataclass
class Misbehaviour:
    """How often a target fails (fractions of calls) and how long a late answer takes."""

    error_500: float = 0.20
    throttle_429: float = 0.05
    late: float = 0.05  # commit the effect, then answer after the client gave up
    late_s: float = 1.6
    permanent_one_in: int = 60  # keys whose hash % this == 0 always get a 422 (dead-lettered)


class ChaosTarget:
    """A JSON API that applies each Idempotency-Key's effect once and records every request."""

    def __init__(self, name: str, rng: random.Random, misbehaviour: Misbehaviour | None = None,
                 prefix: str = "") -> None:
        self.name = name
        # A path of its own: a Handover left running by another test that happens to call this
        # (reused) port gets a 404 instead of counting as an effect here.
        self.prefix = prefix
        self.rng = rng
        self.mis = misbehaviour or Misbehaviour()
        self.calls: list[TargetCall] = []
        self.effects: dict[str, float] = {}  # key -> when its effect was applied
        self.arrivals: dict[str, float] = {}  # key -> first arrival (the benchmark's clock)
        self.port = free_port()
        self.runner: web.AppRunner | None = None
        self.site: web.TCPSite | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    async def start(self) -> None:
        """Listen on the port (again, after `down`)."""
        if self.runner is None:
            app = web.Application()
            app.router.add_post(self.prefix + "/effects/{kind}", self.receive)
            self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
            await self.runner.setup()
        self.site = web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True)
        await self.site.start()

    async def down(self) -> None:
        """Stop listening: connections are refused until `start`."""
        if self.site is not None:
            await self.site.stop()
            self.site = None

    async def close(self) -> None:
        """Stop for good."""
        if self.runner is not None:
            await self.runner.cleanup()

    def permanent(self, key: str) -> bool:
        """Keys this target always refuses (a validation error: the action is dead-lettered)."""
        n = self.mis.permanent_one_in
        return bool(n) and int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % n == 0

    async def receive(self, request: web.Request) -> web.Response:
        """Fail, throttle, or apply the effect once (possibly answering too late)."""
        key = request.headers.get("Idempotency-Key", "")
        await request.read()
        now = time.time()
        self.arrivals.setdefault(key, now)
        if self.permanent(key):
            self.calls.append(TargetCall(self.name, key, 422, False, now))
            return web.json_response({"message": "customer email is invalid"}, status=422)
        roll = self.rng.random()
        m = self.mis
        if roll < m.error_500:
            self.calls.append(TargetCall(self.name, key, 500, False, now))
            return web.json_response({"message": "internal error"}, status=500)
        if roll < m.error_500 + m.throttle_429:
            self.calls.append(TargetCall(self.name, key, 429, False, now))
            return web.json_response({"message": "slow down"}, status=429, headers={"Retry-After": "1"})
        effect = key not in self.effects
        if effect:
            self.effects[key] = now
        self.calls.append(TargetCall(self.name, key, 201 if effect else 200, effect, now))
        if roll < m.error_500 + m.throttle_429 + m.late:
            await asyncio.sleep(m.late_s)  # committed already; the client has timed out by now
        return web.json_response({"id": f"rec-{key}"}, status=201 if effect else 200)


# --- Handover processes -------------------------------------------------------------------------


class Proc:
    """One `handover <command>` subprocess that can be SIGKILLed and started again."""

    def __init__(self, command: str, config: Path, logs: Path) -> None:
        self.command = command
        self.config = config
        self.logs = logs
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0

    def start(self) -> None:
        """Start the process (its output goes to a log file beside the config)."""
        self.starts += 1
        out = open(self.logs / f"{self.command}-{self.starts}.log", "wb")
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", self.command, "--config", str(self.config)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=REPO,
        )
        out.close()

    def kill(self) -> None:
        """SIGKILL, for real: no drain, no commit, no goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def stop(self) -> None:
        """SIGTERM (a clean stop), SIGKILL if that takes too long."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def alive(self) -> bool:
        """Still running."""
        return self.process is not None and self.process.poll() is None

    def log_tail(self, n: int = 30) -> str:
        """The last lines of its latest log."""
        path = self.logs / f"{self.command}-{self.starts}.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return "\n".join(lines[-n:])


async def http_ready(url: str, within_s: float = 30.0) -> None:
    """Poll an HTTP URL until it answers 200."""
    async with aiohttp.ClientSession() as http:

        async def ok() -> bool:
            try:
                async with http.get(url, timeout=aiohttp.ClientTimeout(total=1)) as r:
                    return r.status == 200
            except (aiohttp.ClientError, TimeoutError):
                return False

        await wait_for(ok, timeout=within_s, interval=0.05)


# --- webhooks -----------------------------------------------------------------------------------


@dataclass
class Webhook:
    """One vendor delivery: where it goes, its body, and how to (re)sign it at send time."""

    sent: Sent
    path: str
    body: bytes
    content_type: str | None
    sign: Callable[[bytes], dict[str, str]]


def _fixture(path: str) -> dict[str, Any]:
    return json.loads(signing.fixture(path))


FIXTURES = {
    "shop_order": _fixture("shopify/orders_create.json"),
    "shop_customer": _fixture("shopify/customers_create.json"),
    "woo_order": _fixture("woocommerce/order_created.json"),
    "stripe_checkout": _fixture("stripe/checkout_session_completed.json"),
    "stripe_invoice": _fixture("stripe/invoice_paid.json"),
}


def make_webhook(rng: random.Random, n: int) -> Webhook:
    """A valid signed delivery of a random kind, with unique ids so it is a new business fact."""
    d = f"chaos-{n}-{uuid.uuid4().hex[:12]}"
    kind = rng.choice(["shop_order", "shop_order", "shop_customer", "woo_order", "stripe_checkout",
                       "stripe_invoice", "form"])
    if kind == "form":
        body = aiohttp.helpers.quote(f"person-{d}@example.com", safe="")
        raw = f"email={body}&name=Zo%C3%AB+{n}&message=Bel+me+%E2%98%8E".encode()
        return Webhook(Sent(d, "website"), "/hooks/website", raw, "application/x-www-form-urlencoded",
                       lambda b: {"Idempotency-Key": d})
    doc = json.loads(json.dumps(FIXTURES[kind]))
    uid = rng.randrange(10**12, 10**13)
    if kind == "shop_order":
        doc["id"], doc["name"], doc["order_number"] = uid, f"#C{n}", n
        doc["total_price"] = rng.choice(["404.95", "12.50", "99.99", "150.00"])
        raw = json.dumps(doc).encode()
        return Webhook(Sent(d, "shop"), "/hooks/shop", raw, "application/json", lambda b: {
            "X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": d, "X-Shopify-Event-Id": d,
            **signing.shopify(SECRETS["shop"], b)})
    if kind == "shop_customer":
        doc["id"], doc["email"] = uid, f"buyer-{d}@example.com"
        raw = json.dumps(doc).encode()
        return Webhook(Sent(d, "shop"), "/hooks/shop", raw, "application/json", lambda b: {
            "X-Shopify-Topic": "customers/create", "X-Shopify-Webhook-Id": d, "X-Shopify-Event-Id": d,
            **signing.shopify(SECRETS["shop"], b)})
    if kind == "woo_order":
        doc["id"], doc["number"] = uid, f"W{n}"
        raw = json.dumps(doc).encode()
        return Webhook(Sent(d, "woo"), "/hooks/woo", raw, "application/json", lambda b: {
            "X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Delivery-ID": d, "X-WC-Webhook-ID": "3",
            **signing.woocommerce(SECRETS["woo"], b)})
    doc["id"] = f"evt_{d.replace('-', '')}"
    obj = doc["data"]["object"]
    obj["id"] = f"{obj['id'].split('_')[0]}_{uid}"
    if "number" in obj:
        obj["number"] = f"S{n}"
    raw = json.dumps(doc).encode()
    return Webhook(Sent(d, "stripe"), "/hooks/stripe", raw, "application/json",
                   lambda b: signing.stripe(SECRETS["stripe"], b, int(time.time())))


DEEP_JSON_KINDS = (4, 6)  # deeply nested JSON (once a 500 from a RecursionError; now a 400)


def hostile_webhooks(n: int, kinds: tuple[int, ...] = tuple(range(8))) -> list[Webhook]:
    """Malformed and hostile requests of the given kinds; each must get a 4xx and publish nothing."""
    out: list[Webhook] = []
    for j in range(n):
        i = j // len(kinds) * 8 + kinds[j % len(kinds)]
        marker = f"HOSTILE-{i}-{uuid.uuid4().hex[:8]}"
        doc = json.loads(json.dumps(FIXTURES["shop_order"]))
        doc["id"], doc["note"] = 10**15 + i, marker
        good = json.dumps(doc).encode()
        d = f"hostile-{i}-{marker}"

        def shop(b: bytes, d: str = d) -> dict[str, str]:
            sig = signing.shopify(SECRETS["shop"], b)
            return {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": d, **sig}

        kind = i % 8
        if kind == 0:  # bad signature
            w = Webhook(Sent(d, "shop", False, marker), "/hooks/shop", good, "application/json",
                        lambda b, d=d: {**shop(b, d), **signing.shopify("wrong-secret", b)})
        elif kind == 1:  # truncated body, signed in full
            w = Webhook(Sent(d, "shop", False, marker), "/hooks/shop", good[: len(good) // 2], "application/json",
                        lambda b, d=d, good=good: shop(good, d))
        elif kind == 2:  # a huge body (over the 1 MiB limit), validly signed
            huge = json.dumps({**doc, "padding": "x" * (2 * 1024 * 1024)}).encode()
            w = Webhook(Sent(d, "shop", False, marker), "/hooks/shop", huge, "application/json", shop)
        elif kind == 3:  # wrong content type
            w = Webhook(Sent(d, "shop", False, marker), "/hooks/shop", good, "text/plain", shop)
        elif kind == 4:  # deeply nested JSON, validly signed
            deep = ("[" * 100_000 + f'"{marker}"' + "]" * 100_000).encode()
            w = Webhook(Sent(d, "shop", False, marker), "/hooks/shop", deep, "application/json", shop)
        elif kind == 5:  # invalid UTF-8, validly signed
            bad = good.replace(marker.encode(), marker.encode() + b"\xff\xfe\xc3(")
            w = Webhook(Sent(d, "shop", False, marker), "/hooks/shop", bad, "application/json", shop)
        elif kind == 6:  # a form of deeply nested JSON
            deep = ('{"a":' * 50_000 + f'"{marker}"' + "}" * 50_000).encode()
            w = Webhook(Sent(d, "website", False, marker), "/hooks/website", deep, "application/json",
                        lambda b, d=d: {"Idempotency-Key": d})
        else:  # a form in invalid UTF-8
            bad = b"email=" + marker.encode() + b"%40example.com&name=\xff\xfe"
            w = Webhook(Sent(d, "website", False, marker), "/hooks/website", bad,
                        "application/x-www-form-urlencoded; charset=utf-8", lambda b, d=d: {"Idempotency-Key": d})
        out.append(w)
    return out


class Sender:
    """Sends webhooks like vendors do: retry on connection errors, 5xx and 429, honouring
    Retry-After (capped, so the test stays short), until a 2xx/4xx or the deadline."""

    def __init__(self, base_url: str, retry_after_cap_s: float = 1.0, deadline_s: float = 120.0) -> None:
        self.base_url = base_url
        self.cap = retry_after_cap_s
        self.deadline_s = deadline_s
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self.webhooks: list[Webhook] = []

    async def close(self) -> None:
        """Close the client."""
        await self.http.close()

    async def once(self, w: Webhook) -> Answer:
        """One request; the answer is recorded on the webhook's Sent."""
        headers = dict(w.sign(w.body))
        skip = []
        if w.content_type is None:
            skip = ["Content-Type"]
        else:
            headers["Content-Type"] = w.content_type
        try:
            data = io.BytesIO(w.body) if len(w.body) > 512 * 1024 else w.body  # aiohttp warns on big bytes
            async with self.http.post(self.base_url + w.path, data=data, headers=headers,
                                      skip_auto_headers=skip, allow_redirects=False) as r:
                text = await r.text(errors="replace")
                try:
                    data = json.loads(text)
                except ValueError:
                    data = {}
                data = data if isinstance(data, dict) else {}
                answer = Answer(r.status, dict(r.headers), list(data.get("event_ids") or []),
                                str(data.get("reason", "")), time.time())
        except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
            answer = Answer(0, {}, [], type(exc).__name__, time.time())
        w.sent.answers.append(answer)
        return answer

    async def send(self, w: Webhook, retry: bool = True) -> None:
        """Send until it is answered for good (a vendor's retry loop)."""
        if w not in self.webhooks:
            self.webhooks.append(w)
        deadline = time.monotonic() + self.deadline_s
        delay = 0.05
        while True:
            a = await self.once(w)
            if not retry or (a.status and a.status < 500 and a.status != 429) or time.monotonic() > deadline:
                return
            if not w.sent.valid and a.status:
                return  # a hostile request is answered once the gateway is up; its 5xx is counted
            wait = delay
            if a.headers.get("Retry-After", "").isdigit():
                wait = min(self.cap, float(a.headers["Retry-After"]))
            await asyncio.sleep(wait)
            delay = min(1.0, delay * 2)

    def sent(self) -> list[Sent]:
        """Every logical webhook with its answers."""
        return [w.sent for w in self.webhooks]


# --- reading back what Kafka holds --------------------------------------------------------------


def expected_actions(settings: Settings) -> Callable[[Any], list[tuple[str, str]]]:
    """(target, idempotency key) of every action the flows ask of an event."""
    flows = list(settings.compiled_flows)

    def expected(event: Any) -> list[tuple[str, str]]:
        ctx = event_context(event)
        out = []
        for compiled in flows:
            if compiled.config.on != event.type:
                continue
            try:
                if not compiled.condition(ctx):
                    continue
            except Permanent:
                pass
            out += [(a.target, idempotency_key(event, compiled.name, a.key)) for a in compiled.actions]
        return out

    return expected


@dataclass
class Tap:
    """Reads every event and dead-letter topic from the beginning, and samples committed offsets."""

    settings: Settings
    published: list[Published] = field(default_factory=list)
    deadletters: list[DeadLetterSeen] = field(default_factory=list)
    snapshots: list[OffsetSnapshot] = field(default_factory=list)
    consumer: AIOKafkaConsumer | None = None
    groups: dict[str, AIOKafkaConsumer] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    tps: list[TopicPartition] = field(default_factory=list)

    async def start(self) -> None:
        """Assign every partition of the topics (they exist once the gateway started) and read."""
        kafka = self.settings.kafka
        self.expected = expected_actions(self.settings)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False,
                                         fetch_max_wait_ms=20, auto_offset_reset="earliest")
        await self.consumer.start()
        topics = [event_topic(t) for t in EVENT_TYPES]

        async def partitions() -> bool:
            await self.consumer._client.force_metadata_update()  # type: ignore[union-attr]
            return all(self.consumer.partitions_for_topic(t) for t in topics)  # type: ignore[union-attr]

        await wait_for(partitions, timeout=60, interval=0.2)
        # Dead-letter topics exist when Handover created them (a restarted broker has none yet).
        topics += [t for t in map(deadletter_topic, TARGETS) if self.consumer.partitions_for_topic(t)]
        self.tps = [TopicPartition(t, p) for t in topics for p in sorted(self.consumer.partitions_for_topic(t))]
        self.consumer.assign(self.tps)
        await self.consumer.seek_to_beginning(*self.tps)
        for target in TARGETS:
            g = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=sync_group(target),
                                 enable_auto_commit=False)
            await g.start()
            self.groups[target] = g
        self.tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._sample())]

    async def _read(self) -> None:
        assert self.consumer is not None
        while True:
            batch = await self.consumer.getmany(timeout_ms=100, max_records=5000)
            for tp, records in batch.items():
                for r in records:
                    if tp.topic.startswith("handover.deadletter."):
                        h = {k: v.decode("utf-8", "replace") for k, v in (r.headers or [])}
                        self.deadletters.append(DeadLetterSeen(
                            h.get("target", ""), h.get("idempotency-key", ""), h.get("event-id", ""),
                            f"{h.get('error-class', '')}: {h.get('error-message', '')}", r.timestamp / 1000))
                        continue
                    try:
                        event = decode_event(r.value or b"")
                    except (msgspec.DecodeError, msgspec.ValidationError):
                        self.published.append(Published(r.topic, r.partition, r.offset, "?", [], r.value or b""))
                        continue
                    self.published.append(Published(r.topic, r.partition, r.offset, event.id,
                                                    self.expected(event), r.value or b""))

    async def committed(self, target: str) -> dict[TopicPartition, int]:
        """The sync group's committed offset of every partition it has committed."""
        out = {}
        for tp in self.tps:
            if tp.topic.startswith("handover.events."):
                off = await self.groups[target].committed(tp)
                if off is not None:
                    out[tp] = off
        return out

    async def _sample(self) -> None:
        while True:
            for target in TARGETS:
                try:
                    offsets = await self.committed(target)
                except Exception:
                    continue
                at = time.time()
                self.snapshots += [
                    OffsetSnapshot(at, target, tp.topic, tp.partition, off) for tp, off in offsets.items()
                ]
            await asyncio.sleep(0.25)

    def pending(self, targets: dict[str, ChaosTarget]) -> int:
        """Expected actions that neither took effect nor were dead-lettered yet."""
        dead = {(d.target, d.key) for d in self.deadletters}
        return sum(
            1 for p in self.published for t, k in p.expected
            if k not in targets[t].effects and (t, k) not in dead
        )

    async def all_committed(self) -> bool:
        """Every sync group committed up to the end of every partition it reads."""
        assert self.consumer is not None
        for target in TARGETS:
            offsets = await self.committed(target)
            for tp in self.tps:
                if not tp.topic.startswith("handover.events."):
                    continue
                high = self.consumer.highwater(tp) or 0
                wanted = any(t == target for p in self.published if (p.topic, p.partition) == (tp.topic, tp.partition)
                             for t, _ in p.expected)
                if wanted and offsets.get(tp, 0) < high:
                    return False
        return True

    async def stop(self) -> None:
        """Stop reading and sampling."""
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for g in self.groups.values():
            await g.stop()
        if self.consumer is not None:
            await self.consumer.stop()
