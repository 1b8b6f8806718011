"""One contract every registered source kind keeps, like tests/sync/test_connector_contract.py
does for connectors.

Rotation: with two active secrets, a delivery signed with either passes and one signed with
any other secret is a 401. A garbage value in any signature header is a 401 with a stable
reason naming a signature header, never a 500. A resent delivery (freshly signed, later) is
answered 200 `duplicate` with the first answer's event ids, and published once.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest

from schemas import ContactData, ContactSubmitted, Person, decode_event, encode_event
from services.common.embedded_broker import EmbeddedBroker
from services.gateway.errors import Rejected
from services.gateway.sources import source_kinds
from tests.gateway import harness
from tests.gateway.harness import Gateway, signed_headers, unique, with_delivery_id
from tests.gateway.signing import fixture, inbound, make_source

NOW = 1_900_000_000  # a fixed signing time, so the verifying clock is exact


@dataclass(frozen=True)
class Case:
    """How to drive one source kind: the test gateway's source of that kind and a vendor sample."""

    kind: str
    source: str  # its name in tests/gateway/harness.py
    body: Callable[[], bytes]
    content_type: str = "application/json"
    secrets: tuple[str, str, str] = ("new-secret", "old-secret", "someone-elses-secret")  # new, old, wrong


FORM_EMAIL = "contract@example.com"
STANDARD_EVENT = ContactSubmitted(
    id="sender-id", source="sender", time=dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC), subject=FORM_EMAIL,
    data=ContactData(contact=Person(email=FORM_EMAIL, name="Zoë Ünal")),
)
# Standard Webhooks secrets must be whsec_ + base64.
WHSEC = ("whsec_bmV3LXNlY3JldC1uZXctc2VjcmV0", "whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0",
         "whsec_d3Jvbmctc2VjcmV0LXdyb25nLXM=")
CASES = [
    Case("shopify", "shop", lambda: fixture("shopify/orders_create.json")),
    Case("woocommerce", "woo", lambda: fixture("woocommerce/order_created.json")),
    Case("stripe", "stripe", lambda: fixture("stripe/invoice_paid.json")),
    Case("typeform", "tf", lambda: fixture("forms/typeform_form_response.json")),
    Case("tally", "tally", lambda: fixture("forms/tally_form_response.json")),
    Case("webflow", "wf", lambda: fixture("forms/webflow_form_submission.json")),
    Case("standard", "std", lambda: encode_event(STANDARD_EVENT), secrets=WHSEC),
    Case("form", "website", lambda: urlencode({"email": FORM_EMAIL, "name": "Zoë"}).encode(),
         "application/x-www-form-urlencoded"),
]
SIGNED = [c for c in CASES if source_kinds()[c.kind].signed]
GARBAGE = ["garbage", " ", "v1,", "sha256=", "t=,v1=", "t=1900000000,v1=zz", "v1,AAAA", "\udcff\udcfe", "A" * 8192]


def test_every_registered_source_kind_keeps_the_contract() -> None:
    """A new source kind must join this contract."""
    assert {c.kind for c in CASES} == set(source_kinds())


def _signed(case: Case, secret: str, delivery: str = "delivery-1") -> tuple[bytes, dict[str, str]]:
    body = with_delivery_id(case.source, case.body(), delivery)
    return body, signed_headers(case.source, body, delivery, secret=secret, now=NOW)


def _verify(case: Case, secrets: tuple[str, ...], body: bytes, headers: dict[str, str]) -> None:
    source = make_source(case.kind, *secrets, name=case.source)
    source.verify(inbound(case.source, body, headers, case.content_type), dt.datetime.fromtimestamp(NOW, dt.UTC))


@pytest.mark.parametrize("case", SIGNED, ids=[c.kind for c in SIGNED])
def test_during_rotation_both_secrets_pass_and_any_other_is_a_401(case: Case) -> None:
    new, old, wrong = case.secrets
    for secret in (new, old):
        body, headers = _signed(case, secret)
        _verify(case, (new, old), body, headers)
    body, headers = _signed(case, wrong)
    with pytest.raises(Rejected) as info:
        _verify(case, (new, old), body, headers)
    assert (info.value.status, info.value.reason) == (401, "invalid_signature")
    # After the rotation the old secret is gone: what it signs is refused.
    body, headers = _signed(case, old)
    with pytest.raises(Rejected):
        _verify(case, (new,), body, headers)


@pytest.mark.parametrize("case", SIGNED, ids=[c.kind for c in SIGNED])
@pytest.mark.parametrize("garbage", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_in_any_signature_header_is_a_401_naming_a_signature_header(case: Case, garbage: str) -> None:
    new, _, _ = case.secrets
    kind = source_kinds()[case.kind]
    assert kind.signature_headers, "a signed kind documents the headers it reads"
    body, good = _signed(case, new)
    _verify(case, (new,), body, good)  # the well-signed request passes, so the garbage is what fails
    for name in kind.signature_headers:
        headers = {k: v for k, v in good.items() if k.lower() != name.lower()}
        headers[name] = garbage
        with pytest.raises(Rejected) as info:
            _verify(case, (new,), body, headers)
        rejected = info.value
        assert rejected.status == 401, (name, rejected)
        assert rejected.reason in ("missing_signature", "invalid_signature", "timestamp_out_of_tolerance")
        assert any(h.lower() in rejected.detail.lower() for h in kind.signature_headers), rejected.detail


def test_an_unsigned_kind_takes_requests_without_any_signature_header() -> None:
    for case in CASES:
        if case not in SIGNED:
            _verify(case, (), case.body(), {})


# --- resend -> duplicate, through the running gateway ------------------------------------------


@pytest.fixture(scope="module")
async def gw(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Gateway]:
    """One running gateway with a source of every kind."""
    settings = harness.gateway_settings(str(tmp_path_factory.mktemp("contract")), broker.bootstrap_servers)
    g = await harness.start_gateway(settings, broker.bootstrap_servers)
    yield g
    await harness.stop_gateway(g)


@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
async def test_a_resent_delivery_is_a_duplicate_with_the_same_event_ids_and_published_once(
    gw: Gateway, case: Case
) -> None:
    delivery = unique()
    if case in SIGNED:
        body = with_delivery_id(case.source, case.body(), delivery)
    else:  # a website form's resend: the same fields under the same Idempotency-Key
        body = urlencode({"email": f"{delivery}@example.com"}).encode()
    status, _, first = await gw.post(case.source, body, signed_headers(case.source, body, delivery), case.content_type)
    assert (status, first["status"]) == (202, "accepted"), first
    # The vendor's retry comes later, freshly signed (a new timestamp where the scheme has one).
    later = time.time() + 2
    status, _, again = await gw.post(
        case.source, body, signed_headers(case.source, body, delivery, now=later), case.content_type
    )
    assert (status, again["status"], again["event_ids"]) == (200, "duplicate", first["event_ids"])
    await gw.assert_nothing_published(unique())  # the canary is published after anything else
    for event_id in first["event_ids"]:
        copies = [v for v in gw.watcher.values() if decode_event(v).id == event_id]
        assert len(copies) == 1, event_id
