"""Show the math: the steps an owner can redo with a pocket calculator to get the figure shown."""

from __future__ import annotations

from decimal import Decimal

from calculator import defaults
from calculator.model import (
    MINUTES_Q,
    PROB_Q,
    HandoverResult,
    MathStep,
    Settings,
    error_probability,
    klm_floor_minutes,
)
from calculator.model import (
    plain_decimal as _fmt,
)

D = Decimal


def show_math(result: HandoverResult, settings: Settings) -> tuple[MathStep, ...]:
    """Return the steps for one handover with the likely values plugged in.

    Each computed step works on the rounded figures of the steps above it, so a pocket
    calculator gets exactly the figure the page shows: typing + fixing = hours, and
    hours × hourly cost × weeks = cost per year (result.block.likely).
    """
    h, v = result.handover, result.volume
    likely = result.block.likely
    t, f, r = h.minutes.likely, h.fix_minutes.likely, h.hourly_cost.likely
    e, n = h.field_error_rate.likely, h.fields
    weeks = defaults.CALENDAR_WEEKS_PER_YEAR
    p = error_probability(e, n).quantize(PROB_Q)
    floor = klm_floor_minutes(n, h.chars_per_field.value)
    return (
        MathStep("How many a week", "V", v.likely, "records/week", "volume", v.provenance),
        MathStep("Minutes each", "t", t, "min", "minutes", h.minutes.provenance),
        MathStep(
            "Typing time", f"V × t / 60 = {_fmt(v.likely)} × {_fmt(t)} / 60",
            likely.typing_hours, "h/week", "typing",
        ),
        MathStep("Fields per record", "n", D(n), "", "fields", h.fields_provenance),
        MathStep(
            "Chance a record has a mistake",
            f"p = 1 − (1 − {_fmt(e)})^{n}", p, "", "chance", h.field_error_rate.provenance,
        ),
        MathStep("Minutes to find and fix a mistake", "f", f, "min", "fix", h.fix_minutes.provenance),
        MathStep(
            "Fixing mistakes",
            f"V × p × f / 60 = {_fmt(v.likely)} × {_fmt(p)} × {_fmt(f)} / 60",
            likely.fixing_hours, "h/week", "fixing",
        ),
        MathStep(
            "Hours per week",
            f"{_fmt(likely.typing_hours)} + {_fmt(likely.fixing_hours)}",
            likely.hours, "h/week", "hours",
        ),
        MathStep(
            "Cost per year",
            f"{_fmt(likely.hours)} × {_fmt(r)} × {_fmt(weeks)}",
            likely.cost_eur, "EUR/year", "cost", h.hourly_cost.provenance,
        ),
        MathStep(
            "Share of one person's working year",
            f"{_fmt(likely.hours)} × {_fmt(weeks)} / ({_fmt(settings.working_weeks_per_year.value)}"
            f" × {_fmt(settings.hours_per_week.value)})",
            likely.share_of_person_year, "of a person-year", "share",
        ),
        MathStep(
            "Mistakes per month", f"V × p × {_fmt(weeks)} / 12",
            likely.errors_per_month, "records/month", "errors",
        ),
        MathStep(
            "Keystroke floor per record",
            f"{n} × ({_fmt(defaults.KLM_M_SECONDS)} + {_fmt(defaults.KLM_H_SECONDS)} + "
            f"{_fmt(defaults.KLM_K_SECONDS)} × {_fmt(h.chars_per_field.value)}) / 60",
            floor.quantize(MINUTES_Q), "min", "floor",
        ),
    )  # fmt: skip
