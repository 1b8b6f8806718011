"""Shopify: orders/create and customers/create, base64 body HMAC, no timestamp."""

from __future__ import annotations

import copy
import json
import sys
from decimal import Decimal

import msgspec
import pytest

from schemas import CustomerCreated, OrderCreated
from services.gateway.errors import Rejected
from services.gateway.sources._payload import json_object, json_path
from services.gateway.sources.base import Ignored, event_id
from tests.gateway import signing
from tests.gateway.signing import RECEIVED, fixture, inbound, make_source

SECRET = "shpss_test_secret"
ORDER = fixture("shopify/orders_create.json")
CUSTOMER = fixture("shopify/customers_create.json")


def request(body: bytes, topic: str = "orders/create", secret: str = SECRET, **extra: str):
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": "b7504392-2461-4993-848c-1b59c87c8a87",
        "X-Shopify-Event-Id": "218e46c3-e7ef-4b50-a615-56b67ba789b7",
        **signing.shopify(secret, body),
        **extra,
    }
    return inbound("shop", body, headers)


def run(source, req):
    source.verify(req, RECEIVED)
    delivery = source.delivery_id(req)
    return source.parse(req, event_id(source.name, delivery))


def test_order_fixture_maps_to_order_created_with_exact_values() -> None:
    source = make_source("shopify", SECRET, name="shop")
    raw = json.loads(ORDER, parse_int=str)  # ids as exact digits, no float on the way
    (event,) = run(source, request(ORDER))
    assert isinstance(event, OrderCreated)
    data = event.data
    assert data.order_id == raw["id"] == "820982911946154508"
    assert data.order_number == raw["name"]
    assert data.total == Decimal(raw["total_price"])
    assert data.subtotal == Decimal(raw["subtotal_price"])
    assert data.discount_total == Decimal(raw["total_discounts"])
    assert data.shipping_total == Decimal(raw["total_shipping_price_set"]["shop_money"]["amount"])
    assert data.currency == raw["currency"]
    assert data.customer.external_id == raw["customer"]["id"]
    assert data.customer.email == raw["email"]
    assert data.customer.first_name == raw["customer"]["first_name"]
    assert [line.external_id for line in data.lines] == [li["id"] for li in raw["line_items"]]
    assert [line.unit_price for line in data.lines] == [
        Decimal(li["price"]) for li in raw["line_items"]
    ]
    assert [line.sku for line in data.lines] == [li["sku"] for li in raw["line_items"]]
    ship = raw["shipping_address"]
    assert data.shipping_address is not None
    assert data.shipping_address.line1 == ship["address1"]
    assert data.shipping_address.phone == ship["phone"]
    assert data.shipping_address.country == ship["country_code"]
    assert data.placed_at is not None and data.placed_at.isoformat() == raw["created_at"]
    assert data.placed_at_utc is not None and data.placed_at_utc.isoformat() == (
        "2022-01-01T00:00:00+00:00"
    )
    assert event.time == data.placed_at_utc
    assert event.subject == raw["name"]
    assert event.received_at == RECEIVED
    assert event.test is True  # the sample is marked "test": true
    assert event.source == "shop"


def test_customer_fixture_maps_to_customer_created() -> None:
    source = make_source("shopify", SECRET)
    raw = json.loads(CUSTOMER, parse_int=str)
    (event,) = run(source, request(CUSTOMER, topic="customers/create"))
    assert isinstance(event, CustomerCreated)
    person = event.data.customer
    assert person.external_id == raw["id"] == "706405506930370084"
    assert person.email == raw["email"]
    assert (person.first_name, person.last_name) == (raw["first_name"], raw["last_name"])
    assert person.address is not None
    assert person.address.line1 == raw["default_address"]["address1"]
    assert person.address.postcode == raw["default_address"]["zip"]
    assert event.subject == raw["email"].lower()
    assert event.data.created_at is not None
    assert event.data.created_at.isoformat() == raw["created_at"]
    assert event.test is False


def test_names_with_diacritics_pass_unchanged() -> None:
    source = make_source("shopify", SECRET)
    raw = json.loads(CUSTOMER)
    raw["first_name"], raw["last_name"] = "Zoë", "Øster-Ünal"
    body = json.dumps(raw, ensure_ascii=False).encode()
    (event,) = run(source, request(body, topic="customers/create"))
    assert (event.data.customer.first_name, event.data.customer.last_name) == ("Zoë", "Øster-Ünal")


