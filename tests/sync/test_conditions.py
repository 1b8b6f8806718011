"""Flow conditions: a small safe expression language over the event's fields."""

from __future__ import annotations

import ast
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from schemas import ContactData, ContactSubmitted, OrderCreated, OrderData, Person
from services.assembly import parse_settings
from services.common.errors import ConfigError
from services.flows.conditions import Condition, compile_condition
from services.flows.context import event_context
from services.sync.errors import Permanent
from tests.conftest import HandoverCheck

WHEN = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)


def order(total: str, currency: str = "EUR") -> OrderCreated:
    return OrderCreated(id="o", source="shop", time=WHEN, data=OrderData(
        order_id="1", order_number="#1", currency=currency, total=Decimal(total), customer=Person(email="a@b.nl")))


def contact(consent: bool, email: str = "a@b.nl") -> ContactSubmitted:
    data = ContactData(contact=Person(email=email), consent=consent)
    return ContactSubmitted(id="c", source="web", time=WHEN, data=data)


@pytest.mark.parametrize(
    ("expr", "total", "holds"),
    [
        ("order.total >= 100", "100.00", True),
        ("order.total >= 100", "99.99", False),
        ("order.total > 99.99", "100", True),
        ("order.total >= 100 and order.currency == 'EUR'", "150", True),
        ("order.currency in ['DKK', 'SEK']", "150", False),
        ("not order.total < 10", "10", True),
        ("100 <= order.total < 200", "199.99", True),
    ],
)
def test_order_conditions_compare_exact_amounts(expr: str, total: str, holds: bool) -> None:
    condition = compile_condition(expr, "flows[0].if", "order.created")
    assert condition(event_context(order(total))) is holds


def test_consent_condition_reads_booleans() -> None:
    condition = compile_condition("contact.consent == true", "flows[0].if", "contact.submitted")
    assert condition(event_context(contact(True))) is True
    assert condition(event_context(contact(False))) is False


def test_an_empty_condition_always_holds() -> None:
    assert compile_condition("  ", "flows[0].if", "order.created")(event_context(order("1")))


# --- literals are checked against the field's kind when the config loads ------------------------

BIG_ORDERS = """
data_dir = "{data_dir}"
[targets.crm]
kind = "file"
[[flows]]
name = "big_orders"
on = "order.created"
if = "{cond}"
[[flows.actions]]
target = "crm"
action = "upsert_contact"
fields = {{ email = "{{{{ order.customer.email }}}}" }}
"""


def test_a_decimal_comma_amount_is_refused_when_the_config_loads_naming_the_flow(tmp_path: Path) -> None:
    # A Dutch or Danish user's natural mistake used to pass `handover check` and then dead-letter
    # every action of every order with `[<class 'decimal.ConversionSyntax'>]`.
    text = BIG_ORDERS.format(data_dir=tmp_path, cond="order.total >= '100,00'")
    with pytest.raises(ConfigError) as err:
        parse_settings(text, env={})
    assert err.value.path == "flows[0].if"
    assert str(err.value) == (
        "flows[0].if: '100,00' is not a number; order.total is an amount, write 100.00 without quotes "
        "(flow 'big_orders')"
    )


def test_handover_check_prints_the_condition_mistake_and_exits_2(tmp_path: Path, handover_check: HandoverCheck) -> None:
    result = handover_check(BIG_ORDERS.format(data_dir=tmp_path / "data", cond="order.total >= '100,00'"))
    assert result.returncode == 2
    assert "flows[0].if: '100,00' is not a number; order.total is an amount, write 100.00 without quotes" in (
        result.stderr
    )
    assert "'big_orders'" in result.stderr


