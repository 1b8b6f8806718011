"""The typed form: cleaned, renumbered, and mapped back to the rows the owner sees."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from calculator import (
    FieldError,
)
from calculator.messages import error
from services.web import i18n

SHARE = "share"
POINTS = ("low", "likely", "high")
ESTIMATES = ("volume", "minutes", "field_error_percent", "fix_minutes", "hourly_cost")
TEXTS = ("source", "target", "record_type", "action")
# The web page's own row field, not the model's: stripped before parse_scenario.
LINK = "connected"
ROW_FIELDS = (
    *TEXTS,
    LINK,
    "fields",
    "chars_per_field",
    *(f"{name}.{point}" for name in ESTIMATES for point in POINTS),
)
SETTING_FIELDS = (
    "country",
    "currency",
    "working_weeks_per_year",
    "hours_per_week",
    "dead_letter_minutes",
)
ROW = re.compile(r"handovers\[(\d{1,4})\]\.(.+)")


@dataclass
class Inputs:
    """The typed form after cleaning: blank rows dropped, rows renumbered from 0."""

    fields: dict[str, str]  # renumbered, for the model and the store
    rows: list[dict[str, str]]  # per kept row, its fields without the prefix (for the form)
    origin: list[int]  # kept row i came from form row origin[i]
    # the settings as the form shows them (the page's decimal comma), without the prefix
    settings_shown: dict[str, str] = field(default_factory=dict)


def clean_form(
    data: Mapping[str, Any], lang: str, *, typed: bool = True, links: bool = True
) -> tuple[Inputs, list[FieldError]]:
    """Return the typed fields without blank rows, renumbered, plus errors for unknown names.

    With `typed`, text values were typed by a person on a page in `lang`: a decimal comma is
    read in Dutch and Danish, and a thousands separator is refused there (i18n.
    read_decimal_input). A saved scenario or a share link holds the model's own dot-decimal
    text ("2.125" is two and a bit, not 2125): those pass typed=False. Numbers that are not
    text (JSON numbers) are never read as localized text. Without `links` (an anonymous
    visitor, see visible_connections) every "Connected by" value is dropped: the row is typed.
    """
    errors: list[FieldError] = []
    settings: dict[str, str] = {}
    settings_shown: dict[str, str] = {}
    rows: dict[int, dict[str, str]] = {}  # the model's text
    shown: dict[int, dict[str, str]] = {}  # the form's text: as typed, else in lang's style
    for name, value in data.items():
        if name in ("csrf_token", "lang", "html", SHARE):
            continue
        local = typed and isinstance(value, str)
        text = value.strip() if isinstance(value, str) else str(value)
        m = ROW.fullmatch(name)
        is_setting = name.startswith("settings.") and name[9:] in SETTING_FIELDS
        if not is_setting and not (m and m.group(2) in ROW_FIELDS):
            errors.append(error(name, "unknown_field"))
            continue
        if not links and not is_setting and m.group(2) == LINK:
            continue
        number = name[9:] not in ("country", "currency") if is_setting else m.group(2) not in (*TEXTS, LINK)
        show = text
        if number and local:
            text, problem = i18n.read_decimal_input(text, lang)
            if problem:
                errors.append(FieldError(name, problem))
        elif number:
            # The model's "1.125" is shown as "1,125" on a Dutch page, so sending the form back
            # unchanged reads the same number (and not "1.125": one thousand, refused).
            show = i18n.localize_decimal(text, lang)
        if is_setting:
            if text:
                settings[name] = text
                settings_shown[name[9:]] = show
        else:
            rows.setdefault(int(m.group(1)), {})[m.group(2)] = text
            shown.setdefault(int(m.group(1)), {})[m.group(2)] = show
    kept = [i for i in sorted(rows) if any(rows[i].values())]
    fields = dict(settings)
    for new, i in enumerate(kept):
        for suffix, text in rows[i].items():
            if text:
                fields[f"handovers[{new}].{suffix}"] = text
    return Inputs(fields, [shown[i] for i in kept], kept, settings_shown), errors


def rendered_rows(errors: list[FieldError], inputs: Inputs) -> list[FieldError]:
    """Name clean_form's errors by the re-rendered form's rows (blank rows gone), as_rendered."""
    new = {old: i for i, old in enumerate(inputs.origin)}
    out = []
    for e in errors:
        m = ROW.fullmatch(e.path)
        if m and int(m.group(1)) in new:
            e = FieldError(f"handovers[{new[int(m.group(1))]}].{m.group(2)}", e.message)
        out.append(e)
    return out


def as_rendered(inputs: Inputs) -> Inputs:
    """Number errors by the re-rendered form (blank rows gone) rather than by the posted one."""
    return Inputs(
        inputs.fields, inputs.rows, list(range(len(inputs.rows))), inputs.settings_shown
    )


def form_path(path: str, origin: list[int]) -> str:
    """Map a model field path (handovers[i] after renumbering) back to the form row."""
    m = ROW.fullmatch(path) or re.fullmatch(r"handovers\[(\d{1,4})\]()", path)
    if not m:
        return path
    i = int(m.group(1))
    row = origin[i] if i < len(origin) else i
    return f"handovers[{row}]" + (f".{m.group(2)}" if m.group(2) else "")
