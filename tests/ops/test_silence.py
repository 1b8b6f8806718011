"""The rhythm rule: learned from a source's own gaps; flag silence > max(k × p90, floor)."""

from __future__ import annotations

import pytest

from services.web.silence import assess_silence, duration_text, learn_rhythm, percentile

HOUR = 3600.0


def every(gap: float, n: int, start: float = 0.0) -> list[float]:
    """n event times `gap` seconds apart."""
    return [start + i * gap for i in range(n)]


def test_percentile_interpolates() -> None:
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([10], 0.9) == 10
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_too_little_history_is_not_a_rhythm() -> None:
    assert learn_rhythm(every(60, 5)) is None  # 4 gaps
    assert learn_rhythm(every(60, 6)) is not None
    silence = assess_silence(every(60, 3), now=10 * 86400)
    assert not silence.unusual and silence.limit_s is None and silence.seconds > 0


def test_no_events_at_all_is_not_flagged() -> None:
    silence = assess_silence([], now=1000)
    assert (silence.seconds, silence.limit_s, silence.unusual) == (0.0, None, False)


def test_busy_shop_quiet_for_a_few_hours_is_flagged() -> None:
    times = every(20 * 60, 50)  # an order every 20 minutes
    last = times[-1]
    assert not assess_silence(times, now=last + 0.9 * HOUR).unusual  # the floor: an hour is normal
    flagged = assess_silence(times, now=last + 1.5 * HOUR)
    assert flagged.unusual and flagged.limit_s == HOUR  # 3 × 20 min = 1 h = the floor
    assert flagged.rhythm is not None and flagged.rhythm.median_s == 20 * 60


def test_limit_follows_the_p90_not_the_median() -> None:
    # Mostly every 10 minutes, but one gap in ten is 2 hours (nights): p90 governs.
    gaps = ([600.0] * 8 + [7200.0] * 2) * 5
    times = [0.0]
    for g in gaps:
        times.append(times[-1] + g)
    rhythm = learn_rhythm(times)
    assert rhythm is not None and rhythm.median_s == 600
    silence = assess_silence(times, now=times[-1] + 5 * HOUR)
    assert silence.limit_s == pytest.approx(3 * rhythm.p90_s)
    assert not silence.unusual  # 5 h < 3 × p90 (≈ 6 h)
    assert assess_silence(times, now=times[-1] + 7 * HOUR).unusual


def test_a_weekly_source_is_not_flagged_after_a_day() -> None:
    times = every(7 * 86400, 10)
    assert not assess_silence(times, now=times[-1] + 86400).unusual
    assert assess_silence(times, now=times[-1] + 22 * 86400).unusual


def test_factor_and_floor_are_parameters() -> None:
    times = every(60, 20)
    assert assess_silence(times, now=times[-1] + 400, factor=5, floor_s=0).unusual
    assert not assess_silence(times, now=times[-1] + 400, factor=10, floor_s=0).unusual


def test_order_and_duplicates_do_not_matter() -> None:
    times = every(300, 20)
    shuffled = list(reversed(times)) + times[:3]
    assert assess_silence(shuffled, now=times[-1] + 100) == assess_silence(times, now=times[-1] + 100)


@pytest.mark.parametrize("seconds,text", [
    (1, "1 second"), (45, "45 seconds"), (60, "1 minute"), (125, "2 minutes"), (3 * HOUR, "3 hours"),
    (5400, "90 minutes"), (3 * 86400, "3 days"),
])
def test_durations_read_plainly(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text
