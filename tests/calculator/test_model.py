"""Model tests: closed forms by hand, ranges, fan-out, measured volume, savings, ranking."""

import re
from decimal import Decimal as D

import pytest

from calculator import (
    Estimate,
    HandoverKey,
    Observation,
    Scenario,
    Settings,
    already_saved,
    check_warnings,
    compute,
    convert,
    effective_volume,
    klm_floor_minutes,
    make_handover,
    measured_weekly_volume,
    minutes_per_dead_letter,
    show_math,
)
from calculator import defaults as model_defaults
from calculator.values import Figure

H = D("0.001")
C = D("0.01")


def point(x):
    return Estimate.point(D(x))


def tri(low, likely, high):
    return Estimate(D(low), D(likely), D(high))


def simple(action="save invoice", *, volume="60", minutes="1", target="Accounting", **kw):
    """A handover without errors (rate 0) unless told, so hours are just V·t/60."""
    kw.setdefault("field_error_rate", point("0"))
    return make_handover(
        "Shop",
        target,
        "order",
        action,
        volume=volume if isinstance(volume, Estimate) else point(volume),
        minutes=minutes if isinstance(minutes, Estimate) else point(minutes),
        fields=kw.pop("fields", 1),
        **kw,
    )


def q3(x):
    return x.quantize(D("0.001"))


def test_degenerate_distribution_equals_closed_form():
    h = make_handover(
        "Shop",
        "Accounting",
        "order",
        "save invoice",
        volume=point("120"),
        minutes=point("3"),
        fields=5,
        field_error_rate=point("0.01"),
        fix_minutes=point("30"),
        country="NL",
    )
    # By hand: 0.99^2 = 0.9801, 0.99^4 = 0.96059601, 0.99^5 = 0.9509900499
    p = D(1) - D("0.9509900499")  # 0.0490099501
    retype = D(120) * D(3) / D(60)  # 6 h
    fixing = D(120) * p * D(30) / D(60)  # 60 x p = 2.940597006 h
    hours = retype + fixing  # 8.940597006 h/week
    assert hours == D("8.940597006")
    cost = hours * D("45.2") * D("52.14")  # Eurostat NL €45.2/h, 52.14 weeks
    share = hours * D("52.14") / (D(46) * D(40))
    errors_month = D(120) * p * D("52.14") / D(12)

    r = compute(Scenario((h,))).handovers[0]
    b = r.block
    assert b.hours_per_week.p10 == b.hours_per_week.p50 == b.hours_per_week.p90 == D("8.941")
    assert b.cost_per_year_eur.p10 == b.cost_per_year_eur.p90 == cost.quantize(D("0.01"))
    assert b.share_of_person_year.p50 == share.quantize(D("0.0001"))
    assert b.errors_per_month.p50 == errors_month.quantize(D("0.01"))
    # The figure shown: typing 6.00 h + fixing 2.94 h (hundredths), as "Show the math" adds it.
    assert (b.likely.typing_hours, b.likely.fixing_hours) == (D("6.00"), D("2.94"))
    assert r.likely_hours_per_week == b.likely.hours == D("8.94")
    assert b.likely.cost_eur == (D("8.94") * D("45.2") * D("52.14")).quantize(D("0.01"))
    assert r.error_probability == D("0.049010")


def test_real_range_is_ordered_and_matches_triangular_quantiles():
    # Only minutes vary: triangular(1, 2, 3). Its inverse CDF gives the 10th percentile at
    # 1 + sqrt(0.2) = 1.4472 min and the 90th at 3 - sqrt(0.2) = 2.5528 min; x 100/60 for hours.
    h = simple(volume="100", minutes=tri("1", "2", "3"))
    hours = compute(Scenario((h,))).handovers[0].block.hours_per_week
    assert hours.p10 <= hours.p50 <= hours.p90
    assert hours.p10 < hours.p90
    assert abs(hours.p10 - D("2.412")) < D("0.05")
    assert abs(hours.p50 - D("3.333")) < D("0.05")
    assert abs(hours.p90 - D("4.255")) < D("0.05")


def test_fixed_seed_is_deterministic_and_the_seed_matters():
    h = simple(volume=tri("50", "100", "400"), minutes=tri("1", "2", "6"))
    first = compute(Scenario((h,)))
    again = compute(Scenario((h,)))
    assert first == again
    other = compute(Scenario((h,)), seed=7)
    assert other.handovers[0].block != first.handovers[0].block


