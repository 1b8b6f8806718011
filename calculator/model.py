"""Types and formulas for the time-wasters calculator: pure functions, no I/O.

The simulation that turns a scenario into ranges is in calculator.simulation; "Show the math"
(the steps that reproduce the figure shown) in calculator.breakdown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Literal, NamedTuple

import msgspec

from calculator import defaults
from calculator.messages import Text, error
from calculator.values import Estimate, FieldError, Figure, Provenance

D = Decimal
SIXTY = D(60)
ONE = D(1)

HOURS_Q = D("0.001")
# The figure shown (Likely) is in hundredths of an hour: what the page prints and what the next
# step of "Show the math" multiplies, so the owner's pocket calculator agrees to the cent.
LIKELY_HOURS_Q = D("0.01")
MONEY_Q = D("0.01")
SHARE_Q = D("0.0001")
COUNT_Q = D("0.01")
MINUTES_Q = D("0.01")
PROB_Q = D("0.000001")


class HandoverKey(NamedTuple):
    """Identity of a handover; a fan-out is several keys differing in action or record type."""

    source: str
    target: str
    record_type: str
    action: str

    def label(self) -> str:
        """Return a short human label, e.g. 'Shop → Accounting: order (save invoice)'.

        Record type and action are optional on the form: a blank one is left out of the label.
        """
        label = f"{self.source} → {self.target}"
        if self.record_type:
            label += f": {self.record_type}"
        if self.action:
            label += f" ({self.action})"
        return label


class Handover(msgspec.Struct, frozen=True):
    """One record type retyped by a person from one system into another, with its estimates."""

    source: str
    target: str
    record_type: str
    action: str
    volume: Estimate  # typed-in records per week; replaced by the measured volume once connected
    minutes: Estimate  # minutes per retype
    fields: int
    field_error_rate: Estimate  # fraction per field, e.g. 0.01
    fix_minutes: Estimate  # minutes to find and fix one wrong record
    hourly_cost: Estimate  # EUR per hour
    chars_per_field: Figure
    # "default" when the owner left fields per record blank (defaults.fields_for chose it).
    fields_provenance: Provenance = "typed"
    fields_source: str = ""

    @property
    def key(self) -> HandoverKey:
        """Return the identity of this handover."""
        return HandoverKey(self.source, self.target, self.record_type, self.action)


class Settings(msgspec.Struct, frozen=True):
    """Scenario-wide settings: country for the labour-cost default, display currency, work year.

    dead_letter_minutes is what one open dead letter costs to sort out (find why it failed, fix
    the cause, replay it or do the record by hand), for every connected handover; None leaves
    it at each handover's own fix_minutes (see defaults.DEAD_LETTER_SOURCE).
    """

    country: str = defaults.DEFAULT_COUNTRY
    currency: str = "EUR"
    working_weeks_per_year: Figure = msgspec.field(
        default_factory=lambda: defaults.WORKING_WEEKS_PER_YEAR
    )
    hours_per_week: Figure = msgspec.field(default_factory=lambda: defaults.HOURS_PER_WEEK)
    dead_letter_minutes: Figure | None = None

    @property
    def person_year_hours(self) -> Decimal:
        """Return the working hours in one person's year."""
        return self.working_weeks_per_year.value * self.hours_per_week.value


class Scenario(msgspec.Struct, frozen=True):
    """Everything a person typed in (or left to defaults): the handovers and the settings."""

    handovers: tuple[Handover, ...]
    settings: Settings = msgspec.field(default_factory=Settings)


class Observation(msgspec.Struct, frozen=True):
    """What the ledger saw for a connected handover, as the web layer passes it in.

    Passing one (even an empty one) says the handover is connected: Handover carries it.
    weekly_delivered holds complete weeks, oldest first, of successful de-duplicated deliveries;
    until it holds one, the typed volume stands in (status "connected_estimate").
    dead_letters counts the dead letters still open: one replayed and delivered since is a
    delivery (the ledger moves it to delivered), not a dead letter.
    Redeliveries, duplicates and test events are carried only so the page can say they were not
    counted.
    """

    weekly_delivered: tuple[int, ...] = ()
    dead_letters: int = 0
    redeliveries: int = 0
    duplicates: int = 0
    test_events: int = 0


