"""The calculator's simulation: a scenario into P10-P50-P90 ranges, seeded and bounded per request."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import NamedTuple

import msgspec
import numpy as np

from calculator import defaults
from calculator.model import (
    COUNT_Q,
    HOURS_Q,
    LIKELY_HOURS_Q,
    MINUTES_Q,
    MONEY_Q,
    ONE,
    PROB_Q,
    SHARE_Q,
    SIXTY,
    Block,
    Handover,
    HandoverKey,
    HandoverResult,
    Likely,
    Observation,
    Range,
    Scenario,
    ScenarioResult,
    Settings,
    Status,
    already_saved,
    check_warnings,
    effective_volume,
    error_probability,
    klm_floor_minutes,
    sum_savings,
)
from calculator.values import Estimate

D = Decimal


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
