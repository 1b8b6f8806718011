"""Parse and validate calculator input (form data or JSON) into a Scenario, collecting all errors.

Field names follow the form: ``settings.country``, ``handovers[0].source``,
``handovers[0].volume.likely``, ``handovers[0].field_error_percent.high`` and so on. Nested JSON
(``{"handovers": [{"volume": {"likely": "12"}}]}``) is flattened to the same names first.
Unknown names are rejected so a typo in an API call is reported rather than silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from calculator import defaults
from calculator.messages import InputError, error
from calculator.model import Handover, Scenario, Settings, error_probability, hours_per_week
from calculator.values import Estimate, FieldError, Figure, Provenance, ValidationError

D = Decimal
HUNDRED = D(100)
POINTS = ("low", "likely", "high")

MAX_HANDOVERS = 200
MAX_TEXT = 100
MAX_NUMBER_CHARS = 40

_TEXT_FIELDS = ("source", "target", "record_type", "action")
# Only where a record comes from and where it goes are asked for; the record type and the
# action are labels (a fan-out needs them to tell its rows apart, and says so if two collide).
_REQUIRED_TEXT = ("source", "target")
# name -> (required, upper bound, unit for messages)
_ESTIMATES: dict[str, tuple[bool, Decimal, str]] = {
    "volume": (True, D(10_000_000), "records per week"),
    "minutes": (True, D(7 * 24 * 60), "minutes"),
    "field_error_percent": (False, HUNDRED, "%"),
    "fix_minutes": (False, D(7 * 24 * 60), "minutes"),
    "hourly_cost": (False, D(10_000), "EUR per hour"),
}
_HANDOVER_KEY = re.compile(r"handovers\[(0|[1-9]\d{0,3})\]\.([a-z_]+)(?:\.([a-z]+))?")
_SETTINGS = (
    "country",
    "currency",
    "working_weeks_per_year",
    "hours_per_week",
    "dead_letter_minutes",
)
MAX_DEAD_LETTER_MINUTES = D(7 * 24 * 60)


def parse_scenario(data: Mapping[str, object]) -> Scenario:
    """Parse form data or JSON into a Scenario; raise ValidationError listing every bad field."""
    errors: list[FieldError] = []
    flat = _flatten(data, errors)
    settings_raw: dict[str, str] = {}
    handovers_raw: dict[int, dict[str, str]] = {}
    for name, value in flat.items():
        if name.startswith("settings.") and name[len("settings.") :] in _SETTINGS:
            settings_raw[name[len("settings.") :]] = value
            continue
        m = _HANDOVER_KEY.fullmatch(name)
        if m and _known_handover_field(m.group(2), m.group(3)):
            handovers_raw.setdefault(int(m.group(1)), {})[_suffix(m)] = value
            continue
        errors.append(error(name, "unknown_field"))

    settings = _parse_settings(settings_raw, errors)
    if not handovers_raw:
        errors.append(error("handovers", "no_handovers"))
    elif len(handovers_raw) > MAX_HANDOVERS:
        errors.append(error("handovers", "too_many_handovers", cap=MAX_HANDOVERS))
    else:
        # Gaps would make a warning's handovers[i] (a position) point at the wrong form row.
        missing = sorted(set(range(max(handovers_raw) + 1)) - set(handovers_raw))
        if missing:
            errors.append(error(f"handovers[{missing[0]}]", "numbering"))

    handovers: list[Handover] = []
    seen: dict[tuple[str, ...], int] = {}
    for index in sorted(handovers_raw):
        h = _parse_handover(index, handovers_raw[index], settings, errors)
        if h is None:
            continue
        key = tuple(s.casefold() for s in h.key)
        if key in seen:
            # A fan-out is one handover per action; the same action twice would count it twice.
            errors.append(error(f"handovers[{index}].action", "duplicate", other=f"handovers[{seen[key]}]"))
        seen.setdefault(key, index)
        handovers.append(h)

    if errors:
        raise ValidationError(errors)
    return Scenario(tuple(handovers), settings)


def scenario_to_form(scenario: Scenario) -> dict[str, str]:
    """Return the form fields that parse back to the same scenario (defaults left out)."""
    form: dict[str, str] = {
        "settings.country": scenario.settings.country,
        "settings.currency": scenario.settings.currency,
    }
    for name in ("working_weeks_per_year", "hours_per_week"):
        figure: Figure = getattr(scenario.settings, name)
        if figure.provenance == "typed":
            form[f"settings.{name}"] = _text(figure.value)
    if scenario.settings.dead_letter_minutes is not None:
        form["settings.dead_letter_minutes"] = _text(scenario.settings.dead_letter_minutes.value)
    for i, h in enumerate(scenario.handovers):
        prefix = f"handovers[{i}]"
        for name in _TEXT_FIELDS:
            if getattr(h, name):
                form[f"{prefix}.{name}"] = getattr(h, name)
        if h.fields_provenance == "typed":
            form[f"{prefix}.fields"] = str(h.fields)
        if h.chars_per_field.provenance == "typed":
            form[f"{prefix}.chars_per_field"] = _text(h.chars_per_field.value)
        for name in _ESTIMATES:
            estimate = _estimate_of(h, name)
            if estimate.provenance != "typed":
                continue
            for point in POINTS:
                form[f"{prefix}.{name}.{point}"] = _text(getattr(estimate, point))
    return form


# A comma before exactly three digits, the way English groups thousands: "1,000", "12,500.5".
_COMMA_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?")


def parse_decimal(raw: object) -> Decimal:
    """Parse one exact, finite, non-negative decimal; raise ValueError with a user message."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        raise InputError("not_a_number_type")
    text = raw.strip() if isinstance(raw, str) else str(raw)
    if len(text) > MAX_NUMBER_CHARS or not text.isascii():
        raise InputError("not_a_number", value=_show(text))
    if _COMMA_THOUSANDS.fullmatch(text):
        # "1,000" is one thousand to an English reader: say how to write it, rather than
        # suggesting a dot ("1.000", which is one).
        plain = text.replace(",", "")
        raise InputError("thousands", value=_show(text), plain=plain)
    if "," in text:
        raise InputError("decimal_comma", value=_show(text))
    try:
        value = D(text)
    except InvalidOperation:
        raise InputError("not_a_number", value=_show(text)) from None
    if value.is_nan():
        raise InputError("nan")
    if value.is_infinite():
        raise InputError("infinite")
    if value < 0:
        raise InputError("negative")
    if value and not -12 <= value.adjusted() <= 12:
        raise InputError("out_of_range", value=_show(text))
    return value + 0  # drops the sign of -0