class MeasuredVolume(msgspec.Struct, frozen=True):
    """Weekly volume measured from the ledger: trailing median and the window it came from."""

    per_week: Decimal
    low: Decimal
    high: Decimal
    window_weeks: int


class Range(msgspec.Struct, frozen=True):
    """A P10-P50-P90 range from the simulation."""

    p10: Decimal
    p50: Decimal
    p90: Decimal

    def overlaps(self, other: Range) -> bool:
        """Return True when the P10-P90 spans of both ranges share any value."""
        return self.p10 <= other.p90 and other.p10 <= self.p90


class Likely(msgspec.Struct, frozen=True):
    """The figures with every likely value plugged in, rounded as shown and adding up.

    hours = typing + fixing (of the rounded parts); cost = hours × hourly cost × weeks; a group's
    figures are the sums of its handovers' (share of a person-year from the summed hours). This
    is what the page shows as the figure and what "Show the math" reproduces exactly.
    """

    typing_hours: Decimal
    fixing_hours: Decimal
    hours: Decimal
    cost_eur: Decimal
    share_of_person_year: Decimal
    errors_per_month: Decimal


class Block(msgspec.Struct, frozen=True):
    """The headline figures for one handover or a group of them (money in EUR).

    `likely` is the figure shown (every likely value plugged in, see Likely); the ranges are
    P10-P50-P90 of the simulated weeks: "probably between P10 and P90".
    """

    hours_per_week: Range
    cost_per_year_eur: Range
    share_of_person_year: Range
    errors_per_month: Range
    likely: Likely


class Savings(msgspec.Struct, frozen=True):
    """Time and money already saved by a connected handover, gross and net of open dead letters.

    net = gross - dead letter fixing, from the rounded figures, so the three shown add up. The
    net is negative when fixing the open dead letters costs more than the deliveries saved:
    `costs_more` says so, and the page says it in words instead of showing a negative saving.
    """

    delivered: int
    dead_letters: int  # open ones only
    not_counted: int  # redeliveries + duplicates + test events: never savings
    gross_hours: Decimal
    dead_letter_hours: Decimal
    net_hours: Decimal
    gross_eur: Decimal
    net_eur: Decimal
    dead_letter_eur: Decimal

    @property
    def costs_more(self) -> bool:
        """Return True when fixing open dead letters cost more time than the deliveries saved."""
        return self.net_hours < 0


# How a handover is done, as the CSV writes it: "automated" (connected, volume measured),
# "connected_estimate" (connected, less than a week measured: the typed volume, or 0, stands
# in) and "manual" (done by hand).
Status = Literal["automated", "connected_estimate", "manual"]


class HandoverResult(msgspec.Struct, frozen=True):
    """Results for one handover, in ranking order, with tie marks against its neighbours."""

    rank: int
    key: HandoverKey
    handover: Handover
    volume: Estimate  # the volume actually used: measured if connected, else typed
    connected: bool  # connected and measured: the volume is the ledger's
    status: Status
    error_probability: Decimal  # p with the likely per-field rate
    likely_hours_per_week: Decimal  # closed form with every likely value
    likely_cost_per_year_eur: Decimal
    block: Block
    ties_previous: bool
    ties_next: bool
    minutes_floor: Decimal
    saved: Savings | None


class ScenarioResult(msgspec.Struct, frozen=True):
    """Results for a whole scenario: ranked handovers, totals, savings and warnings."""

    handovers: tuple[HandoverResult, ...]
    total: Block
    automated: Block
    remaining: Block
    saved: Savings
    settings: Settings
    warnings: tuple[FieldError, ...]
    samples: int
    seed: int

    @property
    def headline(self) -> Block:
        """Return the headline figures: the manual work that remains."""
        return self.remaining


