"""Field templates: checked against the schema at load, forgiving only of data that is absent."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import jinja2
import pytest

from schemas import Address, Person
from services.common.config import ActionConfig
from services.common.errors import ConfigError
from services.flows.compile import CompiledAction
from services.flows.context import event_context
from services.flows.templates import compile_template
from tests.sync.conftest import contact_event, order_event

MINUS_3 = dt.timezone(dt.timedelta(hours=-3))


def render(text: str, event=None) -> str:
    event = event or order_event()
    return compile_template(text, "fields.x", event.type).render(event_context(event))


def test_template_through_an_absent_shipping_address_renders_empty() -> None:
    # A Stripe checkout with `shipping: null`: the order has no shipping address.
    event = order_event()
    assert event.data.shipping_address is None
    assert render("{{ order.shipping_address.city }}", event) == ""
    assert render("[{{ order.shipping_address.city }}|{{ order.customer.address.line1 }}]", event) == "[|]"


def test_template_through_an_absent_address_follows_if_and_default() -> None:
    event = order_event()
    text = "{% if order.shipping_address.city %}yes{% else %}no{% endif %}"
    assert render(text, event) == "no"
    assert render("{{ order.shipping_address.city | default('n/a') }}", event) == "n/a"


def test_template_reads_a_present_address() -> None:
    address = Address(city="Utrecht", postcode="3511 AB")
    event = order_event(shipping_address=address)
    assert render("{{ order.shipping_address.city }} {{ order.shipping_address.postcode }}", event) == (
        "Utrecht 3511 AB"
    )


def test_template_index_past_the_end_of_lines_renders_empty() -> None:
    empty = order_event(lines=[])
    for text in ("{{ order.lines[0].name }}", "{{ order.lines.0.name }}", "{{ order.lines[-1].total }}"):
        assert render(text, empty) == ""
    assert render("{{ order.lines[1].name }}") == "Boek"
    assert render("{{ order.lines[2].name }}") == ""


def test_field_mapping_on_an_order_without_shipping_is_not_permanent() -> None:
    fields = {"city": "{{ order.shipping_address.city }}", "first": "{{ order.lines[0].name }}"}
    action = CompiledAction(
        ActionConfig(target="t", action="a", fields=fields), "t",
        {k: compile_template(v, f"fields.{k}", "order.created") for k, v in fields.items()},
    )
    assert action.render(event_context(order_event(lines=[]))) == {"city": "", "first": ""}


def test_template_unknown_names_still_fail_at_load() -> None:
    for text in (
        "{{ order.shipping_address.citty }}",
        "{{ order.lines[0].nmae }}",
        "{{ order['shipping_address']['citty'] }}",
        "{{ ordr.total }}",
    ):
        with pytest.raises(ConfigError):
            compile_template(text, "fields.x", "order.created")


def test_template_arithmetic_on_an_absent_value_is_still_an_error() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render("{{ order.shipping_address.city + 1 }}")


def test_template_renders_null_as_empty_text() -> None:
    event = order_event(placed_at_utc=None, subtotal=None)
    assert render("{{ order.placed_at_utc }}|{{ order.subtotal }}|{{ order.shipping_address }}", event) == "||"


def test_template_tojson_keeps_null_and_exact_values() -> None:
    event = order_event(placed_at_utc=None)
    text = (
        '{"utc": {{ order.placed_at_utc|tojson }}, "city": {{ order.shipping_address.city|tojson }}, '
        '"total": {{ order.total|tojson }}, "at": {{ order.placed_at|tojson }}}'
    )
    assert json.loads(render(text, event)) == {
        "utc": None, "city": None, "total": "1481.82", "at": "2026-01-15T09:30:00Z",
    }


def test_template_renders_timestamps_as_iso_8601() -> None:
    when = dt.datetime(2017, 3, 22, 16, 28, 2, tzinfo=MINUS_3)
    event = order_event(placed_at=when, placed_at_utc=when.astimezone(dt.UTC))
    assert render("{{ order.placed_at }}", event) == "2017-03-22T16:28:02-03:00"
    assert render("{{ order.placed_at_utc }}", event) == "2017-03-22T19:28:02+00:00"
    assert render("{{ event.time }}", event) == "2026-01-15T09:30:00+00:00"


def test_template_keeps_decimals_exact() -> None:
    event = order_event(total=Decimal("0.10"), tax_total=Decimal("1234567890.123456789"))
    assert render("{{ order.total }} {{ order.tax_total }}", event) == "0.10 1234567890.123456789"


def test_template_person_fields_still_render() -> None:
    event = contact_event()
    assert render("{{ contact.email }} {{ person.address.city }}", event) == "zoe@example.nl "
    assert render("{{ contact.phone }}", event) == "+31 (0)6 1234 5678"
    event = order_event(customer=Person(email="a@example.nl"))
    assert render("{{ customer.display_name }}", event) == "a@example.nl"
