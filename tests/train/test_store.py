"""store/training.py against a real DuckDB file, and resolving --dataset names through it."""

from __future__ import annotations

import pytest

from engine.train.data import DatasetError
from engine.train.runner import resolve_dataset
from store import training as db
from store.curation import record_dataset


def test_train_run_lifecycle(store):
    rid = db.create_train_run(store, dataset_path="/d.jsonl", base_model="m", method="lora", out_dir="/o",
                              config={"lr": 1e-4}, dataset_id=None)
    db.set_train_pid(store, rid, 4242)
    for step, loss in ((1, 2.5), (2, 2.0), (3, 1.5)):
        db.add_metric(store, rid, {"event": "progress", "step": step, "epoch": step / 3, "loss": loss, "lr": 1e-4,
                                   "tokens_per_s": 100.0, "gpu_mem_mb": None, "eta_s": 3 - step, "extra": "ignored"})
    run = db.get_train_run(store, rid)
    assert (run.status, run.pid, run.config, run.finished_at) == ("running", 4242, {"lr": 1e-4}, None)
    assert db.list_train_runs(store, status="running")[0].id == rid
    db.finish_train_run(store, rid, "finished", final_loss=1.5)
    run = db.get_train_run(store, rid)
    assert run.status == "finished" and run.final_loss == 1.5 and run.finished_at is not None
    assert db.list_train_runs(store, status="running") == []
    metrics = db.metrics_for_run(store, rid)
    assert [(m.step, m.loss, m.eta_s) for m in metrics] == [(1, 2.5, 2), (2, 2.0, 1), (3, 1.5, 0)]
    assert db.get_train_run(store, 999) is None


def test_dataset_names_resolve_through_the_store(store, tmp_path):
    data = tmp_path / "export.jsonl"
    data.write_text("{}\n")
    did = record_dataset(store, name="ex1", path=str(data), format="openai", filters={}, tokenizer=None,
                         max_len=None, examples=[])
    assert resolve_dataset(store, "ex1") == (str(data), did)
    assert resolve_dataset(store, str(data)) == (str(data), None)  # a file wins, no lookup
    record_dataset(store, name="gone", path=str(tmp_path / "deleted.jsonl"), format="openai", filters={},
                   tokenizer=None, max_len=None, examples=[])
    with pytest.raises(DatasetError, match="does not exist"):
        resolve_dataset(store, "gone")
    with pytest.raises(DatasetError, match="neither a JSONL file nor a dataset"):
        resolve_dataset(store, "nope")
