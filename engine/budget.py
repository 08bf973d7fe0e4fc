"""Budget prediction: fit score ≈ a − b·cost^(−c) and invert it for a target score.

`cost` is what was spent to make the evaluated model (dollars, GPU-hours or samples: one unit per
fit); `score` is its evaluation score. a is the asymptote (the best score money can buy under
this recipe), b the gap at cost 1, c how fast the gap closes.
"""

from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


class BudgetError(ValueError):
    """Bad points or input file; the message is fit for the user."""


@dataclass(frozen=True)
class BudgetFit:
    a: float
    b: float
    c: float
    a_err: float | None  # one standard error from the fit covariance (None when not estimable)
    b_err: float | None
    c_err: float | None
    rmse: float
    mae: float
    n: int

    def predict(self, cost: float) -> float:
        return self.a - self.b * cost ** (-self.c)

    def cost_for(self, target: float) -> float | None:
        """Cost at which the curve reaches `target`; None when the asymptote is below it."""
        if target >= self.a:
            return None
        if target <= self.predict(1e-12):
            return 0.0
        return (self.b / (self.a - target)) ** (1.0 / self.c)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def model(cost: Any, a: float, b: float, c: float) -> Any:
    return a - b * cost ** (-c)


def fit(points: list[tuple[float, float]]) -> BudgetFit:
    """Least-squares fit (scipy curve_fit, bounded) to (cost, score) points."""
    import numpy as np
    from scipy.optimize import curve_fit

    pts = [(float(x), float(y)) for x, y in points]
    if len(pts) < 3:
        raise BudgetError(f"need at least 3 (cost, score) points to fit 3 parameters, got {len(pts)}")
    if any(not math.isfinite(x) or not math.isfinite(y) for x, y in pts):
        raise BudgetError("costs and scores must be finite numbers")
    if any(x <= 0 for x, _ in pts):
        raise BudgetError("every cost must be > 0 (the curve has cost^(−c))")
    if len({x for x, _ in pts}) < 3:
        raise BudgetError("need at least 3 distinct costs to fit the curve")
    x = np.array([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    span = float(y.max() - y.min()) or max(abs(float(y.max())), 1.0)
    # Start: asymptote a bit above the best score, gap matched at the cheapest point, c = 0.5.
    a0 = float(y.max()) + 0.1 * span
    c0 = 0.5
    b0 = max(a0 - float(y[np.argmin(x)]), 1e-6) * float(x.min()) ** c0
    bounds = ([float(y.max()) - 10 * span, 0.0, 1e-3], [float(y.max()) + 100 * span, np.inf, 5.0])
    try:
        popt, pcov = curve_fit(model, x, y, p0=[a0, b0, c0], bounds=bounds, maxfev=20000)
    except (RuntimeError, ValueError) as exc:
        raise BudgetError(f"the fit did not converge: {exc}") from None
    resid = y - model(x, *popt)
    errs: list[float | None] = []
    for i in range(3):
        v = float(pcov[i, i]) if pcov is not None else float("nan")
        errs.append(math.sqrt(v) if math.isfinite(v) and v >= 0 else None)
    return BudgetFit(float(popt[0]), float(popt[1]), float(popt[2]), errs[0], errs[1], errs[2],
                     rmse=float(np.sqrt(np.mean(resid ** 2))), mae=float(np.mean(np.abs(resid))), n=len(pts))


def curve_points(f: BudgetFit, lo: float, hi: float, n: int = 60) -> list[tuple[float, float]]:
    """Points of the fitted curve, log-spaced over [lo, hi] (what the TUI plots)."""
    if lo <= 0 or hi <= lo:
        raise BudgetError("curve range must satisfy 0 < lo < hi")
    step = (math.log(hi) - math.log(lo)) / max(n - 1, 1)
    xs = [math.exp(math.log(lo) + i * step) for i in range(n)]
    return [(x, f.predict(x)) for x in xs]


def read_csv(path: str | Path) -> list[tuple[float, float]]:
    """(cost, score) rows from a CSV with a header naming `cost` and `score` columns."""
    path = Path(path)
    if not path.is_file():
        raise BudgetError(f"no such file: {path}")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        cols = {c.strip().lower(): c for c in (reader.fieldnames or [])}
        if "cost" not in cols or "score" not in cols:
            raise BudgetError(f"{path}: the header must name a `cost` and a `score` column, got {reader.fieldnames}")
        out = []
        for line, row in enumerate(reader, start=2):
            try:
                out.append((float(row[cols["cost"]]), float(row[cols["score"]])))
            except (TypeError, ValueError):
                raise BudgetError(f"{path}:{line}: cost and score must be numbers, got "
                                  f"{row[cols['cost']]!r}, {row[cols['score']]!r}") from None
    return out


def points_from_store(store: Any, repo: str | None = None, model: str | None = None) -> list[tuple[float, float]]:
    """(budget cost, mean score) of finished eval runs that recorded the cost of the model they tested."""
    from store.evals import budget_points

    return budget_points(store, repo=repo, model=model)


def describe(f: BudgetFit) -> str:
    def pm(v: float, e: float | None) -> str:
        return f"{v:.4g} ± {e:.2g}" if e is not None else f"{v:.4g}"

    return (f"score ≈ a − b·cost^(−c) with a = {pm(f.a, f.a_err)}, b = {pm(f.b, f.b_err)}, "
            f"c = {pm(f.c, f.c_err)}  (n = {f.n}, RMSE = {f.rmse:.4g}, mean abs error = {f.mae:.4g})")