def test_a_handovers_numbers_do_not_depend_on_the_others():
    a = simple(volume=tri("50", "100", "400"), minutes=tri("1", "2", "6"))
    b = simple("save contact", target="CRM", minutes=tri("1", "2", "3"))
    alone = compute(Scenario((a,))).handovers[0].block
    together = {r.key: r.block for r in compute(Scenario((b, a))).handovers}
    assert together[a.key] == alone


def test_fan_out_counts_each_action_as_its_own_handover():
    # One order saves an invoice (2 min), a contact (1 min) and sends a mail (0.5 min),
    # 60 orders a week: 2 h + 1 h + 0.5 h = 3.5 h/week.
    invoice = simple("save invoice", minutes="2", target="Accounting")
    contact = simple("save contact", minutes="1", target="CRM")
    mail = simple("send mail", minutes="0.5", target="Mail")
    result = compute(Scenario((invoice, contact, mail)))
    assert [r.likely_hours_per_week for r in result.handovers] == [D("2"), D("1"), D("0.5")]
    assert result.total.hours_per_week.p50 == D("3.500")
    assert result.total.hours_per_week.p10 == result.total.hours_per_week.p90 == D("3.500")
    assert result.remaining == result.total
    assert result.automated.hours_per_week.p50 == 0


def test_measured_volume_replaces_typed_volume():
    h = simple(volume="1000", minutes="2")
    obs = Observation(weekly_delivered=(30, 30, 30, 30))
    used = effective_volume(h, obs)
    assert (used.likely, used.provenance) == (D(30), "measured")
    r = compute(Scenario((h,)), {h.key: obs}).handovers[0]
    assert r.connected
    assert r.volume.provenance == "measured"
    # 30 x 2 / 60 = 1 h, not 1000 x 2 / 60 and not (1000 + 30) x 2 / 60
    assert r.block.hours_per_week.p50 == D("1.000")


def test_handover_without_measured_weeks_keeps_typed_volume():
    h = simple(volume="90")
    assert effective_volume(h, None) is h.volume
    assert effective_volume(h, Observation(weekly_delivered=())) is h.volume
    r = compute(Scenario((h,)), {h.key: Observation()}).handovers[0]
    assert not r.connected and r.volume.provenance == "typed"
    # connected (an observation was given) but not measured: honest about both
    assert r.status == "connected_estimate"
    assert r.saved is not None and r.saved.delivered == 0
    manual = compute(Scenario((h,))).handovers[0]
    assert (manual.status, manual.saved) == ("manual", None)


def test_connected_handovers_move_from_remaining_to_automated():
    manual = simple("save contact", minutes="1", target="CRM")  # 60 x 1/60 = 1 h
    connected = simple("save invoice", minutes="2")  # measured 120 x 2/60 = 4 h
    obs = {connected.key: Observation(weekly_delivered=(120, 120))}
    result = compute(Scenario((manual, connected)), obs)
    assert result.automated.hours_per_week.p50 == D("4.000")
    assert result.remaining.hours_per_week.p50 == D("1.000")
    assert result.total.hours_per_week.p50 == D("5.000")
    assert result.headline == result.remaining


def test_trailing_median_over_the_window():
    m = measured_weekly_volume([100, 1, 2, 3, 4], window_weeks=4)  # last four: 1,2,3,4
    assert (m.per_week, m.window_weeks, m.low, m.high) == (D("2.5"), 4, D(1), D(4))
    m = measured_weekly_volume([5, 1, 9], window_weeks=8)  # shorter history: all 3 weeks
    assert (m.per_week, m.window_weeks) == (D(5), 3)
    assert measured_weekly_volume([]) is None


@pytest.mark.parametrize("bad", [[-1], [1.5], [True]])
def test_trailing_median_rejects_bad_counts(bad):
    with pytest.raises(ValueError):
        measured_weekly_volume(bad)


def test_savings_gross_and_net_of_dead_letters():
    h = simple(minutes="4", fix_minutes=point("20"), hourly_cost=point("45.2"))
    obs = Observation(weekly_delivered=(10, 20), dead_letters=3)
    s = already_saved(h, obs)
    # 30 deliveries x 4 min = 120 min = 2 h; 3 dead letters x 20 min = 1 h
    assert (s.delivered, s.gross_hours, s.dead_letter_hours, s.net_hours) == (30, 2, 1, 1)
    assert (s.gross_eur, s.net_eur) == (D("90.40"), D("45.20"))


