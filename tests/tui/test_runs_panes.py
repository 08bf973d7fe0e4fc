"""Train and Eval panes: render, list past runs from the store, refuse bad input with a message, and
launch / cancel real runs against the engines (train: a tiny model built locally, a real worker
subprocess)."""

from __future__ import annotations

from tests.tui.conftest import quiesce

import time
from pathlib import Path

import pytest
from textual.widgets import Button, DataTable, Input, Static

from store import training


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def status(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def rows(app, selector: str) -> list[list[str]]:
    t = app.screen.query_one(selector, DataTable)
    return [[str(c) for c in t.get_row_at(i)] for i in range(t.row_count)]


async def wait_until(pilot, cond, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await pilot.pause(0.2)


# -- Train ---------------------------------------------------------------------------------------

def _past_train_run(store) -> int:
    rid = training.create_train_run(store, dataset_path="/data/curated-v1.jsonl", base_model="/models/tiny-llama",
                                    method="lora", out_dir="/tmp/out", config={"dataset_name": "curated-v1"})
    for step, loss in ((1, 2.5), (2, 2.1), (3, 1.7)):
        training.add_metric(store, rid, {"step": step, "max_steps": 3, "epoch": step / 3, "loss": loss, "lr": 5e-5})
    training.finish_train_run(store, rid, "finished", final_loss=1.7)
    return rid


async def test_train_pane_lists_past_runs_and_shows_their_loss(make_app, populated):
    rid = _past_train_run(populated.store)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        assert type(app.screen).__name__ == "TrainScreen"
        assert rows(app, "#train-runs") == [[str(rid), "finished", "tiny-llama", "lora", "curated-v1", "1.7000",
                                             rows(app, "#train-runs")[0][6]]]
        app.screen.query_one("#train-runs", DataTable).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.query_one("#loss-chart").losses == [2.5, 2.1, 1.7]
        assert f"Run {rid}: finished" in status(app, "#train-status")


async def test_train_dataset_field_completes_exported_datasets(make_app, populated):
    (populated.workspace.exports_dir / "curated-v1.jsonl").write_text("")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        app.screen.query_one("#dataset", Input).focus()
        await pilot.press("c", "u", "right")
        await pilot.pause(0.1)
        assert app.screen.query_one("#dataset", Input).value == "curated-v1"


async def test_train_launch_needs_a_dataset_and_model(make_app, populated):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert "Give a dataset" in status(app, "#train-status")
        app.screen.query_one("#dataset", Input).value = "no-such-dataset"
        app.screen.query_one("#base-model", Input).value = "/nowhere/model"
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert "Not started" in status(app, "#train-status")
        assert "no-such-dataset" in status(app, "#train-status")
        assert training.list_train_runs(populated.store) == []  # nothing half-started


@pytest.fixture(scope="module")
def tiny_train_inputs(tmp_path_factory) -> tuple[Path, Path]:
    from engine.train.tiny import build_model, synthetic_rows, write_jsonl

    root = tmp_path_factory.mktemp("tiny-train")
    model = build_model(root / "model")
    data = write_jsonl(synthetic_rows(6), root / "data.jsonl")
    return data, model


async def _launch(pilot, data: Path, model: Path, steps: int) -> None:
    screen = pilot.app.screen
    screen.query_one("#dataset", Input).value = str(data)
    screen.query_one("#base-model", Input).value = str(model)
    screen.query_one("#max-steps", Input).value = str(steps)
    screen.query_one("#max-len", Input).value = "2048"
    await pilot.press("ctrl+l")


@pytest.mark.slow
async def test_train_launch_streams_progress_to_the_finish(make_app, populated, tiny_train_inputs):
    data, model = tiny_train_inputs
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        await _launch(pilot, data, model, steps=3)
        screen = app.screen
        await wait_until(pilot, lambda: "finished" in status(app, "#train-status")
                         or "failed" in status(app, "#train-status"), 240, "the run to end")
        assert "finished" in status(app, "#train-status"), status(app, "#train-status")
        assert screen.steps == [1, 2, 3] and len(screen.losses) == 3
        bar = screen.query_one("#train-progress")
        assert (bar.progress, bar.total) == (3, 3)
        log = "\n".join(screen.query_one("#train-log").lines)
        assert "step 3/3" in log and "run finished" in log
        (run,) = training.list_train_runs(populated.store)
        assert run.status == "finished" and run.final_loss == pytest.approx(screen.losses[-1])
        await settle(pilot)
        assert rows(app, "#train-runs")[0][1] == "finished"
        assert not screen.query_one("#launch", Button).disabled


@pytest.mark.slow
async def test_train_cancel_stops_the_worker(make_app, populated, tiny_train_inputs):
    data, model = tiny_train_inputs
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        await _launch(pilot, data, model, steps=5000)
        screen = app.screen
        # cancel as soon as the worker process exists (waiting for a step would cost ~30 s on 2 cores)
        await wait_until(pilot, lambda: screen.live_run_id is not None, 60, "the worker to start")
        assert not screen.handle.done
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: screen.handle.done, 120, "the worker to stop")
        await settle(pilot)
        assert "cancelled" in status(app, "#train-status")
        (run,) = training.list_train_runs(populated.store)
        assert run.status == "cancelled"


# -- Eval ----------------------------------------------------------------------------------------

def _past_eval_group(store) -> list[int]:
    from store import evals

    ids = []
    for model, recalls in (("base", {0: 0.2, 1: 0.4}), ("student", {0: 0.8, 1: 0.6})):
        rid = evals.create_eval_run(store, model=model, base_url="http://127.0.0.1:9/v1", tasks_spec="heldout",
                                    seeds=2, config={"group": "g1"})
        for seed, r in recalls.items():
            evals.add_eval_result(store, eval_run_id=rid, seed=seed, task_ref="task-2", recall=r,
                                  exit_reason="submitted")
        evals.finish_eval_run(store, rid)
        ids.append(rid)
    return ids


async def test_eval_pane_lists_past_runs_and_compares_models(make_app, populated):
    base_id, student_id = _past_eval_group(populated.store)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("6")
        await settle(pilot)
        assert type(app.screen).__name__ == "EvalScreen"
        table = rows(app, "#eval-runs")
        assert [r[:6] for r in table] == [[str(student_id), "student", "heldout", "2", "finished", "0.700 ± 0.141"],
                                          [str(base_id), "base", "heldout", "2", "finished", "0.300 ± 0.141"]]
        comparison = status(app, "#comparison")
        assert "base" in comparison and "0.300 ± 0.141" in comparison
        assert "student" in comparison and "0.700 ± 0.141" in comparison


async def test_eval_launch_refuses_bad_input_with_one_line(make_app, populated):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("6")
        await settle(pilot)
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert "Not started: name at least one model" in status(app, "#eval-status")
        app.screen.query_one("#models", Input).value = "student=http://127.0.0.1:9/v1"
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert "held-out tasks need a repo name" in status(app, "#eval-status")
        app.screen.query_one("#repo", Input).value = "sample"
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert "has no held-out tasks" in status(app, "#eval-status")
        assert not app.screen.query_one("#launch", Button).disabled


@pytest.fixture
def fix_add_task(make_repo, tmp_path):
    """A repo whose add() subtracts, a task file asking to fix it, and its reference patch."""
    import json
    import subprocess

    root = make_repo({"calc.py": "def add(a, b):\n    return a - b\n"}, name="calc")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                          check=True).stdout.strip()
    ref = ("diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n"
           "-    return a - b\n+    return a + b\n")
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps({"id": "fix-add", "repo": str(root), "base_commit": head,
                                "task_text": "add(2, 3) returns -1", "reference_patch": ref}) + "\n")
    return path


