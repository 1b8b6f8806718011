"""Fuzzing every kind's verify + parse: only 4xx Rejected or Ignored may come out."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.gateway.errors import Rejected
from services.gateway.sources.base import Ignored
from tests.gateway import signing
from tests.gateway.signing import RECEIVED, VENDOR_HEADERS, fixture, inbound, make_source

NOW = int(RECEIVED.timestamp())
SECRETS = {
    "shopify": "s",
    "woocommerce": "s",
    "stripe": "whsec_s",
    "typeform": "s",
    "tally": "s",
    "webflow": "s",
    "standard": "whsec_" + "c2VjcmV0c2VjcmV0c2VjcmV0",
}
HEADER_NAMES = VENDOR_HEADERS
FIXTURES = {
    "shopify": ["shopify/orders_create.json", "shopify/customers_create.json"],
    "woocommerce": ["woocommerce/order_created.json"],
    "stripe": ["stripe/checkout_session_completed.json", "stripe/invoice_paid.json"],
    "typeform": ["forms/typeform_form_response.json"],
    "tally": ["forms/tally_form_response.json"],
    "webflow": ["forms/webflow_form_submission.json"],
    "standard": [],
}
TOPICS = {
    "shopify": {"X-Shopify-Topic": ["orders/create", "customers/create"]},
    "woocommerce": {"X-WC-Webhook-Topic": ["order.created"]},
}
KINDS = sorted(SECRETS)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
header_values = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["t=1,v1=00", "sha256=", "v1,AAAA", "=", "1893499200", f"t={NOW},v1="]),
)


def outcome_ok(result: Any, signed: bool) -> None:
    if isinstance(result, Ignored):
        return
    assert signed, "events came out of an unsigned request"
    assert isinstance(result, list)


def run(kind: str, req: Any, signed: bool) -> None:
    source = make_source(kind, SECRETS[kind])
    try:
        source.verify(req, RECEIVED)
        delivery = source.delivery_id(req)
        assert delivery is None or isinstance(delivery, str)
        result = source.parse(req, "event-id")
    except Rejected as exc:
        assert 400 <= exc.status < 500
        return
    if not signed:
        # The only unsigned request that may pass verification is the WooCommerce ping.
        assert kind == "woocommerce" and result == Ignored("ping")
    outcome_ok(result, signed)


def sign(kind: str, body: bytes, extra: dict[str, str]) -> dict[str, str]:
    secret = SECRETS[kind]
    headers = dict(extra)
    match kind:
        case "shopify":
            headers |= signing.shopify(secret, body)
        case "woocommerce":
            headers |= signing.woocommerce(secret, body)
        case "stripe":
            headers |= signing.stripe(secret, body, NOW)
        case "typeform":
            headers |= signing.typeform(secret, body)
        case "tally":
            headers |= signing.tally(secret, body)
        case "webflow":
            headers |= signing.webflow(secret, body, NOW * 1000)
        case "standard":
            headers |= signing.standard(secret, "msg_fuzz", NOW, body)
    return headers


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(KINDS),
    body=st.binary(max_size=300) | st.sampled_from([b"webhook_id=1", b"{}", b"[]", b"null"]),
    headers=st.dictionaries(st.sampled_from(HEADER_NAMES), header_values, max_size=6),
    content_type=st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/plain"]
    ),
)
def test_unsigned_garbage_never_yields_events(
    kind: str, body: bytes, headers: dict[str, str], content_type: str
) -> None:
    run(kind, inbound(kind, body, headers, content_type=content_type), signed=False)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _replace(doc: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, *rest = path
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[head] = _replace(doc[head], tuple(rest), new)
    return copy


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_signed_mutated_payloads_give_events_ignored_or_4xx(kind: str, data: Any) -> None:
    names = FIXTURES[kind]
    if names:
        doc = json.loads(fixture(data.draw(st.sampled_from(names))))
    else:
        doc = json.loads(
            b'{"type":"contact.submitted","id":"x","source":"y","time":"2030-01-01T00:00:00Z",'
            b'"data":{"contact":{"email":"a@b.c"}}}'
        )
    for _ in range(data.draw(st.integers(0, 3))):
        path = data.draw(st.sampled_from(_paths(doc)))
        doc = _replace(doc, path, data.draw(json_values))
    body = json.dumps(doc).encode()
    extra = {
        name: data.draw(st.sampled_from(values)) for name, values in TOPICS.get(kind, {}).items()
    }
    req = inbound(kind, body, sign(kind, body, extra))
    run(kind, req, signed=True)
