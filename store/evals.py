"""Queries for evaluation runs, their per-(task, seed) results, and held-out splits."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.db import Store


@dataclass(frozen=True)
class EvalRunRow:
    id: int
    repo_id: int | None
    model: str
    base_url: str | None
    tasks_spec: str | None
    seeds: int | None
    status: str
    config: dict[str, Any]
    mean: float | None
    std: float | None
    cost: float
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None


def _run(d: dict) -> EvalRunRow:
    cfg = d.get("config")
    return EvalRunRow(d["id"], d["repo_id"], d["model"], d["base_url"], d["tasks_spec"], d["seeds"], d["status"],
                      json.loads(cfg) if isinstance(cfg, str) else (cfg or {}), d["mean"], d["std"],
                      float(d["cost"] or 0), d["error"], d["started_at"], d["finished_at"])


def create_eval_run(store: Store, *, model: str, base_url: str | None, tasks_spec: str, seeds: int,
                    repo_id: int | None = None, config: dict[str, Any] | None = None) -> int:
    return store.insert_returning_id(
        "INSERT INTO eval_runs (repo_id, model, base_url, tasks_spec, seeds, status, config)"
        " VALUES (?, ?, ?, ?, ?, 'running', ?) RETURNING id",
        [repo_id, model, base_url, tasks_spec, seeds, json.dumps(config or {})])


def add_eval_result(store: Store, *, eval_run_id: int, seed: int, task_ref: str, task_id: int | None = None,
                    rollout_id: int | None = None, recall: float | None = None, tests_passed: bool | None = None,
                    exit_reason: str | None = None, cost: float = 0.0) -> None:
    store.execute(
        "INSERT INTO eval_results (eval_run_id, task_id, task_ref, seed, rollout_id, recall, tests_passed,"
        " exit_reason, cost) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [eval_run_id, task_id, task_ref, seed, rollout_id, recall, tests_passed, exit_reason, cost])


def finish_eval_run(store: Store, eval_run_id: int, *, status: str = "finished", error: str | None = None) -> None:
    """Close a run, storing mean ± std over seeds computed from its results."""
    s = eval_summary(store, eval_run_id)
    store.execute(
        "UPDATE eval_runs SET status=?, error=?, mean=?, std=?, cost=?, finished_at=current_timestamp WHERE id=?",
        [status, error, s["mean"], s["std"], s["cost"], eval_run_id])


def get_eval_run(store: Store, eval_run_id: int) -> EvalRunRow | None:
    rows = store.fetchdicts("SELECT * FROM eval_runs WHERE id=?", [eval_run_id])
    return _run(rows[0]) if rows else None


def list_eval_runs(store: Store, *, repo_id: int | None = None, group: str | None = None) -> list[EvalRunRow]:
    """Newest first. `group` selects the runs of one `sera eval` invocation (models side by side)."""
    sql, params = "SELECT * FROM eval_runs WHERE 1=1", []
    if repo_id is not None:
        sql += " AND repo_id=?"
        params.append(repo_id)
    if group is not None:
        sql += " AND json_extract_string(config, '$.group') = ?"
        params.append(group)
    return [_run(d) for d in store.fetchdicts(sql + " ORDER BY id DESC", params)]


def eval_results(store: Store, eval_run_id: int) -> list[dict[str, Any]]:
    return store.fetchdicts(
        "SELECT task_id, task_ref, seed, rollout_id, recall, tests_passed, exit_reason, cost FROM eval_results"
        " WHERE eval_run_id=? ORDER BY task_ref, seed", [eval_run_id])


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def eval_summary(store: Store, eval_run_id: int) -> dict[str, Any]:
    """Per-seed means, mean ± std over seeds (SERA's way of reporting), and per-task results.

    A task whose rollout produced no patch scores 0 recall (it failed the task); recall stays
    NULL only where the reference patch has no changed lines, and such results are left out.
    """
    rows = eval_results(store, eval_run_id)
    by_seed: dict[int, list[float]] = {}
    tests_by_seed: dict[int, list[bool]] = {}
    tasks: dict[str, dict[str, Any]] = {}
    for r in rows:
        t = tasks.setdefault(r["task_ref"], {"task_ref": r["task_ref"], "task_id": r["task_id"], "recall": {},
                                             "tests_passed": {}, "exit_reason": {}})
        t["recall"][r["seed"]] = r["recall"]
        t["tests_passed"][r["seed"]] = r["tests_passed"]
        t["exit_reason"][r["seed"]] = r["exit_reason"]
        if r["recall"] is not None:
            by_seed.setdefault(r["seed"], []).append(float(r["recall"]))
        if r["tests_passed"] is not None:
            tests_by_seed.setdefault(r["seed"], []).append(bool(r["tests_passed"]))
    for t in tasks.values():
        t["mean"], t["std"] = _mean_std([v for v in t["recall"].values() if v is not None])
    seed_means = {s: statistics.fmean(v) for s, v in sorted(by_seed.items())}
    mean, std = _mean_std(list(seed_means.values()))
    pass_rates = {s: sum(v) / len(v) for s, v in sorted(tests_by_seed.items())}
    pass_mean, pass_std = _mean_std(list(pass_rates.values()))
    return {
        "eval_run_id": eval_run_id, "n_results": len(rows), "seed_means": seed_means, "mean": mean, "std": std,
        "tests_pass_rate": pass_rates, "tests_mean": pass_mean, "tests_std": pass_std,
        "cost": float(sum(r["cost"] or 0 for r in rows)), "tasks": sorted(tasks.values(), key=lambda t: t["task_ref"]),
    }


def budget_points(store: Store, *, repo: str | None = None, model: str | None = None) -> list[tuple[float, float]]:
    """(budget cost, mean score) of finished eval runs whose config recorded `budget_cost`."""
    cost = "TRY_CAST(json_extract_string(e.config, '$.budget_cost') AS DOUBLE)"  # JSON null -> NULL
    sql = (f"SELECT {cost} AS cost, e.mean FROM eval_runs e"
           " LEFT JOIN repos rp ON rp.id = e.repo_id WHERE e.status='finished' AND e.mean IS NOT NULL"
           f" AND {cost} IS NOT NULL")
    params: list[Any] = []
    if repo:
        sql += " AND rp.name=?"
        params.append(repo)
    if model:
        sql += " AND e.model=?"
        params.append(model)
    return [(float(c), float(m)) for c, m in store.fetchall(sql + " ORDER BY cost", params)]


# -- held-out split -------------------------------------------------------------------------
def heldout_candidates(store: Store, repo_id: int) -> list[int]:
    """Tasks of the repo usable for evaluation: an accepted PR (the task) and a T1 patch (the reference)."""
    rows = store.fetchall(
        "SELECT DISTINCT t.id FROM tasks t JOIN prs p ON p.task_id = t.id AND p.accepted"
        " JOIN rollouts r ON r.task_id = t.id AND r.stage = 'T1' AND coalesce(r.patch, '') <> ''"
        " WHERE t.repo_id = ? ORDER BY t.id", [repo_id])
    return [int(r[0]) for r in rows]


def heldout_task_ids(store: Store, repo_id: int) -> list[int]:
    return [int(r[0]) for r in store.fetchall(
        "SELECT id FROM tasks WHERE repo_id=? AND heldout ORDER BY id", [repo_id])]


def record_heldout(store: Store, *, repo_id: int, task_ids: list[int], fraction: float, seed: int,
                   n_candidates: int) -> int:
    """Mark tasks held out (never un-marked: they may already have been evaluated) and record the draw."""
    with store.transaction():
        if task_ids:
            store.execute("UPDATE tasks SET heldout = true WHERE list_contains(?, id)", [task_ids])
        return store.insert_returning_id(
            "INSERT INTO heldout_splits (repo_id, fraction, seed, n_candidates, n_heldout) VALUES (?, ?, ?, ?, ?)"
            " RETURNING id", [repo_id, fraction, seed, n_candidates, len(heldout_task_ids(store, repo_id))])


def heldout_splits(store: Store, repo_id: int) -> list[dict[str, Any]]:
    return store.fetchdicts("SELECT * FROM heldout_splits WHERE repo_id=? ORDER BY id", [repo_id])


def heldout_eval_tasks(store: Store, repo_id: int) -> list[dict[str, Any]]:
    """Held-out tasks as eval tasks: the accepted PR text is the task, T1's patch the reference."""
    return store.fetchdicts(
        """
        SELECT t.id AS task_id, coalesce(t.base_commit, ru.base_commit) AS base_commit,
               (SELECT arg_max(p.pr_text, p.attempt) FROM prs p WHERE p.task_id = t.id AND p.accepted) AS task_text,
               (SELECT arg_max(r.patch, r.id) FROM rollouts r WHERE r.task_id = t.id AND r.stage = 'T1')
                   AS reference_patch,
               t.function, t.file
        FROM tasks t LEFT JOIN runs ru ON ru.id = t.run_id
        WHERE t.repo_id = ? AND t.heldout ORDER BY t.id
        """, [repo_id])
