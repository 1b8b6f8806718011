"""Input parsing tests: exact decimals, defaults with badges, every bad field named."""

from decimal import Decimal as D

import pytest

from calculator import ValidationError, parse_decimal, parse_scenario


def form(**extra):
    base = {
        "settings.country": "NL",
        "handovers[0].source": "Shop",
        "handovers[0].target": "Accounting",
        "handovers[0].record_type": "order",
        "handovers[0].action": "save invoice",
        "handovers[0].fields": "6",
        "handovers[0].volume.low": "40",
        "handovers[0].volume.likely": "50",
        "handovers[0].volume.high": "80",
        "handovers[0].minutes.likely": "2.5",
    }
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def errors_of(data):
    with pytest.raises(ValidationError) as info:
        parse_scenario(data)
    return dict(info.value.errors)


def test_valid_form_parses_to_exact_decimals_with_badges():
    h = parse_scenario(form()).handovers[0]
    assert (h.volume.low, h.volume.likely, h.volume.high) == (D(40), D(50), D(80))
    assert h.volume.provenance == "typed"
    # A blank low/high means no spread on that side.
    assert (h.minutes.low, h.minutes.likely, h.minutes.high) == (D("2.5"),) * 3
    assert isinstance(h.minutes.likely, D)
    assert h.hourly_cost.likely == D("45.2") and h.hourly_cost.provenance == "default"
    assert "Eurostat" in h.hourly_cost.source
    assert h.field_error_rate.likely == D("0.01") and "Barchard" in h.field_error_rate.source
    assert h.fix_minutes.likely == D(25) and h.fix_minutes.provenance == "default"
    assert "rule of thumb" in h.fix_minutes.source


def test_typed_values_override_defaults():
    data = form(
        **{
            "handovers[0].field_error_percent.likely": "2",
            "handovers[0].hourly_cost.likely": "60",
            "handovers[0].fix_minutes.likely": "12",
        }
    )
    h = parse_scenario(data).handovers[0]
    assert h.field_error_rate.likely == D("0.02") and h.field_error_rate.provenance == "typed"
    assert (h.hourly_cost.likely, h.fix_minutes.likely) == (D(60), D(12))


def test_denmark_defaults_to_dkk_display_and_danish_labour_cost():
    s = parse_scenario(form(**{"settings.country": "DK"}))
    assert s.settings.currency == "DKK"
    assert s.handovers[0].hourly_cost.likely == D("50.1")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("-1", "must not be negative"),
        ("NaN", "not NaN"),
        ("inf", "finite"),
        ("-Infinity", "finite"),
        ("abc", "'abc' is not a number"),
        ("1,5", "decimal separator"),
        ("1e99", "out of range"),
    ],
)
def test_bad_number_is_named_by_field(raw, message):
    errors = errors_of(form(**{"handovers[0].volume.likely": raw}))
    assert list(errors) == ["handovers[0].volume.likely"]
    assert message in errors["handovers[0].volume.likely"]


def test_more_than_168_hours_a_week_is_rejected():
    # 6000 x 2.5 min / 60 = 250 h/week at the high end
    errors = errors_of(form(**{"handovers[0].volume.high": "6000"}))
    assert "168" in errors["handovers[0].volume.high"]


def test_all_field_errors_are_collected():
    data = form(
        **{
            "handovers[0].volume.likely": "abc",
            "handovers[0].minutes.likely": "-2",
            "handovers[0].fields": "2.5",
            "handovers[0].source": "",
            "settings.hours_per_week": "200",
            "settings.country": "XX",
        }
    )
    assert set(errors_of(data)) == {
        "handovers[0].volume.likely",
        "handovers[0].minutes.likely",
        "handovers[0].fields",
        "handovers[0].source",
        "settings.hours_per_week",
        "settings.country",
    }


def test_low_likely_high_order_is_enforced():
    errors = errors_of(
        form(
            **{
                "handovers[0].volume.low": "60",
                "handovers[0].minutes.likely": "3",
                "handovers[0].minutes.high": "2",
            }
        )
    )
    assert set(errors) == {"handovers[0].volume.low", "handovers[0].minutes.high"}


def test_likely_is_required_with_low_or_high_and_for_volume():
    errors = errors_of(
        form(**{"handovers[0].minutes.likely": None, "handovers[0].minutes.high": "3"})
    )
    assert "required" in errors["handovers[0].minutes.likely"]
    errors = errors_of(
        form(
            **{
                "handovers[0].volume.low": None,
                "handovers[0].volume.likely": None,
                "handovers[0].volume.high": None,
            }
        )
    )
    assert errors["handovers[0].volume.likely"] == "required"