class MathStep(NamedTuple):
    """One line of 'show the math': label, formula with likely values plugged in, result.

    `code` names the step for a page's message catalog (the label is its English text) and
    `badge` is the provenance of the input it shows ("" for a computed step).
    """

    label: str
    formula: str
    value: Decimal
    unit: str
    code: str = ""
    badge: str = ""


def make_handover(
    source: str,
    target: str,
    record_type: str,
    action: str,
    *,
    volume: Estimate,
    minutes: Estimate,
    fields: int,
    field_error_rate: Estimate | None = None,
    fix_minutes: Estimate | None = None,
    hourly_cost: Estimate | None = None,
    chars_per_field: Figure | None = None,
    country: str = defaults.DEFAULT_COUNTRY,
) -> Handover:
    """Build a handover, filling every value not given from the documented defaults."""
    return Handover(
        source=source,
        target=target,
        record_type=record_type,
        action=action,
        volume=volume,
        minutes=minutes,
        fields=fields,
        field_error_rate=field_error_rate or defaults.FIELD_ERROR_RATE,
        fix_minutes=fix_minutes
        or minutes.scaled(defaults.FIX_FACTOR, "default", defaults.FIX_FACTOR_SOURCE),
        hourly_cost=hourly_cost or defaults.HOURLY_LABOUR_COST_EUR[country],
        chars_per_field=chars_per_field or defaults.CHARS_PER_FIELD,
    )


def error_probability(field_error_rate: Decimal, fields: int) -> Decimal:
    """Return the chance a record has at least one wrong field: 1 - (1 - e)^fields."""
    return 1 - (1 - field_error_rate) ** fields


def hours_per_week(volume: Decimal, minutes: Decimal, p: Decimal, fix_minutes: Decimal) -> Decimal:
    """Return weekly hours: retyping V·t/60 plus fixing V·p·f/60."""
    return volume * minutes / SIXTY + volume * p * fix_minutes / SIXTY


def klm_floor_minutes(fields: int, chars_per_field: Decimal) -> Decimal:
    """Return the Keystroke-Level Model floor in minutes for typing one record."""
    per_field = (
        defaults.KLM_M_SECONDS + defaults.KLM_H_SECONDS + defaults.KLM_K_SECONDS * chars_per_field
    )
    return fields * per_field / SIXTY


def measured_weekly_volume(
    weekly_counts: Sequence[int], window_weeks: int = defaults.DEFAULT_WINDOW_WEEKS
) -> MeasuredVolume | None:
    """Return the trailing median of the last window_weeks weekly counts, or None without data."""
    if window_weeks < 1:
        raise ValueError("window_weeks must be at least 1")
    for count in weekly_counts:
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"weekly counts must be non-negative integers, got {count!r}")
    window = sorted(weekly_counts[-window_weeks:])
    if not window:
        return None
    mid = len(window) // 2
    median = D(window[mid]) if len(window) % 2 else (D(window[mid - 1]) + D(window[mid])) / 2
    return MeasuredVolume(median, D(window[0]), D(window[-1]), len(window))


def effective_volume(
    handover: Handover,
    observation: Observation | None,
    window_weeks: int = defaults.DEFAULT_WINDOW_WEEKS,
) -> Estimate:
    """Return the measured volume if the handover is connected, otherwise the typed one."""
    if observation is None:
        return handover.volume
    measured = measured_weekly_volume(observation.weekly_delivered, window_weeks)
    if measured is None:
        return handover.volume
    # The observed min and max of the window give the spread; the median is the likely value.
    return Estimate(
        measured.low,
        measured.per_week,
        measured.high,
        "measured",
        Text("measured_median", n=measured.window_weeks),
    )