def _flatten(data: object, errors: list[FieldError], prefix: str = "") -> dict[str, str]:
    if not isinstance(data, Mapping):
        errors.append(error(prefix or "(input)", "not_an_object"))
        return {}
    flat: dict[str, str] = {}
    for name, value in data.items():
        if not isinstance(name, str):
            errors.append(error(prefix or "(input)", "field_name_text"))
            continue
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(value, Mapping):
            flat.update(_flatten(value, errors, path))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                flat.update(_flatten(item, errors, f"{path}[{i}]"))
        elif value is None:
            continue
        elif isinstance(value, str | int | float | Decimal) and not isinstance(value, bool):
            flat[path] = value.strip() if isinstance(value, str) else str(value)
        else:
            errors.append(error(path, "text_or_number"))
    return flat


def _known_handover_field(name: str, point: str | None) -> bool:
    if name in _ESTIMATES:
        return point in POINTS
    return point is None and name in (*_TEXT_FIELDS, "fields", "chars_per_field")


def _suffix(m: re.Match[str]) -> str:
    return f"{m.group(2)}.{m.group(3)}" if m.group(3) else m.group(2)


def _parse_settings(raw: dict[str, str], errors: list[FieldError]) -> Settings:
    country = raw.get("country") or defaults.DEFAULT_COUNTRY
    if country not in defaults.HOURLY_LABOUR_COST_EUR:
        choices = ", ".join(defaults.HOURLY_LABOUR_COST_EUR)
        errors.append(error("settings.country", "choose_one", choices=choices))
        country = defaults.DEFAULT_COUNTRY
    currency = raw.get("currency") or defaults.COUNTRY_CURRENCY[country]
    if currency not in defaults.EUR_TO:
        choices = ", ".join(defaults.EUR_TO)
        errors.append(error("settings.currency", "choose_one", choices=choices))
        currency = "EUR"
    weeks = _figure(raw, "working_weeks_per_year", D("53"), defaults.WORKING_WEEKS_PER_YEAR, errors)
    hours = _figure(
        raw, "hours_per_week", defaults.MAX_HOURS_PER_WEEK, defaults.HOURS_PER_WEEK, errors
    )
    return Settings(country, currency, weeks, hours, _dead_letter_minutes(raw, errors))


def _dead_letter_minutes(raw: dict[str, str], errors: list[FieldError]) -> Figure | None:
    # Blank: each handover's own fix_minutes. 0 is allowed: "a dead letter costs me nothing".
    text = raw.get("dead_letter_minutes", "")
    if not text:
        return None
    path = "settings.dead_letter_minutes"
    try:
        value = parse_decimal(text)
    except ValueError as exc:
        errors.append(_at(exc, path))
        return None
    if value > MAX_DEAD_LETTER_MINUTES:
        errors.append(error(path, "at_most", cap=_text(MAX_DEAD_LETTER_MINUTES), unit="minutes"))
        return None
    return Figure(value)


def _figure(
    raw: dict[str, str], name: str, cap: Decimal, default: Figure, errors: list[FieldError]
) -> Figure:
    text = raw.get(name, "")
    if not text:
        return default
    path = f"settings.{name}"
    try:
        value = parse_decimal(text)
    except ValueError as exc:
        errors.append(_at(exc, path))
        return default
    if value == 0 or value > cap:
        errors.append(error(path, "positive_at_most", cap=_text(cap)))
        return default
    return Figure(value)


