"""A source's rhythm, learned from its own history, and whether its current silence is unusual.

Pure functions over event times (epoch seconds): no I/O, so the rule is easy to test and to
explain to an owner ("this shop usually sends an order every 20 minutes; nothing for 6 hours").
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

# WooCommerce disables a webhook after 5 failed deliveries in a row, without telling anyone.
WOOCOMMERCE_DOC = "https://woocommerce.com/document/webhooks/"
DEFAULT_FACTOR = 3.0  # k: silence beyond k × p90 of the usual gaps is unusual
DEFAULT_FLOOR_S = 3600.0  # never flag less than an hour of quiet: small shops have lulls
MIN_GAPS = 5  # below this many gaps we do not claim to know the rhythm


@dataclass(frozen=True)
class Rhythm:
    """How often a source usually sends: median and 90th percentile of its gaps."""

    gaps: int
    median_s: float
    p90_s: float


@dataclass(frozen=True)
class Silence:
    """How long a source has been quiet, and whether that is unusual for it."""

    seconds: float  # since the last event (0 when it never sent one)
    limit_s: float | None  # quiet longer than this is unusual; None: rhythm not known yet
    unusual: bool
    rhythm: Rhythm | None


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of already sorted values, linearly interpolated."""
    if not sorted_values:
        raise ValueError("no values")
    pos = (len(sorted_values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def learn_rhythm(times: Sequence[float], min_gaps: int = MIN_GAPS) -> Rhythm | None:
    """The rhythm of a series of event times, or None with too little history."""
    ordered = sorted(times)
    gaps = sorted(b - a for a, b in itertools.pairwise(ordered) if b > a)
    if len(gaps) < min_gaps:
        return None
    return Rhythm(len(gaps), percentile(gaps, 0.5), percentile(gaps, 0.9))


def assess_silence(
    times: Sequence[float],
    now: float,
    factor: float = DEFAULT_FACTOR,
    floor_s: float = DEFAULT_FLOOR_S,
    min_gaps: int = MIN_GAPS,
) -> Silence:
    """Flag a silence longer than max(factor × p90 gap, floor_s), given enough history."""
    if not times:
        return Silence(0.0, None, False, None)
    quiet = max(0.0, now - max(times))
    rhythm = learn_rhythm(times, min_gaps)
    if rhythm is None:
        return Silence(quiet, None, False, None)
    limit = max(factor * rhythm.p90_s, floor_s)
    return Silence(quiet, limit, quiet > limit, rhythm)


def duration_text(seconds: float) -> str:
    """A duration as an owner says it: '40 seconds', '12 minutes', '3 hours', '2 days'."""
    s = max(0, round(seconds))
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if s >= size * (2 if unit != "minute" else 1):
            n = round(s / size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{s} second{'s' if s != 1 else ''}"
