"""Queries for runs (a generate/demo/rollout/import/eval invocation)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.db import Store


@dataclass(frozen=True)
class RunRow:
    id: int
    repo_id: int | None
    kind: str
    status: str
    config: dict[str, Any]
    base_commit: str | None
    pid: int | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None


def _row(d: dict) -> RunRow:
    cfg = d.get("config")
    return RunRow(d["id"], d["repo_id"], d["kind"], d["status"],
                  json.loads(cfg) if isinstance(cfg, str) else (cfg or {}), d["base_commit"], d["pid"],
                  d["started_at"], d["finished_at"], d["error"])


def create_run(store: Store, kind: str, *, repo_id: int | None = None, config: dict | None = None,
               base_commit: str | None = None) -> int:
    return store.insert_returning_id(
        "INSERT INTO runs (repo_id, kind, status, config, base_commit, pid) VALUES (?, ?, 'running', ?, ?, ?)"
        " RETURNING id",
        [repo_id, kind, json.dumps(config or {}), base_commit, os.getpid()],
    )


def mark_running(store: Store, run_id: int) -> None:
    """A resumed run belongs to this process now."""
    store.execute("UPDATE runs SET status='running', pid=?, finished_at=NULL, error=NULL WHERE id=?",
                  [os.getpid(), run_id])


def finish_run(store: Store, run_id: int, status: str = "finished", error: str | None = None) -> None:
    store.execute("UPDATE runs SET status=?, error=?, finished_at=current_timestamp WHERE id=?",
                  [status, error, run_id])


def get_run(store: Store, run_id: int) -> RunRow | None:
    rows = store.fetchdicts("SELECT * FROM runs WHERE id=?", [run_id])
    return _row(rows[0]) if rows else None


def list_runs(store: Store, kind: str | None = None, repo_id: int | None = None) -> list[RunRow]:
    sql, params = "SELECT * FROM runs WHERE 1=1", []
    if kind:
        sql += " AND kind=?"
        params.append(kind)
    if repo_id is not None:
        sql += " AND repo_id=?"
        params.append(repo_id)
    return [_row(d) for d in store.fetchdicts(sql + " ORDER BY id DESC", params)]