def _scripted_models(req):
    """'student' fixes add() with sed then submits; 'base' submits at once (empty patch)."""
    from engine.loopback import tool_call_reply

    if req["messages"][-1]["role"] == "tool" or req["model"] == "base":
        return tool_call_reply("submit", {})
    return tool_call_reply("bash", {"command": "sed -i 's/a - b/a + b/' calc.py"})


@pytest.mark.slow
async def test_eval_launch_runs_the_engine_and_shows_mean_std(make_app, populated, fix_add_task):
    from engine.loopback import ScriptedOpenAIServer
    from store import evals

    with ScriptedOpenAIServer(_scripted_models, model="student") as srv:
        app = make_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("6")
            await settle(pilot)
            screen = app.screen
            screen.query_one("#models", Input).value = f"student={srv.base_url}, base={srv.base_url}"
            screen.query_one("#tasks", Input).value = str(fix_add_task)
            screen.query_one("#seeds", Input).value = "2"
            await pilot.press("ctrl+l")
            await wait_until(pilot, lambda: not screen.running, 120, "the evaluation to end")
            await settle(pilot)
            assert "Evaluation finished: student 1.000 ± 0.000 · base 0.000 ± 0.000" in status(app, "#eval-status")
            bar = screen.query_one("#eval-progress")
            assert (bar.progress, bar.total) == (4, 4)
            log = "\n".join(screen.query_one("#eval-log").lines)
            assert "student seed 1 fix-add: recall 1.00" in log
            assert [r[1] for r in rows(app, "#eval-runs")] == ["base", "student"]
            comparison = status(app, "#comparison")
            assert "student" in comparison and "1.000 ± 0.000" in comparison
    assert {r.model: r.mean for r in evals.list_eval_runs(populated.store)} == {"student": 1.0, "base": 0.0}


@pytest.mark.parametrize("key", ["5", "6"], ids=["train", "eval"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_runs_pane_snapshot(snap_compare, make_app, key, size):
    async def run_before(pilot) -> None:
        await pilot.press(key)
        await quiesce(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


async def test_eval_repo_field_completes_registered_repos(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("6")
        await settle(pilot)
        app.screen.query_one("#repo", Input).focus()
        await pilot.press("s", "a", "right")  # accept the suggestion
        await pilot.pause(0.1)
        assert app.screen.query_one("#repo", Input).value == "sample"