def expected_savings(delivered, minutes, dead, per_dead, rate):
    """Savings from the inputs by hand: hours and money rounded, net = gross - fixing."""
    gross = D(delivered) * D(minutes) / 60
    fixing = D(dead) * D(per_dead) / 60
    gross_h, fixing_h = gross.quantize(H), fixing.quantize(H)
    gross_eur, fixing_eur = (gross * D(rate)).quantize(C), (fixing * D(rate)).quantize(C)
    return gross_h, fixing_h, gross_h - fixing_h, gross_eur, fixing_eur, gross_eur - fixing_eur


def figures(s):
    return (
        s.gross_hours,
        s.dead_letter_hours,
        s.net_hours,
        s.gross_eur,
        s.dead_letter_eur,
        s.net_eur,
    )


def test_open_dead_letters_costing_more_than_the_savings_are_flagged_not_hidden():
    # The review's case: a few deliveries and one failed one. The default per dead letter is
    # the handover's fix_minutes, 10x its minutes per record (the 1-10-100 rule).
    minutes, rate, delivered = D("3.47"), D("45.2"), 9
    h = simple(minutes=str(minutes), hourly_cost=point(str(rate)))
    per_dead = model_defaults.FIX_FACTOR * minutes
    assert minutes_per_dead_letter(h) == h.fix_minutes.likely == per_dead
    s = already_saved(h, Observation(weekly_delivered=(delivered,), dead_letters=1))
    want = expected_savings(delivered, minutes, 1, per_dead, rate)
    assert figures(s) == want
    assert want[2] < 0 and want[5] < 0  # the inputs really do give a shortfall
    assert s.costs_more
    # the three figures shown add up exactly: gross - fixing = net
    assert s.gross_hours - s.dead_letter_hours == s.net_hours
    assert s.gross_eur - s.dead_letter_eur == s.net_eur


def test_a_replayed_dead_letter_is_a_delivery_and_costs_nothing():
    # The ledger moves a dead letter that was replayed and delivered to "delivered": the
    # observation then has one more delivery and one open dead letter less.
    minutes, rate = D("3.47"), D("45.2")
    h = simple(minutes=str(minutes), hourly_cost=point(str(rate)))
    before = already_saved(h, Observation(weekly_delivered=(9,), dead_letters=1))
    after = already_saved(h, Observation(weekly_delivered=(10,), dead_letters=0))
    assert before.costs_more and not after.costs_more
    assert figures(after) == expected_savings(10, minutes, 0, h.fix_minutes.likely, rate)
    assert after.dead_letter_hours == 0 and after.net_hours == after.gross_hours


@pytest.mark.parametrize("typed", ["7.5", "0", "95"])
def test_minutes_per_dead_letter_is_a_setting_that_overrides_fix_minutes(typed):
    minutes, fix, rate, dead, weeks = D(4), D(20), D("33.5"), 4, (10, 20)
    h = simple(minutes=str(minutes), fix_minutes=point(str(fix)), hourly_cost=point(str(rate)))
    settings = Settings(dead_letter_minutes=Figure(D(typed)))
    assert minutes_per_dead_letter(h, settings) == D(typed)
    assert minutes_per_dead_letter(h, Settings()) == fix  # blank: the handover's fix_minutes
    obs = Observation(weekly_delivered=weeks, dead_letters=dead)
    s = already_saved(h, obs, settings)
    want = expected_savings(sum(weeks), minutes, dead, D(typed), rate)
    assert figures(s) == want
    assert s.costs_more == (want[2] < 0)
    assert figures(already_saved(h, obs)) == expected_savings(sum(weeks), minutes, dead, fix, rate)
    # compute() passes the scenario's settings on
    result = compute(Scenario((h,), settings), {h.key: obs})
    assert figures(result.handovers[0].saved) == want
    assert figures(result.saved) == want