@pytest.mark.parametrize(
    ("event_type", "expr", "words"),
    [
        ("order.created", "order.total >= '100,00'", "'100,00' is not a number; order.total is an amount, "
         "write 100.00 without quotes"),
        ("order.created", "'1.000,50' < order.total", "'1.000,50' is not a number; order.total is an amount, "
         "write 1000.50 without quotes"),
        ("order.created", "order.total > '1,000.50'", "write 1000.50 without quotes"),
        ("order.created", "order.total > '1,000'", "write 1000 or 1.000 without quotes"),
        ("order.created", "order.total >= 'honderd'", "'honderd' is not a number; order.total is an amount, "
         "write a number like 100.00 without quotes"),
        ("order.created", "order.total == 'NaN'", "'NaN' is not a number"),
        ("order.created", "100 <= order.total < '200,00'", "'200,00' is not a number"),
        ("order.created", "order.total in [100, '250,00']", "'250,00' is not a number"),
        ("order.created", "order.total not in ['1,5']", "'1,5' is not a number"),
        ("order.created", "order.total == true", "true is not a number; order.total is an amount"),
        ("order.created", "order.total > null", "null can only be compared with == or !="),
        ("order.created", "order.prices_include_tax == 'true'", "'true' is not true or false; "
         "order.prices_include_tax is true or false, write true without quotes"),
        ("contact.submitted", "contact.consent == 1", "1 is not true or false"),
        ("contact.submitted", "contact.consent in ['yes', true]", "'yes' is not true or false"),
        ("order.created", "order.note == false", "false is not text; order.note is text, write 'false' in quotes"),
        ("order.created", "order.placed_at >= '2026-01-01'", "order.placed_at is a timestamp; a condition cannot "
         "compare a timestamp with '2026-01-01', only test whether it is set: order.placed_at != null"),
        ("order.created", "event.time > 5", "event.time is a timestamp"),
        ("order.created", "order.billing_address == 'NL'", "order.billing_address is a group of fields"),
        ("order.created", "order.lines == 2", "order.lines is a list"),
        ("order.created", "order.total in 'EUR USD'", "looks for text inside text, and order.total is an amount"),
        ("order.created", "5 in order.note", "write it in quotes: '5' in order.note"),
        ("order.created", "'x' in order.total", "`in` needs a list like ['DKK', 'SEK'] or text after it"),
        ("order.created", "order.currency in 5", "`in` needs a list"),
        ("order.created", "order.total < order.placed_at", "order.total is an amount and order.placed_at is a "
         "timestamp; they cannot be compared"),
        ("order.created", "-order.currency < 0", "order.currency is text; only numbers can be negative"),
        ("order.created", "order.total < [100]", "can only follow `in` or `not in`"),
    ],
)
def test_a_literal_that_does_not_suit_its_field_is_refused_when_the_config_loads(
    event_type: str, expr: str, words: str
) -> None:
    with pytest.raises(ConfigError) as err:
        compile_condition(expr, "flows[0].if", event_type)
    assert err.value.path == "flows[0].if"
    assert words in err.value.message


@pytest.mark.parametrize(
    ("expr", "holds"),
    [
        ("order.total >= 100.00", True),
        ("order.total >= '100.00'", True),  # a quoted number is still compared as that exact decimal
        ("order.total < ' 200 '", True),
        ("order.total > -5", True),
        ("order.total in [100, '150.00']", True),  # `in` a list compares like `==`
        ("order.total not in [150]", False),
        ("order.subtotal == null", True),
        ("order.placed_at != null", False),
        ("order.billing_address == null", True),
        ("order.total > order.tax_total", True),
        ("order.currency == 'EUR'", True),
        ("order.currency in ['DKK', 'SEK']", False),
        ("order.currency in 'EUR USD'", True),
        ("'VIP' in order.note", True),
        ("order.note != ''", True),
        ("order.order_id == 123", True),  # an id of digits, as text, still compares with a number
        ("order.order_id in [123, 456]", True),
        ("order.prices_include_tax == false", True),
        ("event.test == false and event.type == 'order.created'", True),
    ],
)
def test_literals_that_suit_their_field_keep_working(expr: str, holds: bool) -> None:
    event = OrderCreated(id="o", source="shop", time=WHEN, data=OrderData(
        order_id="123", order_number="#1", currency="EUR", total=Decimal("150.00"), customer=Person(email="a@b.nl"),
        note="VIP customer"))
    assert compile_condition(expr, "flows[0].if", "order.created")(event_context(event)) is holds


