"""Calculator benchmark: one 200-handover scenario, today's model against the old one, same run.

    python -m bench.calculator [--rows 200] [--repeat 7] [--baseline-rows 200]

The baseline is the model as it was before the work was bounded and vectorized: a pure-Python
Monte Carlo loop of 10,000 `random.triangular` weeks per handover (kept below, verbatim in
substance, so the comparison runs on this machine, now). Today's `calculator.compute` is timed
on the same rows, wall and CPU, median of `--repeat` runs, and so is the whole public request
(`POST /api/calculator` with the rows as JSON, served in-process: parsing, model, "Show the
math" for every row, JSON). Two shapes of scenario: "four fields" (from, to, how many a week,
minutes each; defaults for the rest, as a first try is typed) and "every figure spread" (low,
likely and high on volume, minutes, fixing minutes and hourly cost: the simulation's worst case).
Figures go to docs/benchmarks.md, "Calculator".
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from decimal import Decimal as D

from calculator import Estimate, Scenario, compute, defaults, make_handover

D0 = D(0)


def tri(low: str, likely: str, high: str) -> Estimate:
    return Estimate(D(low), D(likely), D(high))


def rows(n: int, spread: bool) -> tuple:
    """Return n handovers: four typed fields, or every figure with a low and a high."""
    out = []
    for i in range(n):
        if spread:
            h = make_handover(f"Shop {i}", "Accounting", "order", "save", volume=tri("10", "40", "90"),
                              minutes=tri("1", "4", "9"), fields=12, fix_minutes=tri("5", "20", "60"),
                              hourly_cost=tri("30", "40", "55"))  # fmt: skip
        else:
            h = make_handover(f"Shop {i}", "Accounting", "", "", volume=Estimate.point(D(40)),
                              minutes=Estimate.point(D(4)), fields=12)  # fmt: skip
        out.append(h)
    return tuple(out)


def json_rows(n: int, spread: bool) -> list[dict]:
    """The same rows as the API takes them."""
    out = []
    for i in range(n):
        row: dict = {"source": f"Shop {i}", "target": "Accounting",
                     "volume": {"likely": "40"}, "minutes": {"likely": "4"}}  # fmt: skip
        if spread:
            row.update(record_type="order", action="save", fields="12",
                       volume={"low": "10", "likely": "40", "high": "90"},
                       minutes={"low": "1", "likely": "4", "high": "9"},
                       fix_minutes={"low": "5", "likely": "20", "high": "60"},
                       hourly_cost={"low": "30", "likely": "40", "high": "55"})  # fmt: skip
        out.append(row)
    return out


def baseline(handovers: tuple, samples: int = 10_000, seed: int = defaults.DEFAULT_SEED) -> list:
    """The old model's simulation: a Python loop of random.triangular draws per handover."""
    weeks = float(defaults.CALENDAR_WEEKS_PER_YEAR)
    sums = [0.0] * samples
    out = []
    for h in handovers:
        rng = random.Random(f"{seed}|{h.source}|{h.target}|{h.record_type}|{h.action}")

        def draw(e: Estimate, rng: random.Random = rng) -> float:
            return rng.triangular(float(e.low), float(e.high), float(e.likely))

        hours, cost, errors = [], [], []
        for i in range(samples):
            v, t, e, f, r = (draw(x) for x in (h.volume, h.minutes, h.field_error_rate,
                                                h.fix_minutes, h.hourly_cost))  # fmt: skip
            p = 1.0 - (1.0 - e) ** h.fields
            hw = v * t / 60.0 + v * p * f / 60.0
            hours.append(hw)
            cost.append(hw * r * weeks)
            errors.append(v * p)
            sums[i] += hw
        for values in (hours, cost, errors):
            ordered = sorted(values)
            out.append([ordered[int(q * (samples - 1))] for q in (0.1, 0.5, 0.9)])
    out.append(sorted(sums)[samples // 2])
    return out


def timed(fn, repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds of fn() over repeat runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


async def api_timing(n: int, spread: bool, repeat: int) -> tuple[float, float, int]:
    """Median wall and CPU seconds of one POST /api/calculator with n rows, served in-process."""
    from aiohttp.test_utils import TestClient, TestServer

    from tests.web.conftest import make_app

    body = {"handovers": json_rows(n, spread)}
    walls, cpus = [], []
    async with TestClient(TestServer(make_app())) as client:
        for _ in range(repeat + 1):
            w, c = time.perf_counter(), time.process_time()
            r = await client.post("/api/calculator", json=body)
            await r.read()
            walls.append(time.perf_counter() - w)
            cpus.append(time.process_time() - c)
            status = r.status
    return statistics.median(walls[1:]), statistics.median(cpus[1:]), status


def main() -> None:
    """Run the benchmark and print one table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--baseline-rows", type=int, default=200,
                    help="rows for the old model (it takes ~50 ms a row; 0 skips it)")  # fmt: skip
    args = ap.parse_args()
    print(f"{'scenario':<26}{'what':<30}{'wall ms':>10}{'CPU ms':>10}")
    for spread in (False, True):
        name = "every figure spread" if spread else "four fields"
        hs = rows(args.rows, spread)
        if args.baseline_rows:
            base = rows(args.baseline_rows, spread)
            w, c = timed(lambda b=base: baseline(b), 1)
            print(f"{name:<26}{f'old model, {len(base)} rows':<30}{w * 1000:>10.1f}{c * 1000:>10.1f}")
        w, c = timed(lambda h=hs: compute(Scenario(h)), args.repeat)
        print(f"{name:<26}{f'compute(), {len(hs)} rows':<30}{w * 1000:>10.1f}{c * 1000:>10.1f}")
        w, c, status = asyncio.run(api_timing(args.rows, spread, args.repeat))
        what = f"POST /api/calculator ({status})"
        print(f"{name:<26}{what:<30}{w * 1000:>10.1f}{c * 1000:>10.1f}")


if __name__ == "__main__":
    main()