def test_statuses_and_savings_of_connected_handovers_measured_or_not():
    measured = simple("save invoice", minutes="4")
    waiting = simple("save contact", minutes="2", target="CRM", volume="50")
    manual = simple("send mail", minutes="1", target="Mail")
    obs = {
        measured.key: Observation(weekly_delivered=(15, 15), dead_letters=1),
        # connected this week: no complete week, but one open dead letter already
        waiting.key: Observation(dead_letters=2),
    }
    result = compute(Scenario((measured, waiting, manual)), obs)
    by = {r.key: r for r in result.handovers}
    assert [by[k].status for k in (measured.key, waiting.key, manual.key)] == [
        "automated",
        "connected_estimate",
        "manual",
    ]
    assert by[waiting.key].volume.likely == D(50)  # the typed volume stands in
    assert by[manual.key].saved is None
    rate = measured.hourly_cost.likely
    a = expected_savings(30, 4, 1, measured.fix_minutes.likely, rate)
    b = expected_savings(0, 2, 2, waiting.fix_minutes.likely, rate)
    assert figures(by[measured.key].saved) == a
    assert figures(by[waiting.key].saved) == b and by[waiting.key].saved.costs_more
    assert figures(result.saved) == tuple(x + y for x, y in zip(a, b, strict=True))
    assert result.saved.dead_letters == 3


def test_status_needs_the_observation_of_its_own_key():
    h = simple()
    other = HandoverKey("Shop", "CRM", "order", "save contact")
    assert compute(Scenario((h,)), {other: Observation()}).handovers[0].status == "manual"


def test_redeliveries_duplicates_and_test_events_are_never_savings():
    h = simple(minutes="4")
    plain = already_saved(h, Observation(weekly_delivered=(10, 20)))
    noisy = already_saved(
        h, Observation(weekly_delivered=(10, 20), redeliveries=100, duplicates=50, test_events=7)
    )
    assert noisy.gross_hours == plain.gross_hours == D(2)
    assert noisy.net_eur == plain.net_eur
    assert noisy.not_counted == 157


def test_scenario_savings_sum_connected_handovers():
    a = simple("save invoice", minutes="4")
    b = simple("save contact", minutes="2", target="CRM")
    obs = {
        a.key: Observation(weekly_delivered=(15, 15)),  # 30 x 4 min = 2 h
        b.key: Observation(weekly_delivered=(30,)),  # 30 x 2 min = 1 h
    }
    assert compute(Scenario((a, b)), obs).saved.gross_hours == D(3)


def test_ranking_worst_first_with_overlap_ties():
    wide = simple("save invoice", volume="100", minutes=tri("1", "2", "3"))  # ~2.4-4.3 h
    higher = simple("save contact", volume="100", minutes=tri("1.5", "2.5", "3.5"), target="CRM")
    small = simple("send mail", volume="10", minutes="1", target="Mail")  # 0.167 h
    result = compute(Scenario((small, wide, higher)))
    assert [r.key.action for r in result.handovers] == ["save contact", "save invoice", "send mail"]
    assert [r.rank for r in result.handovers] == [1, 2, 3]
    first, second, third = result.handovers
    assert first.ties_next and second.ties_previous
    assert not second.ties_next and not third.ties_previous and not first.ties_previous


def test_keystroke_floor_and_warning_below_it():
    # 5 fields x (1.35 + 0.4 + 0.28 x 10) s = 5 x 4.55 s = 22.75 s = 0.379166... min
    assert klm_floor_minutes(5, D(10)) == D("22.75") / D(60)
    h = simple(minutes=tri("0.2", "0.5", "1"), fields=5, chars_per_field=Figure(D(10)))
    warnings = check_warnings(Scenario((h,)))
    assert [w.path for w in warnings] == ["handovers[0].minutes.low"]
    assert "below the keystroke floor" in warnings[0].message


def pocket(formula):
    """Work a shown formula out as a pocket calculator would (exact decimals)."""
    expr = formula.split("=")[-1].replace("×", "*").replace("−", "-").replace("^", "**")
    expr = re.sub(r"(\d+(?:\.\d+)?)", r'D("\1")', expr)
    return eval(expr, {"D": D})  # our own formula text: digits and operators only


def test_show_math_plugs_in_likely_values():
    h = make_handover(
        "Shop",
        "Accounting",
        "order",
        "save invoice",
        volume=point("120"),
        minutes=point("3"),
        fields=5,
        field_error_rate=point("0.01"),
        fix_minutes=point("30"),
        country="NL",
    )
    result = compute(Scenario((h,)))
    steps = {s.code: s for s in show_math(result.handovers[0], result.settings)}
    assert steps["typing"].formula == "V × t / 60 = 120 × 3 / 60"
    assert steps["typing"].value == D(6)
    assert steps["hours"].value == D("8.94")
    assert "(1 − 0.01)^5" in steps["chance"].formula
    assert steps["chance"].badge == "typed"
    assert steps["share"].formula.endswith("/ (46 × 40)")


