"""`sera budget` recovers known scaling-law parameters and predicts the cost of a target score."""

from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

from engine import budget as b
from sera_tui.cli import app

A, B, C = 0.62, 1.4, 0.45
COSTS = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]


def synthetic(noise: float = 0.0, seed: int = 0) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(x, A - B * x ** (-C) + rng.gauss(0, noise)) for x in COSTS]


def test_fit_recovers_exact_parameters():
    f = b.fit(synthetic())
    assert f.a == pytest.approx(A, abs=1e-4) and f.b == pytest.approx(B, rel=1e-3)
    assert f.c == pytest.approx(C, abs=1e-3) and f.rmse < 1e-6


def test_fit_with_noise_is_close_and_reports_error():
    f = b.fit(synthetic(noise=0.005, seed=3))
    assert f.a == pytest.approx(A, abs=0.02) and f.c == pytest.approx(C, abs=0.1)
    assert 0.001 < f.rmse < 0.01 and f.a_err is not None and f.a_err > 0


def test_cost_for_target_inverts_the_curve():
    f = b.fit(synthetic())
    target = 0.55
    expected = (B / (A - target)) ** (1 / C)
    assert f.cost_for(target) == pytest.approx(expected, rel=1e-2)
    assert f.predict(f.cost_for(target)) == pytest.approx(target, abs=1e-6)
    assert f.cost_for(0.7) is None


def test_bad_points_rejected():
    with pytest.raises(b.BudgetError, match="at least 3"):
        b.fit([(1, 0.1), (2, 0.2)])
    with pytest.raises(b.BudgetError, match="> 0"):
        b.fit([(0, 0.1), (2, 0.2), (3, 0.3)])


def write_csv(path, points):
    path.write_text("cost,score\n" + "".join(f"{x},{y}\n" for x, y in points))
    return path


def test_cli_csv_json_and_text(tmp_path):
    f = write_csv(tmp_path / "runs.csv", synthetic())
    runner = CliRunner()
    r = runner.invoke(app, ["budget", "--csv", str(f), "--target", "0.55", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["fit"]["a"] == pytest.approx(A, abs=1e-3) and out["reachable"] is True
    assert out["cost_for_target"] == pytest.approx((B / (A - 0.55)) ** (1 / C), rel=1e-2)
    assert len(out["curve"]) == 60
    r = runner.invoke(app, ["budget", "--csv", str(f), "--target", "0.9"])
    assert r.exit_code == 0
    assert "a = 0.62" in r.stdout and "RMSE" in r.stdout
    assert "unreachable: asymptote a = 0.62 < target" in r.stdout


def test_cli_bad_input_is_one_line(tmp_path):
    runner = CliRunner()
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n")
    r = runner.invoke(app, ["budget", "--csv", str(bad)])
    assert r.exit_code == 2 and "must name a `cost` and a `score` column" in r.stderr
    r = runner.invoke(app, ["budget", "--csv", str(tmp_path / "missing.csv")])
    assert r.exit_code == 2 and "no such file" in r.stderr


def test_points_from_eval_runs(tmp_path, store):
    from store import evals

    for x, y in synthetic():
        run = evals.create_eval_run(store, model="student", base_url=None, tasks_spec="heldout", seeds=1,
                                    config={"budget_cost": x})
        evals.add_eval_result(store, eval_run_id=run, seed=0, task_ref="t", recall=y)
        evals.finish_eval_run(store, run)
    f = b.fit(b.points_from_store(store))
    assert f.a == pytest.approx(A, abs=1e-3)
