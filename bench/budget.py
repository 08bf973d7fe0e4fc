"""How well `sera budget` (engine.budget.fit) recovers a known scaling law, and how fast.

Draws score = a − b·cost^(−c) + noise at 8 log-spaced costs for many random (a, b, c) and noise
levels, fits, and prints the median absolute error of a and c, the median relative error of the
predicted cost for a reachable target, and fits per second.

    python3 bench/budget.py [--trials N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.budget import BudgetError, fit  # noqa: E402

COSTS = [10 * 2 ** i for i in range(8)]  # 10 … 1280


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=200)
    trials = ap.parse_args().trials
    rng = random.Random(0)
    for noise in (0.0, 0.005, 0.02):
        da, dc, dcost, failed = [], [], [], 0
        t0 = time.perf_counter()
        for _ in range(trials):
            a, b, c = rng.uniform(0.3, 0.8), rng.uniform(0.5, 3.0), rng.uniform(0.2, 0.8)
            pts = [(x, a - b * x ** (-c) + rng.gauss(0, noise)) for x in COSTS]
            try:
                f = fit(pts)
            except BudgetError:
                failed += 1
                continue
            da.append(abs(f.a - a))
            dc.append(abs(f.c - c))
            target = a - b * 2000 ** (-c)  # reachable, just beyond the data (cost 2000)
            got = f.cost_for(target)
            dcost.append(abs(got - 2000) / 2000 if got else float("inf"))
        dt = time.perf_counter() - t0
        print(f"noise {noise:<5}: median |Δa| {statistics.median(da):.4f}, median |Δc| {statistics.median(dc):.4f}, "
              f"median rel. error of cost-for-target {statistics.median(dcost):.1%}, "
              f"{trials / dt:.0f} fits/s, {failed} failed")


if __name__ == "__main__":
    main()