def _parse_handover(
    index: int, raw: dict[str, str], settings: Settings, errors: list[FieldError]
) -> Handover | None:
    prefix = f"handovers[{index}]"
    before = len(errors)
    texts = {}
    for name in _TEXT_FIELDS:
        text = raw.get(name, "")
        if not text and name in _REQUIRED_TEXT:
            errors.append(error(f"{prefix}.{name}", "required"))
        elif len(text) > MAX_TEXT:
            errors.append(error(f"{prefix}.{name}", "too_long", cap=MAX_TEXT))
        texts[name] = text

    fields_provenance: Provenance = "typed"
    fields_source = ""
    if raw.get("fields"):
        fields = _integer(raw["fields"], f"{prefix}.fields", D(1), D(1000), errors)
    else:
        # Blank: a default by record type, shown with its badge and what it was based on.
        fields, word = defaults.fields_for(
            texts.get("record_type", ""), texts.get("source", ""), texts.get("target", "")
        )
        fields_provenance = "default"
        fields_source = defaults.fields_source(fields, word)
    chars = defaults.CHARS_PER_FIELD
    if raw.get("chars_per_field"):
        path = f"{prefix}.chars_per_field"
        try:
            value = parse_decimal(raw["chars_per_field"])
            if value == 0 or value > 10_000:
                errors.append(error(path, "positive_at_most", cap=10000))
            else:
                chars = Figure(value)
        except ValueError as exc:
            errors.append(_at(exc, path))

    est = {name: _estimate(raw, prefix, name, errors) for name in _ESTIMATES}
    rate = defaults.FIELD_ERROR_RATE
    if est["field_error_percent"] is not None:
        pct = est["field_error_percent"]
        rate = Estimate(pct.low / HUNDRED, pct.likely / HUNDRED, pct.high / HUNDRED)
    minutes, volume = est["minutes"], est["volume"]
    fix = est["fix_minutes"]
    if fix is None and minutes is not None:
        fix = minutes.scaled(defaults.FIX_FACTOR, "default", defaults.FIX_FACTOR_SOURCE)
    cost = est["hourly_cost"] or defaults.HOURLY_LABOUR_COST_EUR[settings.country]

    if len(errors) > before or volume is None or minutes is None or fix is None or fields is None:
        return None
    high = hours_per_week(volume.high, minutes.high, error_probability(rate.high, fields), fix.high)
    if high > defaults.MAX_HOURS_PER_WEEK:
        errors.append(error(f"{prefix}.volume.high", "over_a_week", hours=_text(high.quantize(D(1)))))
        return None
    return Handover(
        **texts,
        volume=volume,
        minutes=minutes,
        fields=fields,
        field_error_rate=rate,
        fix_minutes=fix,
        hourly_cost=cost,
        chars_per_field=chars,
        fields_provenance=fields_provenance,
        fields_source=fields_source,
    )


def _integer(
    text: str, path: str, low: Decimal, high: Decimal, errors: list[FieldError]
) -> int | None:
    if not text:
        errors.append(error(path, "required"))
        return None
    try:
        value = parse_decimal(text)
    except ValueError as exc:
        errors.append(_at(exc, path))
        return None
    if value != value.to_integral_value():
        errors.append(error(path, "whole"))
        return None
    if not low <= value <= high:
        errors.append(error(path, "between", low=_text(low), high=_text(high)))
        return None
    return int(value)


def _estimate(
    raw: dict[str, str], prefix: str, name: str, errors: list[FieldError]
) -> Estimate | None:
    required, cap, unit = _ESTIMATES[name]
    path = f"{prefix}.{name}"
    texts = {point: raw.get(f"{name}.{point}", "") for point in POINTS}
    if not any(texts.values()):
        if required:
            errors.append(error(f"{path}.likely", "required"))
        return None
    if not texts["likely"]:
        errors.append(error(f"{path}.likely", "likely_required"))
        return None
    values: dict[str, Decimal] = {}
    for point in POINTS:
        if not texts[point]:
            continue
        try:
            value = parse_decimal(texts[point])
        except ValueError as exc:
            errors.append(_at(exc, f"{path}.{point}"))
            continue
        if value > cap:
            errors.append(error(f"{path}.{point}", "at_most", cap=_text(cap), unit=unit))
            continue
        values[point] = value
    if len(values) != sum(1 for t in texts.values() if t):
        return None
    # A blank low or high means "no spread on that side".
    low = values.get("low", values["likely"])
    high = values.get("high", values["likely"])
    likely = values["likely"]
    bad = False
    if low > likely:
        errors.append(error(f"{path}.low", "low_above_likely"))
        bad = True
    if high < likely:
        errors.append(error(f"{path}.high", "high_below_likely"))
        bad = True
    return None if bad else Estimate(low, likely, high)


def _estimate_of(h: Handover, name: str) -> Estimate:
    if name == "field_error_percent":
        r = h.field_error_rate
        return Estimate(r.low * HUNDRED, r.likely * HUNDRED, r.high * HUNDRED, r.provenance)
    return getattr(h, name)


def _at(exc: ValueError, path: str) -> FieldError:
    # parse_decimal raises InputError; anything else keeps its own words.
    return exc.at(path) if isinstance(exc, InputError) else FieldError(path, str(exc))


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _show(text: str) -> str:
    return repr(text if len(text) <= 20 else text[:20] + "…")
