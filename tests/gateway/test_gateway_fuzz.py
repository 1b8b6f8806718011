"""Fuzzing the gateway over real HTTP: whatever the body, headers and content type, never a 5xx
while the broker is up, and nothing unsigned ever reaches Kafka from a signed source."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import EVENT_TYPES, decode_event
from schemas.topics import event_topic
from services.common.embedded_broker import EmbeddedBroker
from services.runtime import Parts, Runtime
from tests.conftest import TopicWatcher
from tests.gateway import harness
from tests.gateway.harness import KIND_OF, ThreadedGateway, signed_headers, unique
from tests.gateway.signing import VENDOR_HEADERS, fixture

SIGNED = sorted(name for name, kind in KIND_OF.items() if kind != "form")
ALL = sorted(KIND_OF)
HEADER_NAMES = [*VENDOR_HEADERS, "Idempotency-Key", "Accept"]
CONTENT_TYPES = [
    None,
    "application/json",
    "application/json; charset=latin-1",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=xyz",
    "text/plain",
    "APPLICATION/JSON",
    'application/json; charset=utf-8; boundary="',
    "*/*",
    ";;;",
    "text/html",
]
SAMPLES = [
    fixture("shopify/orders_create.json"),
    fixture("woocommerce/order_created.json"),
    fixture("stripe/invoice_paid.json"),
    fixture("forms/typeform_form_response.json"),
    fixture("forms/tally_form_response.json"),
    fixture("forms/webflow_form_submission.json"),
    b"webhook_id=1",
    b"email=a%40example.com&name=Zo%C3%AB",
]
# Header values an HTTP client can send (latin-1, no CR/LF, no leading whitespace).
header_values = st.text(
    st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"), max_size=60
).filter(lambda v: not v[:1].isspace())
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from(SAMPLES),
    st.tuples(st.sampled_from(SAMPLES), st.integers(0, 2000), st.binary(max_size=5)).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]
    ),
)
headers = st.dictionaries(st.sampled_from(HEADER_NAMES), header_values, max_size=5)


class Fuzzed:
    """A gateway in a background thread, a blocking HTTP session, and a watcher of all events."""

    def __init__(self, gateway: ThreadedGateway, watcher: TopicWatcher) -> None:
        self.gateway = gateway
        self.watcher = watcher
        self.http = requests.Session()

    def post(self, source: str, body: bytes, hdrs: dict[str, str], content_type: str | None) -> requests.Response:
        """POST exactly these bytes and headers."""
        h = dict(hdrs)
        if content_type is not None:
            h["Content-Type"] = content_type
        req = requests.Request("POST", f"{self.gateway.runtime.base_url}/hooks/{source}", data=body, headers=h)
        prepared = self.http.prepare_request(req)
        if content_type is None:
            prepared.headers.pop("Content-Type", None)
        return self.http.send(prepared, timeout=30)

    def pause_watcher(self, paused: bool) -> None:
        """Stop (or resume) the watcher's fetching, keeping its positions. aiokafka's fetcher
        shuffles with the global `random` on every fetch, which Hypothesis rightly refuses
        while it draws examples; paused partitions are not fetched."""

        async def toggle() -> None:
            consumer = self.watcher.consumer
            assert consumer is not None
            tps = consumer.assignment()
            if paused:
                consumer.pause(*tps)
            else:
                consumer.resume(*tps)

        asyncio.run_coroutine_threadsafe(toggle(), self.gateway.loop).result(10)

    def sources_published(self) -> set[str]:
        """The `source` of every event published since the watcher started."""
        return {decode_event(v).source for v in self.watcher.values()}


@pytest.fixture(scope="module")
def fuzzed(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """One shared gateway for the module."""
    s = harness.gateway_settings(str(tmp_path_factory.mktemp("fuzz")), broker.bootstrap_servers)
    runtime = Runtime(s, Parts(gateway=True, web=False, sync=False, recorder=False))
    with ThreadedGateway(runtime) as gw:
        watcher = TopicWatcher(broker.bootstrap_servers, [event_topic(t) for t in EVENT_TYPES])
        asyncio.run_coroutine_threadsafe(watcher.start(), gw.loop).result(30)
        f = Fuzzed(gw, watcher)
        f.pause_watcher(True)
        yield f
        f.http.close()
        asyncio.run_coroutine_threadsafe(watcher.stop(), gw.loop).result(30)


def check_answer(r: requests.Response) -> None:
    """No 5xx at all while the broker is up; every 4xx is a problem with a reason."""
    assert r.status_code < 500, (r.status_code, r.text)
    if 400 <= r.status_code < 500 and r.headers.get("Content-Type", "").startswith("application/"):
        assert r.json()["reason"], r.text


def wait_for_canary(f: Fuzzed) -> None:
    """Publish a form and block until the watcher has it: everything published before is seen."""
    email = f"canary-{unique()}@example.com"
    r = f.post("website", f"email={email}".encode(), {}, "application/x-www-form-urlencoded")
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 30
    while not any(email.encode() in v for v in f.watcher.values()):
        assert time.monotonic() < deadline, "canary not seen"
        time.sleep(0.02)  # a blocking test thread: polling observable state, not synchronising


def test_unsigned_requests_never_publish_anything_from_a_signed_source(fuzzed: Fuzzed) -> None:
    statuses: list[int] = []

    @given(source=st.sampled_from(SIGNED), body=bodies, hdrs=headers, content_type=st.sampled_from(CONTENT_TYPES))
    @settings(max_examples=50 * len(SIGNED), deadline=None, suppress_health_check=list(HealthCheck))
    def unsigned(source: str, body: bytes, hdrs: dict[str, str], content_type: str | None) -> None:
        r = fuzzed.post(source, body, hdrs, content_type)
        check_answer(r)
        assert r.status_code != 202, r.text
        statuses.append(r.status_code)

    unsigned()
    fuzzed.pause_watcher(False)
    try:
        wait_for_canary(fuzzed)
        assert fuzzed.sources_published() <= {"website"}  # only canaries: no signed source published
    finally:
        fuzzed.pause_watcher(True)
    assert 401 in statuses and 415 in statuses  # the fuzzing did reach both checks


def test_signed_fuzzed_bodies_get_an_event_or_a_4xx_never_a_5xx(fuzzed: Fuzzed) -> None:
    @given(source=st.sampled_from(ALL), body=bodies, content_type=st.sampled_from(CONTENT_TYPES))
    @settings(max_examples=50 * len(ALL), deadline=None, suppress_health_check=list(HealthCheck))
    def signed(source: str, body: bytes, content_type: str | None) -> None:
        r = fuzzed.post(source, body, signed_headers(source, body, unique()), content_type)
        check_answer(r)

    signed()


@pytest.mark.slow
def test_long_fuzz_of_every_source(fuzzed: Fuzzed) -> None:
    @given(
        source=st.sampled_from(ALL),
        body=bodies,
        hdrs=headers,
        content_type=st.sampled_from(CONTENT_TYPES),
        sign=st.booleans(),
    )
    @settings(max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck))
    def anything(source: str, body: bytes, hdrs: dict[str, str], content_type: str | None, sign: bool) -> None:
        if sign:
            hdrs = {**hdrs, **signed_headers(source, body, unique())}
        check_answer(fuzzed.post(source, body, hdrs, content_type))

    anything()