def minutes_per_dead_letter(handover: Handover, settings: Settings | None = None) -> Decimal:
    """Return the minutes one open dead letter costs: the setting, else the handover's fix_minutes."""
    if settings is not None and settings.dead_letter_minutes is not None:
        return settings.dead_letter_minutes.value
    return handover.fix_minutes.likely


def already_saved(
    handover: Handover, observation: Observation, settings: Settings | None = None
) -> Savings:
    """Return the time and money saved so far: deliveries x minutes, net of open dead letters.

    Each open dead letter costs minutes_per_dead_letter (someone has to find out why it failed,
    fix the cause and replay it or type the record by hand); one replayed and delivered since is
    a delivery and costs nothing here.
    """
    for name in ("dead_letters", "redeliveries", "duplicates", "test_events"):
        value = getattr(observation, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    measured_weekly_volume(observation.weekly_delivered)  # same checks on the weekly counts
    delivered = sum(observation.weekly_delivered)
    gross = delivered * handover.minutes.likely / SIXTY
    dead = observation.dead_letters * minutes_per_dead_letter(handover, settings) / SIXTY
    rate = handover.hourly_cost.likely
    gross_hours, dead_hours = gross.quantize(HOURS_Q), dead.quantize(HOURS_Q)
    gross_eur, dead_eur = (gross * rate).quantize(MONEY_Q), (dead * rate).quantize(MONEY_Q)
    return Savings(
        delivered=delivered,
        dead_letters=observation.dead_letters,
        not_counted=observation.redeliveries + observation.duplicates + observation.test_events,
        gross_hours=gross_hours,
        dead_letter_hours=dead_hours,
        net_hours=gross_hours - dead_hours,
        gross_eur=gross_eur,
        net_eur=gross_eur - dead_eur,
        dead_letter_eur=dead_eur,
    )


def check_warnings(scenario: Scenario) -> tuple[FieldError, ...]:
    """Return warnings (accepted input that looks too low), e.g. minutes below the KLM floor."""
    warnings = []
    for i, h in enumerate(scenario.handovers):
        floor = klm_floor_minutes(h.fields, h.chars_per_field.value)
        for point in ("low", "likely", "high"):
            typed = getattr(h.minutes, point)
            if point != "likely" and typed == h.minutes.likely:
                continue  # no spread typed: one warning, on the figure the owner typed
            if typed < floor:
                warnings.append(
                    error(
                        f"handovers[{i}].minutes.{point}", "below_floor",
                        typed=plain_decimal(typed), floor=plain_decimal(floor.quantize(MINUTES_Q)), n=h.fields,
                    )
                )  # fmt: skip
    return tuple(warnings)


def sum_savings(items: Iterable[Savings]) -> Savings:
    """Return the savings of several handovers added up (the one sum the page and API use)."""
    items = list(items)
    zero_h, zero_m = D(0).quantize(HOURS_Q), D(0).quantize(MONEY_Q)
    return Savings(
        delivered=sum(s.delivered for s in items),
        dead_letters=sum(s.dead_letters for s in items),
        not_counted=sum(s.not_counted for s in items),
        gross_hours=sum((s.gross_hours for s in items), zero_h),
        dead_letter_hours=sum((s.dead_letter_hours for s in items), zero_h),
        net_hours=sum((s.net_hours for s in items), zero_h),
        gross_eur=sum((s.gross_eur for s in items), zero_m),
        net_eur=sum((s.net_eur for s in items), zero_m),
        dead_letter_eur=sum((s.dead_letter_eur for s in items), zero_m),
    )


def convert(amount_eur: Decimal, currency: str) -> Decimal:
    """Convert an EUR amount to a display currency with the documented rate table."""
    return (amount_eur * defaults.EUR_TO[currency].value).quantize(MONEY_Q)


def plain_decimal(value: Decimal) -> str:
    """Format a Decimal without exponent or trailing zeros."""
    return format(value.normalize(), "f")
