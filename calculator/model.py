"""Types and computation for the time-wasters calculator: pure functions, no I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Literal, NamedTuple

import msgspec
import numpy as np

from calculator import defaults
from calculator.messages import error
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
        f"Median of the last {measured.window_weeks} week(s) of successful, de-duplicated "
        "deliveries in the ledger.",
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
                        typed=_fmt(typed), floor=_fmt(floor.quantize(MINUTES_Q)), n=h.fields,
                    )
                )  # fmt: skip
    return tuple(warnings)


class _Samples(NamedTuple):
    # One row per handover, one column per simulated week.
    hours: np.ndarray
    cost: np.ndarray
    errors_per_week: np.ndarray


def samples_for(rows: int, samples: int = defaults.DEFAULT_SAMPLES) -> int:
    """Return the simulated weeks per handover for a scenario of `rows` handovers.

    The work is bounded per request (defaults.SAMPLE_BUDGET sample-rows): up to
    SAMPLE_BUDGET // DEFAULT_SAMPLES handovers get every sample, a larger scenario fewer per
    handover (never below MIN_SAMPLES), so a 200-row request costs what a 20-row one does.
    """
    budget = defaults.SAMPLE_BUDGET // max(rows, 1)
    return max(min(samples, budget), min(samples, defaults.MIN_SAMPLES))


def _row_seed(seed: int, h: Handover) -> int:
    # A stream per handover, seeded by its key, keeps each handover's numbers the same whatever
    # else is in the scenario (for scenarios within the sample budget).
    text = f"{seed}|{h.source}|{h.target}|{h.record_type}|{h.action}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _triangular(u: np.ndarray, estimates: Sequence[Estimate]) -> np.ndarray:
    """Return triangular(low, likely, high) draws by the inverse CDF of uniforms u (rows × n)."""
    a = np.array([[float(e.low)] for e in estimates])
    c = np.array([[float(e.likely)] for e in estimates])
    b = np.array([[float(e.high)] for e in estimates])
    span = b - a
    if not span.any():
        return a  # no spread anywhere: broadcasts as the constant it is
    fc = np.divide(c - a, span, out=np.zeros_like(span), where=span > 0)
    left = u < fc
    # One square root for both sides of the mode: a + sqrt(u·span·(c−a)) below it,
    # b − sqrt((1−u)·span·(b−c)) above it.
    root = np.sqrt(np.where(left, u * (c - a), (1.0 - u) * (b - c)) * span)
    return np.where(left, a + root, b - root)


def _simulate(rows: Sequence[tuple[Handover, Estimate]], samples: int, seed: int) -> _Samples:
    """Simulate every handover's week `samples` times at once (numpy, rows × samples)."""
    k = len(rows)
    u = np.empty((5, k, samples))
    for i, (h, _) in enumerate(rows):
        u[:, i, :] = np.random.default_rng(_row_seed(seed, h)).random((5, samples))
    hs = [h for h, _ in rows]
    v = _triangular(u[0], [volume for _, volume in rows])
    t = _triangular(u[1], [h.minutes for h in hs])
    e = _triangular(u[2], [h.field_error_rate for h in hs])
    f = _triangular(u[3], [h.fix_minutes for h in hs])
    r = _triangular(u[4], [h.hourly_cost for h in hs])
    fields = np.array([[float(h.fields)] for h in hs])
    p = 1.0 - (1.0 - e) ** fields
    shape = (k, samples)
    hours = np.broadcast_to(v * t / 60.0 + v * p * f / 60.0, shape)
    cost = np.broadcast_to(hours * r * float(defaults.CALENDAR_WEEKS_PER_YEAR), shape)
    return _Samples(hours, cost, np.broadcast_to(v * p, shape))


def _quantiles(values: np.ndarray) -> np.ndarray:
    """Return P10, P50 and P90 (3 × rows) of values (rows × samples); zeros without samples."""
    if values.shape[1] == 0:
        return np.zeros((3, values.shape[0]))
    # Linear interpolation between order statistics; equal neighbours return the value exactly,
    # so a distribution without spread gives P10 = P50 = P90.
    return np.quantile(values, (0.1, 0.5, 0.9), axis=1)


def _ranges(q: np.ndarray, quantum: Decimal, factor: Decimal = ONE) -> list[Range]:
    """Return one P10-P50-P90 Range per column of quantiles q (3 × rows)."""
    return [
        Range(*((D(repr(float(x))) * factor).quantize(quantum) for x in q[:, i]))
        for i in range(q.shape[1])
    ]


def _likely(h: Handover, volume: Decimal, settings: Settings) -> Likely:
    weeks = defaults.CALENDAR_WEEKS_PER_YEAR
    # p as show_math prints it (6 decimals), so its fixing line gives the same figure.
    p = error_probability(h.field_error_rate.likely, h.fields).quantize(PROB_Q)
    typing = (volume * h.minutes.likely / SIXTY).quantize(LIKELY_HOURS_Q)
    fixing = (volume * p * h.fix_minutes.likely / SIXTY).quantize(LIKELY_HOURS_Q)
    hours = typing + fixing
    return Likely(
        typing_hours=typing,
        fixing_hours=fixing,
        hours=hours,
        cost_eur=(hours * h.hourly_cost.likely * weeks).quantize(MONEY_Q),
        share_of_person_year=(hours * weeks / settings.person_year_hours).quantize(SHARE_Q),
        errors_per_month=(volume * p * weeks / defaults.MONTHS_PER_YEAR).quantize(COUNT_Q),
    )