def test_tampered_body_is_rejected() -> None:
    source = make_source("shopify", SECRET)
    signed = request(ORDER)
    tampered = inbound("shop", ORDER.replace(b"404.95", b"4.95"), dict(signed.headers))
    with pytest.raises(Rejected) as info:
        source.verify(tampered, RECEIVED)
    assert (info.value.status, info.value.reason) == (401, "invalid_signature")


def test_wrong_secret_is_rejected() -> None:
    source = make_source("shopify", SECRET)
    with pytest.raises(Rejected) as info:
        source.verify(request(ORDER, secret="another"), RECEIVED)
    assert (info.value.status, info.value.reason) == (401, "invalid_signature")


def test_missing_header_is_rejected() -> None:
    source = make_source("shopify", SECRET)
    req = inbound("shop", ORDER, {"X-Shopify-Topic": "orders/create"})
    with pytest.raises(Rejected) as info:
        source.verify(req, RECEIVED)
    assert (info.value.status, info.value.reason) == (401, "missing_signature")


@pytest.mark.parametrize("garbage", ["not base64!!", "=", "sha256=abc", "é"])
def test_garbage_header_is_rejected(garbage: str) -> None:
    source = make_source("shopify", SECRET)
    req = request(ORDER, **{"X-Shopify-Hmac-Sha256": garbage})
    with pytest.raises(Rejected) as info:
        source.verify(req, RECEIVED)
    assert (info.value.status, info.value.reason) == (401, "invalid_signature")


def test_rotation_accepts_old_and_new_secret() -> None:
    source = make_source("shopify", "old-secret", "new-secret")
    for secret in ("old-secret", "new-secret"):
        source.verify(request(ORDER, secret=secret), RECEIVED)


def test_resend_gives_same_delivery_and_event_id() -> None:
    source = make_source("shopify", SECRET)
    first, again = request(ORDER), request(ORDER)
    assert source.delivery_id(first) == source.delivery_id(again) is not None
    assert run(source, first)[0].id == run(source, again)[0].id


def test_delivery_id_falls_back_to_webhook_id() -> None:
    source = make_source("shopify", SECRET)
    req = inbound("shop", ORDER, {"X-Shopify-Webhook-Id": "abc", "X-Shopify-Topic": "x"})
    assert source.delivery_id(req) == "abc"


def test_unknown_topic_is_ignored() -> None:
    source = make_source("shopify", SECRET)
    assert run(source, request(ORDER, topic="products/update")) == Ignored(
        "unknown topic 'products/update'"
    )


def test_missing_fields_are_named_by_json_path() -> None:
    source = make_source("shopify", SECRET)
    raw = json.loads(ORDER)
    del raw["total_price"]
    raw["line_items"][1]["price"] = "twelve"
    body = json.dumps(raw).encode()
    with pytest.raises(Rejected) as info:
        run(source, request(body))
    assert info.value.status == 422
    paths = {e.path for e in info.value.errors}
    assert paths == {"$.total_price", "$.line_items[1].price"}


def test_non_json_body_is_a_400() -> None:
    source = make_source("shopify", SECRET)
    with pytest.raises(Rejected) as info:
        run(source, request(b"\xff\xfe not json"))
    assert (info.value.status, info.value.reason) == (400, "invalid_body")


# --- One mapper: every answer is events, a 400 for what is not JSON, or a 422 naming the field ---