def test_unknown_fields_and_empty_scenarios_are_rejected():
    assert "handovers[0].volum.likely" in errors_of(form(**{"handovers[0].volum.likely": "1"}))
    assert "handovers" in errors_of({"settings.country": "NL"})


def test_same_action_twice_is_a_double_count():
    dup = {k.replace("[0]", "[1]"): v for k, v in form().items() if k.startswith("handovers")}
    errors = errors_of(form(**dup))
    assert "handovers[1].action" in errors
    other = dict(dup, **{"handovers[1].action": "save contact"})
    assert len(parse_scenario(form(**other)).handovers) == 2


def test_nested_json_is_accepted_and_errors_use_the_same_names():
    data = {
        "settings": {"country": "EU"},
        "handovers": [
            {
                "source": "Shop",
                "target": "CRM",
                "record_type": "order",
                "action": "save contact",
                "fields": 4,
                "volume": {"likely": 30},
                "minutes": {"likely": "1.5"},
            }
        ],
    }
    h = parse_scenario(data).handovers[0]
    assert (h.fields, h.volume.likely, h.minutes.likely) == (4, D(30), D("1.5"))
    data["handovers"][0]["volume"]["likely"] = float("nan")
    data["handovers"][0]["minutes"]["likely"] = True
    errors = errors_of(data)
    assert "NaN" in errors["handovers[0].volume.likely"]
    assert "handovers[0].minutes.likely" in errors


def test_minutes_below_keystroke_floor_are_accepted():
    s = parse_scenario(form(**{"handovers[0].minutes.likely": "0.01"}))
    assert s.handovers[0].minutes.likely == D("0.01")


def test_validation_error_as_dict_for_an_api():
    with pytest.raises(ValidationError) as info:
        parse_scenario(form(**{"handovers[0].minutes.likely": "x"}))
    body = info.value.as_dict()
    assert body["errors"][0]["field"] == "handovers[0].minutes.likely"


def test_parse_decimal_is_exact():
    assert parse_decimal("0.1") + parse_decimal("0.2") == D("0.3")
    assert str(parse_decimal("-0")) == "0"


@pytest.mark.parametrize(
    ("raw", "plain"), [("1,000", "1000"), ("12,500", "12500"), ("1,000,000.5", "1000000.5")]
)
def test_a_thousands_comma_says_to_write_the_number_without_it(raw, plain):
    # Not "use a dot as the decimal separator": that advice turns 1,000 into 1.000, which is 1.
    with pytest.raises(ValueError) as info:
        parse_decimal(raw)
    assert str(info.value) == f"{raw!r} is not a number; write {plain} without a thousands separator"


def test_a_decimal_comma_still_says_to_use_a_dot():
    with pytest.raises(ValueError, match="use a dot as the decimal separator"):
        parse_decimal("1,5")
    assert parse_decimal("1.5") == D("1.5")


def test_handover_numbers_must_not_have_gaps():
    moved = {k.replace("[0]", "[2]"): v for k, v in form().items()}
    assert "handovers[0]" in errors_of(moved)


def test_minutes_per_dead_letter_is_an_optional_setting_that_round_trips():
    from calculator import scenario_to_form

    assert parse_scenario(form()).settings.dead_letter_minutes is None  # blank: fix_minutes
    for typed in ("12.5", "0"):  # 0 is allowed: "a dead letter costs me nothing extra"
        s = parse_scenario(form(**{"settings.dead_letter_minutes": typed}))
        assert s.settings.dead_letter_minutes.value == D(typed)
        assert s.settings.dead_letter_minutes.provenance == "typed"
        back = scenario_to_form(s)
        assert back["settings.dead_letter_minutes"] == typed
        assert parse_scenario(back).settings == s.settings
    assert "settings.dead_letter_minutes" not in scenario_to_form(parse_scenario(form()))


@pytest.mark.parametrize(
    ("raw", "message"),
    [("-1", "must not be negative"), ("10081", "at most 10080 minutes"), ("ten", "'ten' is not a number")],
)
def test_bad_minutes_per_dead_letter_is_named(raw, message):
    assert errors_of(form(**{"settings.dead_letter_minutes": raw})) == {
        "settings.dead_letter_minutes": message
    }
