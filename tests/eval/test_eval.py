"""`sera eval` runs the agent over seeds on a tmp repo against a scripted model server and reports
per-seed results and mean ± std, several models side by side, stored as eval runs."""

from __future__ import annotations

import json
import statistics

import pytest
from typer.testing import CliRunner

from engine.agent import AgentConfig
from engine.eval import EvalConfig, ModelSpec, load_task_file, run_eval
from engine.events import EvalProgress, EventBus, RunFinished
from sera_tui.cli import app
from store import evals as q


def test_engine_run_eval_per_seed_mean_std(store, workspace, task_file, model_server):
    bus = EventBus()
    events = []
    bus.subscribe(events.append)
    config = EvalConfig(models=[ModelSpec("student", [model_server.base_url])], tasks=load_task_file(task_file),
                        tasks_spec=str(task_file), seeds=3, agent=AgentConfig(step_limit=10))
    report = run_eval(store, workspace, config, bus=bus)
    s = report.models[0]["summary"]
    assert s["seed_means"] == {0: 1.0, 1: 1.0, 2: 0.0}
    assert s["mean"] == pytest.approx(2 / 3) and s["std"] == pytest.approx(statistics.stdev([1, 1, 0]))
    by_task = {t["task_ref"]: t for t in s["tasks"]}
    assert by_task["fix-add"]["recall"] == {0: 1.0, 1: 1.0, 2: 0.0}
    # the repo's test command ran in the sandbox after each rollout
    assert by_task["fix-mul"]["tests_passed"] == {0: True, 1: True, 2: False}
    assert s["tests_mean"] == pytest.approx(2 / 3)
    progress = [e for e in events if isinstance(e, EvalProgress)]
    assert [e.done for e in progress] == list(range(1, 7)) and progress[-1].total == 6
    assert isinstance(events[-1], RunFinished) and events[-1].status == "finished"
    run = q.get_eval_run(store, report.models[0]["eval_run_id"])
    assert run.status == "finished" and run.mean == pytest.approx(2 / 3) and run.seeds == 3
    # eval rollouts are stored, as stage "eval", untied to any SVG task
    rows = store.fetchall("SELECT stage, task_id, exit_reason FROM rollouts")
    assert len(rows) == 6 and {r[0] for r in rows} == {"eval"} and {r[1] for r in rows} == {None}


def test_cli_models_side_by_side(workspace, task_file, model_server):
    runner = CliRunner()
    url = model_server.base_url
    r = runner.invoke(app, ["--workspace", str(workspace.root), "eval", "--model", "student", "--model", "base",
                            "--base-url", url, "--tasks", str(task_file), "--seeds", "3", "--step-limit", "10"])
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "student (eval run 1): recall 0.667 ± 0.577 over 3 seed(s)" in out
    assert "base (eval run 2): recall 0.000 ± 0.000" in out
    assert "fix-add" in out and "per-seed mean: seed 0: 1.000, seed 1: 1.000, seed 2: 0.000" in out
    assert "model    recall (mean ± std)" in out
    r = runner.invoke(app, ["--workspace", str(workspace.root), "eval", "--model", "student", "--base-url", url,
                            "--tasks", str(task_file), "--seeds", "2", "--json", "--budget-cost", "100"])
    data = json.loads(r.stdout)
    assert data["models"][0]["summary"]["seed_means"] == {"0": 1.0, "1": 1.0}
    with workspace.open_store() as s:
        runs = q.list_eval_runs(s)
        assert [x.model for x in runs] == ["student", "base", "student"]
        assert runs[1].config["group"] == runs[2].config["group"] != runs[0].config["group"]
        assert q.budget_points(s) == [(100.0, 1.0)]


def test_cli_bad_input(workspace, tmp_path, task_file):
    runner = CliRunner()
    ws = ["--workspace", str(workspace.root)]
    r = runner.invoke(app, [*ws, "eval", "--model", "a", "--model", "b", "--base-url", "u1", "--base-url", "u2",
                            "--base-url", "u3", "--tasks", str(task_file)])
    assert r.exit_code == 2 and "once per --model" in r.stderr
    r = runner.invoke(app, [*ws, "eval", "--model", "a", "--tasks", str(task_file)])
    assert r.exit_code == 2 and "needs a --base-url" in r.stderr
    r = runner.invoke(app, [*ws, "eval", "--model", "a", "--base-url", "http://x/v1"])
    assert r.exit_code == 2 and "needs --repo" in r.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "repo": "/nope"}\n')
    r = runner.invoke(app, [*ws, "eval", "--model", "a", "--base-url", "http://x/v1", "--tasks", str(bad)])
    assert r.exit_code == 2 and "bad.jsonl:1: missing base_commit, task_text, reference_patch" in r.stderr


def test_cancel_keeps_finished_results(store, workspace, task_file, model_server):
    import threading

    cancel = threading.Event()
    bus = EventBus()
    bus.subscribe(lambda e: cancel.set() if isinstance(e, EvalProgress) and e.done == 2 else None)
    config = EvalConfig(models=[ModelSpec("student", [model_server.base_url])], tasks=load_task_file(task_file),
                        seeds=3, agent=AgentConfig(step_limit=10))
    report = run_eval(store, workspace, config, bus=bus, cancel=cancel)
    assert report.status == "cancelled"
    run = q.get_eval_run(store, report.models[0]["eval_run_id"])
    assert run.status == "cancelled"
    results = q.eval_results(store, run.id)
    assert 2 <= len(results) < 6 and all(r["exit_reason"] != "cancelled" for r in results)