def test_a_form_field_may_be_compared_with_a_number_and_a_text() -> None:
    data = ContactData(contact=Person(email="a@b.nl"), fields={"budget": "5000", "size": "big"})
    ctx = event_context(ContactSubmitted(id="c", source="web", time=WHEN, data=data))
    assert compile_condition("contact.fields.budget >= 1000", "flows[0].if", "contact.submitted")(ctx) is True
    assert compile_condition("contact.fields.size == 'big'", "flows[0].if", "contact.submitted")(ctx) is True


# --- a condition that still cannot be evaluated says why -----------------------------------------


def _failure(condition: Condition, ctx: dict[str, object]) -> str:
    with pytest.raises(Permanent) as err:
        condition(ctx)
    assert "decimal." not in err.value.message and "<class" not in err.value.message
    return err.value.message


def test_a_condition_that_cannot_be_evaluated_says_which_value_and_why() -> None:
    ctx = event_context(contact(True, email="a@b.nl"))
    # Text compared with a number is read as a number; an e-mail address is not one.
    condition = compile_condition("contact.email > 5", "flows[0].if", "contact.submitted")
    assert _failure(condition, ctx) == (
        "condition 'contact.email > 5' could not be evaluated: "
        "cannot compare contact.email (text) > 5: the text in contact.email is not a number"
    )  # the address itself (personal data) is not repeated in the message


def test_an_unchecked_decimal_comma_fails_readably_at_run_time() -> None:
    # Built without compile_condition (as a config loaded before this check existed could be).
    expr = "order.total >= '100,00'"
    message = _failure(Condition(expr, ast.parse(expr, mode="eval")), event_context(order("150.00")))
    assert message == (
        f"condition {expr!r} could not be evaluated: cannot compare order.total (150.00) >= '100,00': "
        "'100,00' is not a number"
    )


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("order.subtotal > 100", "cannot compare order.subtotal (null) > 100: order.subtotal is empty (null) in this "
         "event"),
        ("order.billing_address.country == 'NL'", "order.billing_address is empty (null) in this event, so "
         "order.billing_address.country cannot be read"),
    ],
)
def test_an_empty_optional_field_fails_readably_at_run_time(expr: str, words: str) -> None:
    condition = compile_condition(expr, "flows[0].if", "order.created")
    assert words in _failure(condition, event_context(order("150.00")))


def test_a_missing_form_field_fails_readably_at_run_time() -> None:
    condition = compile_condition("contact.fields.budget >= 1000", "flows[0].if", "contact.submitted")
    assert _failure(condition, event_context(contact(True))).endswith("this event has no contact.fields.budget")


@pytest.mark.parametrize(("expr", "holds"), [
    ("order.order_number == 1", False),  # "#1" is not the number 1
    ("order.order_number != 1", True),
    ("order.order_number in [1, 2]", False),
    ("order.order_number not in [1, 2]", True),
    ("order.order_number == '#1'", True),
    ("order.order_id == 1", True),  # text of digits is read as the number
])
def test_text_that_is_not_a_number_is_simply_not_equal_to_one(expr: str, holds: bool) -> None:
    # Shopify's order numbers are "#1001": comparing one with a number must not dead-letter the order.
    assert compile_condition(expr, "flows[0].if", "order.created")(event_context(order("10"))) is holds


def test_ordering_text_that_is_not_a_number_against_one_still_fails_readably() -> None:
    condition = compile_condition("order.order_number > 5", "flows[0].if", "order.created")
    assert "the text in order.order_number is not a number" in _failure(condition, event_context(order("10")))
