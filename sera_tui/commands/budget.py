"""`sera budget`: fit score ≈ a − b·cost^(−c) to (cost, score) points and predict a target's cost."""

from __future__ import annotations

from pathlib import Path

import typer

from sera_tui.commands.common import fail, open_store, print_json


def budget(
    csv: Path | None = typer.Option(None, "--csv", help="CSV with `cost` and `score` columns (default: the "
                                                           "workspace's finished eval runs that recorded --budget-cost)."),
    target: float | None = typer.Option(None, "--target", help="Score to reach; prints the predicted cost."),
    repo: str | None = typer.Option(None, "--repo", help="Only eval runs of this repo."),
    model: str | None = typer.Option(None, "--model", help="Only eval runs of this model name."),
    plot: bool = typer.Option(False, "--plot", help="Draw the points and the fitted curve in the terminal."),
    json_out: bool = typer.Option(False, "--json", help="Print the fit as JSON."),
) -> None:
    from engine import budget as b

    try:
        if csv is not None:
            points = b.read_csv(csv)
        else:
            store = open_store(read_only=True)
            try:
                points = b.points_from_store(store, repo=repo, model=model)
            finally:
                store.close()
            if not points:
                fail("no finished eval runs with a budget cost in this workspace; run `sera eval --budget-cost C` "
                     "for models trained at several costs, or pass --csv FILE")
        fit = b.fit(points)
    except b.BudgetError as exc:
        fail(str(exc))
    needed = fit.cost_for(target) if target is not None else None
    lo, hi = min(p[0] for p in points), max(p[0] for p in points)
    if needed:
        hi = max(hi, needed)
    if json_out:
        print_json({"fit": fit.to_dict(), "points": points, "target": target, "cost_for_target": needed,
                    "reachable": None if target is None else needed is not None,
                    "curve": b.curve_points(fit, lo, hi * 1.5 if hi > lo else lo * 10)})
        return
    typer.echo(b.describe(fit))
    if target is not None:
        if needed is None:
            typer.echo(f"target {target:g}: unreachable: asymptote a = {fit.a:.4g} < target")
        else:
            typer.echo(f"target {target:g}: predicted cost {needed:.4g}")
    if plot:
        import plotext as plt

        curve = b.curve_points(fit, lo, hi * 1.5 if hi > lo else lo * 10)
        plt.clear_figure()
        plt.xscale("log")
        plt.scatter([p[0] for p in points], [p[1] for p in points], label="runs")
        plt.plot([p[0] for p in curve], [p[1] for p in curve], label="fit")
        plt.xlabel("cost")
        plt.ylabel("score")
        plt.plotsize(80, 20)
        plt.show()
