"""The calculator's messages as codes: each error or warning names a code and its values.

The English text is made here (the API's `message`, for scripts and logs); a page renders the
code through its own catalog (services.web.i18n, keys "error.<code>"), so a wording change is a
catalog change and never falls back to English by accident.
"""

from __future__ import annotations

from calculator.values import FieldError

MESSAGES: dict[str, str] = {
    "required": "required",
    "unknown_field": "unknown field",
    "no_handovers": "add at least one handover",
    "too_many_handovers": "at most {cap} handovers",
    "numbering": "handovers must be numbered 0, 1, 2, ...",
    "duplicate": "same source, target, record type and action as {other}",
    "not_a_number_type": "must be a number",
    "not_a_number": "{value} is not a number",
    "thousands": "{value} is not a number; write {plain} without a thousands separator",
    "decimal_comma": "{value} is not a number; use a dot as the decimal separator",
    "nan": "must be a number, not NaN",
    "infinite": "must be a finite number",
    "negative": "must not be negative",
    "out_of_range": "{value} is out of range",
    "not_an_object": "expected an object of fields",
    "field_name_text": "field names must be text",
    "text_or_number": "must be text or a number",
    "choose_one": "choose one of {choices}",
    "at_most": "at most {cap} {unit}",
    "positive_at_most": "must be more than 0 and at most {cap}",
    "too_long": "at most {cap} characters",
    "over_a_week": (
        "at the high end this handover takes {hours} hours a week, more than the 168 hours in a "
        "week; check the volume and minutes"
    ),
    "whole": "must be a whole number",
    "between": "must be between {low} and {high}",
    "likely_required": "required when low or high is given",
    "low_above_likely": "low must not be more than likely",
    "high_below_likely": "high must not be less than likely",
    "below_floor": "{typed} min is below the keystroke floor of {floor} min for {n} field(s); accepted, but check it.",
    "link_not_scenario": "this link is not a calculator scenario",
    "link_damaged_or_large": "this link is damaged or too large",
    "link_damaged": "this link is damaged",
    # the web layer's own (services.web.calculator): links, the request body, the queue
    "not_connected": "{value} is not a connected flow action",
    "already_linked": "{value} is already linked to {other}",
    "body_not_json": "the body is not valid JSON",
    "body_not_object": "the body must be a JSON object",
    "busy": "The calculator is busy with other requests: try again in a few seconds.",
    # where a figure comes from (an Estimate's source), when it is not a documented default
    "measured_median": (
        "Median of the last {n} week(s) of successful, de-duplicated deliveries in the ledger."
    ),
    "unmeasured": "Connected; no full week measured yet: counted as 0 a week until one is.",
    "flow_minutes": "Minutes saved per delivery, as set in the flow “{flow}”.",
}


class Text(str):
    """A message's English text that still knows its code and values (a page translates those).

    A str, so a FieldError stays a (path, message) pair that compares and prints as before.
    """

    code: str
    params: dict[str, str]

    def __new__(cls, code: str, **params: object) -> Text:
        """Fill in the English template of `code`."""
        values = {k: str(v) for k, v in params.items()}
        text = super().__new__(cls, MESSAGES[code].format(**values))
        text.code = code
        text.params = values
        return text


def error(path: str, code: str, **params: object) -> FieldError:
    """Return the FieldError for a message code, its English text filled in."""
    return FieldError(path, Text(code, **params))


class InputError(ValueError):
    """A bad number (parse_decimal): its message code and values, for error()."""

    def __init__(self, code: str, **params: object) -> None:
        self.text = Text(code, **params)
        super().__init__(self.text)

    def at(self, path: str) -> FieldError:
        """Return this problem as the FieldError of a field."""
        return FieldError(path, self.text)
