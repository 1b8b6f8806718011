"""The typed payload reads every source kind shares: exact amounts, bounded, and a clear error."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.gateway.sources._payload import Payload, json_object

GOOD = [
    ('"414.95"', Decimal("414.95")),
    ('" 12.50 "', Decimal("12.50")),
    ("414", Decimal(414)),
    ("0.21", Decimal("0.21")),
    ('"1.5E+3"', Decimal("1.5E+3")),
    ('"0.' + "0" * 29 + '1"', Decimal("0." + "0" * 29 + "1")),  # 30 digits after the point
    ('"' + "9" * 31 + '"', Decimal("9" * 31)),  # 31 digits before it
    ("9" * 31, Decimal("9" * 31)),
]
BAD = [
    '"NaN"', '"Infinity"', '"-inf"', '"1e99"', '"1E+40"', "1e40", '"abc"', "true",
    '"0.' + "0" * 30 + '1"',  # 31 digits after the point
    '"1' + "0" * 31 + '"',  # 32 digits before it
    "1" + "0" * 31,
]


@pytest.mark.parametrize(("raw", "expected"), GOOD)
def test_amounts_are_read_exactly(raw: str, expected: Decimal) -> None:
    p = Payload(json_object(b'{"amount": ' + raw.encode() + b"}"))
    assert p.decimal("amount") == expected
    assert str(p.decimal("amount")) == str(expected)  # the digits as sent, no rounding
    assert p.errors == []


@pytest.mark.parametrize("raw", BAD)
def test_an_amount_that_is_not_a_sane_decimal_is_an_error_naming_its_field(raw: str) -> None:
    p = Payload(json_object(b'{"order": {"amount": ' + raw.encode() + b"}}"))
    assert p.at("order").decimal("amount") is None
    [error] = p.errors
    assert (error.path, error.message) == ("$.order.amount", "must be a decimal number")


def test_text_reads_strings_as_sent_and_numbers_as_their_digits() -> None:
    p = Payload(json_object(b'{"name": " Zo\xc3\xab ", "phone": 31612345678, "empty": " ", "obj": {}}'))
    assert p.text("name") == " Zoë " and p.text("phone") == "31612345678" and p.text("missing") == ""
    assert p.errors == []
    assert p.text("empty", required=True) == " "
    assert p.text("obj") == ""
    assert [(e.path, e.message) for e in p.errors] == [("$.empty", "must not be empty"), ("$.obj", "must be text")]


def test_each_reads_every_element_and_names_an_error_by_its_index() -> None:
    p = Payload(json_object(b'{"lines": [{"price": "1.50"}, {"price": "x"}, 7], "codes": {"a": 1}}'))
    lines = p.each("lines")
    assert [line.decimal("price") for line in lines] == [Decimal("1.50"), None, None]
    assert p.each("missing") == [] and p.each("codes") == []
    assert [(e.path, e.message) for e in p.errors] == [
        ("$.lines[1].price", "must be a decimal number"),
        ("$.codes", "must be an array"),
    ]
    lines[2].text("name", required=True)  # a reader of a non-object element: its members are absent
    assert p.errors[-1].path == "$.lines[2].name"