def test_the_math_reproduces_the_figure_shown_with_a_pocket_calculator():
    # 40 orders a week x 4 minutes, defaults for the rest (the example) and a second row.
    orders = make_handover("Web shop", "Accounting", "", "", volume=point("40"),
                           minutes=point("4"), fields=12)  # fmt: skip
    leads = make_handover("Contact form", "CRM", "", "", volume=tri("5", "15", "30"),
                          minutes=tri("1", "2.5", "6"), fields=6)  # fmt: skip
    result = compute(Scenario((orders, leads)))
    for r in result.handovers:
        steps = {s.code: s for s in show_math(r, result.settings)}
        for code in ("typing", "fixing", "hours", "cost"):
            step = steps[code]
            assert pocket(step.formula).quantize(step.value) == step.value, code
        assert steps["hours"].value == r.block.likely.hours == r.likely_hours_per_week
        assert steps["cost"].value == r.block.likely.cost_eur
        # typing is what the owner entered, fixing the estimate on top: two separate parts
        assert steps["typing"].value == (r.volume.likely * r.handover.minutes.likely / 60).quantize(
            D("0.01"))
    # The headline (what is still done by hand) is the sum of the rows' shown figures.
    rows = [r.block.likely for r in result.handovers]
    headline = result.headline.likely
    assert headline.hours == sum(x.hours for x in rows) == headline.typing_hours + headline.fixing_hours
    assert headline.cost_eur == sum(x.cost_eur for x in rows)
    # ... and "probably between" is the simulated P10-P90 around it.
    hours = result.headline.hours_per_week
    assert hours.p10 < hours.p90


def test_work_year_settings_change_the_share():
    h = simple(volume="60", minutes="2")  # 2 h/week x 52.14 = 104.28 h/year
    half_time = Settings(working_weeks_per_year=Figure(D(46)), hours_per_week=Figure(D(20)))
    share = compute(Scenario((h,), half_time)).total.share_of_person_year.p50
    assert share == (D("104.28") / D(920)).quantize(D("0.0001"))


def test_convert_eur_to_dkk():
    assert convert(D(100), "DKK") == D("746.00")
    assert convert(D(100), "EUR") == D("100.00")


def test_compute_refuses_too_few_samples():
    with pytest.raises(ValueError):
        compute(Scenario((simple(),)), samples=10)


def test_two_hundred_handovers_compute_in_a_bounded_cpu_time():
    # The public calculator once took 9.4 s of CPU for one 200-row request. Every figure spread
    # (the worst case for the simulation); the work per request is bounded and vectorized.
    import time

    rows = tuple(
        make_handover(f"Shop {i}", "Accounting", "order", "save", volume=tri("10", "40", "90"),
                      minutes=tri("1", "4", "9"), fields=12, fix_minutes=tri("5", "20", "60"),
                      hourly_cost=tri("30", "40", "55"))
        for i in range(200)
    )  # fmt: skip
    start = time.process_time()
    result = compute(Scenario(rows))
    cpu = time.process_time() - start
    assert cpu < 1.0, f"{cpu:.2f} s of CPU for 200 handovers"
    assert len(result.handovers) == 200
    assert result.samples == model_defaults.SAMPLE_BUDGET // 200
    hours = result.total.hours_per_week
    assert hours.p10 < hours.p50 < hours.p90


def test_connected_but_not_yet_measured_is_not_counted_as_done_by_hand():
    # Day one: the flow is connected, deliveries have started, no full week measured yet. The
    # headline ("still done by hand") must not count it while "already saved" counts it.
    manual = simple("save contact", minutes="1", target="CRM")  # 1 h by hand
    day_one = simple("save invoice", minutes="2")  # connected, typed 60 a week stands in: 2 h
    result = compute(Scenario((manual, day_one)), {day_one.key: Observation(dead_letters=0)})
    by_key = {r.key: r for r in result.handovers}
    assert by_key[day_one.key].status == "connected_estimate"
    assert result.headline.likely.hours == D("1.00")
    assert result.automated.likely.hours == D("2.00")
    assert result.total.likely.hours == D("3.00")
