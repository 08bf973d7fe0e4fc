"""Queries for training runs (`train_runs`) and their per-step metrics (`train_metrics`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.db import Store

_METRIC_FIELDS = ("step", "epoch", "loss", "lr", "tokens_per_s", "gpu_mem_mb", "eta_s")


@dataclass(frozen=True)
class TrainRunRow:
    id: int
    dataset_id: int | None
    dataset_path: str | None
    base_model: str | None
    method: str | None
    out_dir: str | None
    config: dict[str, Any]
    status: str
    pid: int | None
    final_loss: float | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class TrainMetric:
    step: int
    epoch: float | None
    loss: float | None
    lr: float | None
    tokens_per_s: float | None
    gpu_mem_mb: float | None
    eta_s: float | None


def _row(d: dict[str, Any]) -> TrainRunRow:
    cfg = d.get("config")
    return TrainRunRow(d["id"], d["dataset_id"], d["dataset_path"], d["base_model"], d["method"], d["out_dir"],
                       json.loads(cfg) if isinstance(cfg, str) else (cfg or {}), d["status"], d["pid"],
                       d["final_loss"], d["error"], d["started_at"], d["finished_at"])


def create_train_run(store: Store, *, dataset_path: str, base_model: str, method: str, out_dir: str,
                     config: dict[str, Any], dataset_id: int | None = None, pid: int | None = None) -> int:
    return store.insert_returning_id(
        "INSERT INTO train_runs (dataset_id, dataset_path, base_model, method, out_dir, config, status, pid)"
        " VALUES (?, ?, ?, ?, ?, ?, 'running', ?) RETURNING id",
        [dataset_id, dataset_path, base_model, method, out_dir, json.dumps(config), pid])


def set_train_pid(store: Store, train_run_id: int, pid: int) -> None:
    store.execute("UPDATE train_runs SET pid=? WHERE id=?", [pid, train_run_id])


def add_metric(store: Store, train_run_id: int, record: dict[str, Any]) -> None:
    """Store one progress record (keys as in TrainMetric; others ignored)."""
    values = [record.get(k) for k in _METRIC_FIELDS]
    store.execute(
        "INSERT INTO train_metrics (train_run_id, step, epoch, loss, lr, tokens_per_s, gpu_mem_mb, eta_s)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [train_run_id, *values])


def finish_train_run(store: Store, train_run_id: int, status: str, *, final_loss: float | None = None,
                     error: str | None = None) -> None:
    store.execute("UPDATE train_runs SET status=?, final_loss=?, error=?, finished_at=current_timestamp"
                  " WHERE id=?", [status, final_loss, error, train_run_id])


def get_train_run(store: Store, train_run_id: int) -> TrainRunRow | None:
    rows = store.fetchdicts("SELECT * FROM train_runs WHERE id=?", [train_run_id])
    return _row(rows[0]) if rows else None


def list_train_runs(store: Store, status: str | None = None) -> list[TrainRunRow]:
    sql, params = "SELECT * FROM train_runs", []
    if status:
        sql += " WHERE status=?"
        params.append(status)
    return [_row(d) for d in store.fetchdicts(sql + " ORDER BY id DESC", params)]


def metrics_for_run(store: Store, train_run_id: int) -> list[TrainMetric]:
    rows = store.fetchall(
        f"SELECT {', '.join(_METRIC_FIELDS)} FROM train_metrics WHERE train_run_id=? ORDER BY step, logged_at",
        [train_run_id])
    return [TrainMetric(*r) for r in rows]


def dataset_by_name(store: Store, name: str) -> tuple[int, str | None] | None:
    """(id, path) of a dataset recorded by `sera export`, or None."""
    row = store.fetchone("SELECT id, path FROM datasets WHERE name=?", [name])
    return (int(row[0]), row[1]) if row else None
