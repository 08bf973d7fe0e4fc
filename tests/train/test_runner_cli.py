"""The training worker as a real subprocess: `sera train` end to end, stored runs and metrics,
TrainProgress events, cancel (SIGTERM -> checkpoint -> "cancelled") and --resume from that step."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from engine.events import EventBus, RunFinished, TrainProgress
from engine.train.config import build_config
from engine.train.runner import start_train
from store import training as db
from store.curation import record_dataset
from tests.train.conftest import chat, write_rows


def sera(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sera_tui.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False)


@pytest.mark.slow
def test_sera_train_end_to_end_by_dataset_name(tiny_model, dataset, workspace, tmp_path):
    store = workspace.open_store()
    record_dataset(store, name="tiny-export", path=str(dataset), format="openai", filters={}, tokenizer=None,
                   max_len=None, examples=[])
    store.close()
    out = tmp_path / "run"
    r = sera("--workspace", str(workspace.root), "train", "--dataset", "tiny-export", "--base-model",
             str(tiny_model), "--out", str(out), "--max-steps", "3", "--batch", "2", "--lr", "1e-3", "--json",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    records = [json.loads(line) for line in r.stdout.splitlines()]  # stdout is JSON lines only
    progress = [x for x in records if x["event"] == "progress"]
    assert [p["step"] for p in progress] == [1, 2, 3] and all(p["max_steps"] == 3 for p in progress)
    assert {"epoch", "loss", "lr", "tokens_per_s", "gpu_mem_mb", "eta_s"} <= set(progress[0])
    final = records[-1]
    assert final["event"] == "final" and final["status"] == "finished" and final["step"] == 3
    assert (out / "adapter_config.json").is_file() and (out / "train_config.json").is_file()

    store = workspace.open_store(read_only=True)
    (run,) = db.list_train_runs(store)
    assert run.status == "finished" and run.dataset_path == str(dataset) and run.method == "lora"
    assert run.final_loss == pytest.approx(progress[-1]["loss"]) and run.config["max_steps"] == 3
    assert [m.step for m in db.metrics_for_run(store, run.id)] == [1, 2, 3]
    store.close()

    from typer.testing import CliRunner

    from sera_tui.cli import app

    again = CliRunner().invoke(app, ["--workspace", str(workspace.root), "train", "--dataset", str(dataset),
                                     "--base-model", str(tiny_model), "--out", str(out)])
    assert again.exit_code == 2 and "already holds a training run" in again.stderr  # nothing overwritten


def test_sera_train_bad_input_fails_fast_with_one_line(tiny_model, dataset, workspace, tmp_path):
    from typer.testing import CliRunner

    from sera_tui.cli import app

    o = str(tmp_path / "o")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(chat(1)) + "\n{broken\n")
    cases = [
        (["--dataset", "no-such-export", "--base-model", str(tiny_model), "--out", o], "neither a JSONL file"),
        (["--dataset", str(dataset), "--base-model", str(tiny_model), "--out", o, "--method", "qlora"],
         "--method qlora needs a CUDA GPU"),
        (["--dataset", str(dataset), "--base-model", str(tiny_model), "--out", o, "--precision", "bf16"],
         "needs a CUDA GPU"),
        (["--dataset", str(dataset), "--base-model", str(tiny_model), "--out", o, "--resume"], "no checkpoint"),
        (["--dataset", str(dataset), "--base-model", "./missing-model", "--out", o], "no such directory"),
        (["--dataset", str(dataset), "--base-model", str(tiny_model), "--out", o, "--lora-r", "0"],
         "--lora-r must be a positive integer"),
        (["--dataset", str(bad), "--base-model", str(tiny_model), "--out", o], "line 2: not valid JSON"),
    ]
    for args, expected in cases:
        r = CliRunner().invoke(app, ["--workspace", str(workspace.root), "train", *args])
        assert r.exit_code == 2, (args, r.output)
        assert expected in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not Path(o).exists()  # nothing written


@pytest.mark.slow
def test_all_masked_dataset_fails_the_run_with_the_clear_error(tiny_model, store, tmp_path):
    data = write_rows(tmp_path / "masked.jsonl", [chat(1, train=False, ident=i) for i in range(2)])
    config = build_config(data, tiny_model, tmp_path / "out", max_steps=2)
    result = start_train(store, config).wait(timeout=300)
    assert result.status == "failed"
    assert "every label is masked" in result.error and "line 1 (rollout_id 100)" in result.error
    assert db.get_train_run(store, result.train_run_id).error == result.error


@pytest.mark.slow
def test_ctrl_c_cancels_with_a_checkpoint_and_resume_continues_from_its_step(tiny_model, workspace, tmp_path):
    data = write_rows(tmp_path / "d.jsonl", [chat(1, ident=i) for i in range(4)])
    out = tmp_path / "out"
    # 1) `sera train`, Ctrl-C after step 2: the worker checkpoints at the next step, the run is cancelled
    proc = subprocess.Popen([sys.executable, "-m", "sera_tui.cli", "--workspace", str(workspace.root), "train",
                             "--dataset", str(data), "--base-model", str(tiny_model), "--out", str(out),
                             "--max-steps", "200", "--save-steps", "1000", "--lr", "1e-3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("step 2/200"):
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("sera: error: train run 1 cancelled; continue with --resume")
    ckpts = sorted(out.glob("checkpoint-*"))
    assert len(ckpts) == 1
    saved_step = int(ckpts[0].name.split("-")[1])
    assert saved_step >= 2

    store = workspace.open_store()
    try:
        first = db.get_train_run(store, 1)
        assert first.status == "cancelled" and [m.step for m in db.metrics_for_run(store, 1)][:2] == [1, 2]

        # 2) resume through the engine API: continues at saved_step + 1, events on the bus; cancel again
        config = build_config(data, tiny_model, out, max_steps=200, save_steps=1000, lr=1e-3, resume=True)
        bus, events = EventBus(), []
        started = threading.Event()

        def on_event(e):
            events.append(e)
            if isinstance(e, TrainProgress) and e.max_steps:
                started.set()

        bus.subscribe(on_event)
        seen: list[dict] = []
        handle = start_train(store, config, bus, on_record=seen.append)
        assert started.wait(timeout=240), "no progress from the resumed worker"
        handle.cancel(grace_s=60)
        result = handle.wait(timeout=120)
    finally:
        store.close()
    start = next(r for r in seen if r["event"] == "start")
    assert start["resume_from_step"] == saved_step
    progress = [e for e in events if isinstance(e, TrainProgress) and e.max_steps]
    assert progress[0].step == saved_step + 1 and progress[0].train_run_id == result.train_run_id == 2
    assert result.status == "cancelled"
    assert isinstance(events[-1], RunFinished) and events[-1].status == "cancelled"