def _sum_likely(items: Sequence[Likely], settings: Settings) -> Likely:
    hours = sum((x.hours for x in items), D(0).quantize(LIKELY_HOURS_Q))
    weeks = defaults.CALENDAR_WEEKS_PER_YEAR
    return Likely(
        typing_hours=sum((x.typing_hours for x in items), D(0).quantize(LIKELY_HOURS_Q)),
        fixing_hours=sum((x.fixing_hours for x in items), D(0).quantize(LIKELY_HOURS_Q)),
        hours=hours,
        cost_eur=sum((x.cost_eur for x in items), D(0).quantize(MONEY_Q)),
        share_of_person_year=(hours * weeks / settings.person_year_hours).quantize(SHARE_Q),
        errors_per_month=sum((x.errors_per_month for x in items), D(0).quantize(COUNT_Q)),
    )


def _blocks(s: _Samples, settings: Settings, likely: Sequence[Likely]) -> list[Block]:
    weeks = defaults.CALENDAR_WEEKS_PER_YEAR
    q_hours = _quantiles(s.hours)
    hours = _ranges(q_hours, HOURS_Q)
    cost = _ranges(_quantiles(s.cost), MONEY_Q)
    # The share of a person-year is hours times a constant: the same order statistics.
    share = _ranges(q_hours, SHARE_Q, weeks / settings.person_year_hours)
    errors = _ranges(_quantiles(s.errors_per_week), COUNT_Q, weeks / defaults.MONTHS_PER_YEAR)
    return [Block(*parts) for parts in zip(hours, cost, share, errors, likely, strict=True)]


def _group(s: _Samples, chosen: list[int], settings: Settings, likely: Sequence[Likely]) -> Block:
    if chosen:
        # Sample-wise sums: the range of a total is not the sum of the ranges.
        summed = _Samples(*(x[chosen].sum(axis=0, keepdims=True) for x in s))
    else:
        summed = _Samples(*(np.zeros((1, 0)) for _ in range(3)))
    return _blocks(summed, settings, [_sum_likely([likely[i] for i in chosen], settings)])[0]


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


def compute(
    scenario: Scenario,
    observations: Mapping[HandoverKey, Observation] | None = None,
    *,
    samples: int = defaults.DEFAULT_SAMPLES,
    seed: int = defaults.DEFAULT_SEED,
    window_weeks: int = defaults.DEFAULT_WINDOW_WEEKS,
) -> ScenarioResult:
    """Compute ranges, ranking, totals and savings for a scenario; deterministic for a seed."""
    if samples < 100:
        raise ValueError("samples must be at least 100 for a P10–P90 range to mean anything")
    observations = observations or {}
    settings = scenario.settings

    prepared = []
    for h in scenario.handovers:
        observation = observations.get(h.key)
        prepared.append((h, observation, effective_volume(h, observation, window_weeks)))
    n = samples_for(len(prepared), samples)
    sim = _simulate([(h, volume) for h, _, volume in prepared], n, seed)
    likely = [_likely(h, volume.likely, settings) for h, _, volume in prepared]
    blocks = _blocks(sim, settings, likely)

    rows: list[tuple[HandoverResult, int]] = []
    for i, (h, observation, volume) in enumerate(prepared):
        connected = volume.provenance == "measured"
        if connected:
            status: Status = "automated"
        else:
            status = "manual" if observation is None else "connected_estimate"
        p = error_probability(h.field_error_rate.likely, h.fields)
        result = HandoverResult(
            rank=0,  # set after sorting
            key=h.key,
            handover=h,
            volume=volume,
            connected=connected,
            status=status,
            error_probability=p.quantize(PROB_Q),
            likely_hours_per_week=likely[i].hours,
            likely_cost_per_year_eur=likely[i].cost_eur,
            block=blocks[i],
            ties_previous=False,
            ties_next=False,
            minutes_floor=klm_floor_minutes(h.fields, h.chars_per_field.value).quantize(MINUTES_Q),
            # Connected but not measured yet still has deliveries and dead letters to count.
            saved=already_saved(h, observation, settings) if observation is not None else None,
        )
        rows.append((result, i))

    # Worst first by the hours shown (likely), then the simulated P50 hours and cost; the label
    # makes equal rows order the same way.
    rows.sort(
        key=lambda row: (
            -row[0].likely_hours_per_week,
            -row[0].block.hours_per_week.p50,
            -row[0].block.cost_per_year_eur.p50,
            row[0].key.label(),
        )
    )
    spans = [r.block.hours_per_week for r, _ in rows]
    ranked = tuple(
        msgspec.structs.replace(
            r,
            rank=i + 1,
            ties_previous=i > 0 and spans[i].overlaps(spans[i - 1]),
            ties_next=i + 1 < len(spans) and spans[i].overlaps(spans[i + 1]),
        )
        for i, (r, _) in enumerate(rows)
    )

    def group(connected: bool | None) -> Block:
        # Connected but not measured yet is Handover's work all the same: counting it as still
        # done by hand would contradict "already saved" next to it on day one.
        chosen = [i for r, i in rows if connected is None or (r.status != "manual") == connected]
        return _group(sim, sorted(chosen), settings, likely)

    return ScenarioResult(
        handovers=ranked,
        total=group(None),
        automated=group(True),
        remaining=group(False),
        saved=sum_savings([r.saved for r in ranked if r.saved is not None]),
        settings=settings,
        warnings=check_warnings(scenario),
        samples=n,
        seed=seed,
    )


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


def convert(amount_eur: Decimal, currency: str) -> Decimal:
    """Convert an EUR amount to a display currency with the documented rate table."""
    return (amount_eur * defaults.EUR_TO[currency].value).quantize(MONEY_Q)


def _fmt(value: Decimal) -> str:
    """Format a Decimal without exponent or trailing zeros."""
    return format(value.normalize(), "f")
