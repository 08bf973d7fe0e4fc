"""Train and Eval panes: render, list past runs from the store, refuse bad input with a message, and
launch / cancel real runs against the engines (train: a tiny model built locally, a real worker
subprocess)."""

from __future__ import annotations

import importlib.util
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