def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every member path of a JSON document (object keys and array indexes)."""
    out = []
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return out
    for key, child in items:
        out.append((*prefix, key))
        out.extend(_paths(child, (*prefix, key)))
    return out


_DELETE = object()
_ODD_VALUES = [
    _DELETE, None, "", " ", "0", "0.00", "12.30", " 1.5 ", "1_000", "NaN", "-Infinity", "1e400",
    "0.0000000000000000000000000000001", "abc", "Zoë", 0, 1, -1, 2**70, 10**40, Decimal("0.21"),
    Decimal("1.50"), Decimal("-0.0"), Decimal("1E+2"), True, False, [], {}, [{}],
    {"amount": "3.10"}, [{"price": "2.00", "rate": Decimal("0.09")}],
    "2026-09-11T10:15:00+02:00", "2026-09-11 10:15:00", "2026-13-01T00:00:00Z", "2026-09-11",
]


def _change(doc: dict, path: tuple, value: object) -> None:
    """Set the member at `path` to a copy of `value` (or delete it for _DELETE), in place."""
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if value is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(value)


def _base_order() -> dict:
    """The fixture, with lines of one and of two tax lines (rate as a number and as text)."""
    doc = json.loads(ORDER, parse_float=Decimal)
    line = doc["line_items"][0]
    doc["line_items"] = [
        line | {"tax_lines": [{"price": "1.89", "rate": Decimal("0.21"), "title": "BTW"}]},
        line | {"id": 2, "tax_lines": [{"price": "0.50", "rate": "0.09"}, {"price": "0.25", "rate": 0}]},
    ]
    return doc


def _encode(doc: dict) -> bytes:
    # Decimals as JSON numbers with their digits; the rest as json.dumps writes it.
    text = json.dumps(doc, default=lambda d: f"@@{d}@@", ensure_ascii=False)
    return text.replace('"@@', "").replace('@@"', "").encode()


def _answer(body: bytes) -> tuple:
    source = make_source("shopify", SECRET, name="shop")
    try:
        events = source.parse(request(body), "4a5c8e2e-0000-5000-8000-000000000000")
    except Rejected as exc:
        return ("rejected", exc.status, exc.reason, [(e.path, e.message) for e in exc.errors])
    return ("events", [msgspec.json.encode(e) for e in events])


def test_every_single_change_gives_events_or_a_422_naming_only_the_changed_member() -> None:
    base = _base_order()
    named = 0
    for path in _paths(base):
        where = json_path(*path)
        for value in _ODD_VALUES[::3]:  # every third: still deletion, blanks, text, numbers, lists, dates
            doc = copy.deepcopy(base)
            _change(doc, path, value)
            answer = _answer(_encode(doc))
            if answer[0] == "rejected":
                assert answer[1:3] == (422, "invalid_payload"), (where, value, answer)
                assert answer[3] and all(p.startswith(where) for p, _ in answer[3]), (where, value, answer)
                named += 1
    assert named > 100  # the odd values do reach the fields Handover maps


def _full_decode_refuses(body: bytes) -> bool:
    """True when decoding every member (not only the mapped ones) refuses the body."""
    try:
        json_object(body)
    except Rejected:
        return True
    return False


@pytest.mark.parametrize(
    "extra",
    [
        b'"\xff"', b'"\xed\xa0\x80"', b'"\xc0\xaf"', b'"\xf4\x90\x80\x80"',  # not UTF-8
        b"9" * 4301, b"-" + b"9" * 5000,  # more digits than Python turns into an int
        b'"' + b"9" * 5000 + b'"',  # as text: fine
        b'"\\ud800"', b'"\\q"', b'"a\tb"',  # lone surrogate escape, bad escape, raw tab
        b"[" * 200 + b"]" * 200,
    ],
    ids=["ff", "surrogate", "overlong", "above-10ffff", "long-int", "long-negative", "long-text",
         "escaped-surrogate", "bad-escape", "control-char", "nested"],
)
def test_a_member_handover_skips_is_refused_exactly_when_a_full_decode_would_refuse_it(extra: bytes) -> None:
    unknown_member = ORDER.rstrip()[:-1] + b',"zz":' + extra + b"}"
    nested_member = ORDER.replace(b'"customer": {', b'"customer": {"zz":' + extra + b",", 1)
    assert nested_member != ORDER
    for body in (unknown_member, nested_member):
        answer = _answer(body)
        if _full_decode_refuses(body):
            assert answer[:3] == ("rejected", 400, "invalid_body"), answer
        else:
            assert answer[0] == "events", answer
        if extra in (b'"\xff"', b"9" * 4301):
            assert answer[:3] == ("rejected", 400, "invalid_body")


def test_nesting_near_the_recursion_limit_is_events_or_a_400() -> None:
    limit = sys.getrecursionlimit()
    outcomes = set()
    for depth in range(limit - 60, limit + 10):
        body = ORDER.rstrip()[:-1] + b',"zz":' + b"[" * depth + b"]" * depth + b"}"
        answer = _answer(body)
        assert answer[0] == "events" or answer[1:3] == (400, "invalid_body"), answer
        outcomes.add(answer[0])
    assert outcomes == {"events", "rejected"}  # the range crosses the limit


def test_duplicate_and_escaped_keys_take_the_last_value() -> None:
    body = ORDER.rstrip()[:-1] + b',"total_price":"1.00","\\u0063urrency":"USD","currency":"GBP"}'
    answer = _answer(body)
    assert answer[0] == "events"
    event = msgspec.json.decode(answer[1][0])
    assert (event["data"]["total"], event["data"]["currency"]) == ("1.00", "GBP")


def test_an_invalid_total_is_a_422_naming_it() -> None:
    broken = json.loads(ORDER)
    broken["total_price"] = "twelve"
    body = json.dumps(broken).encode()
    assert _answer(body) == ("rejected", 422, "invalid_payload", [("$.total_price", "must be a decimal number")])


def _with_codes_and_attributes() -> bytes:
    # Shopify's sample has both lists empty; these entries have the shapes its order resource
    # documents (discount_codes: code/amount/type; note_attributes: name/value).
    raw = json.loads(ORDER)
    raw["discount_codes"] = [{"code": "SPRING20", "amount": "20.00", "type": "fixed_amount"}]
    raw["note_attributes"] = [{"name": "gift_note", "value": "Happy birthday, Zoë"}, {"name": "floor", "value": 3}]
    return json.dumps(raw, ensure_ascii=False).encode()


def test_order_keeps_codes_shipping_title_attributes_tags_company_and_province_code() -> None:
    body = _with_codes_and_attributes()
    (event,) = run(make_source("shopify", SECRET), request(body))
    data = event.data
    assert data.discount_codes == ["SPRING20"]
    assert data.shipping_method == "Generic Shipping"
    assert data.attributes == {"gift_note": "Happy birthday, Zoë", "floor": "3"}
    assert data.tags == ["tag1", "tag2"]
    assert data.customer.company == "Shipping Company"  # the billing company: Moneybird's company_name
    assert data.billing_address is not None
    assert (data.billing_address.region, data.billing_address.region_code) == ("Kentucky", "KY")


def test_an_order_body_under_the_customers_topic_is_refused_as_topic_mismatch() -> None:
    with pytest.raises(Rejected) as info:
        run(make_source("shopify", SECRET), request(ORDER, topic="customers/create"))
    assert (info.value.status, info.value.reason) == (422, "topic_mismatch")
    with pytest.raises(Rejected) as info:
        run(make_source("shopify", SECRET), request(CUSTOMER, topic="orders/create"))
    assert (info.value.status, info.value.reason) == (422, "topic_mismatch")


def test_content_identity_ignores_the_unsigned_delivery_headers() -> None:
    source = make_source("shopify", SECRET)
    first = request(ORDER)
    again = request(ORDER, **{"X-Shopify-Webhook-Id": "another", "X-Shopify-Event-Id": "another"})
    assert source.delivery_id(first) != source.delivery_id(again)
    assert source.delivery_key(first) == source.delivery_key(again) == (
        "orders/create:820982911946154508:2021-12-31T19:00:00-05:00")


def test_line_discount_allocations_and_several_tax_lines() -> None:
    # The sample's first line with a discount application's allocation and two tax lines, in the
    # shapes Shopify's order resource documents (discount_allocations[].amount; tax_lines[].rate).
    raw = json.loads(ORDER)
    line = raw["line_items"][0]
    line["discount_allocations"] = [{"amount": "9.99", "discount_application_index": 0}]
    line["tax_lines"] = [{"price": "4.80", "rate": 0.06, "title": "State tax"},
                         {"price": "0.80", "rate": 0.01, "title": "County tax"}]
    body = json.dumps(raw).encode()
    (event,) = run(make_source("shopify", SECRET), request(body))
    first = event.data.lines[0]
    assert (first.unit_price, first.discount, first.total) == (Decimal("89.99"), Decimal("9.99"), Decimal("80.00"))
    assert first.tax_rate == Decimal("7") and first.tax_amount == Decimal("5.60")
