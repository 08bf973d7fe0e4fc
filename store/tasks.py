"""Queries for SVG tasks, their judge/PR attempts and their recall scores."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.db import Store

# States a task can end in; `rollout_failed:<exit reason>` carries the rollout's exit reason.
FINAL_STATES = ("kept", "below_threshold", "judged_invalid", "empty_patch", "cancelled")
UNFINISHED_STATES = ("pending", "running", "cancelled")


def is_final(state: str) -> bool:
    return state in FINAL_STATES or state.startswith("rollout_failed:")


@dataclass(frozen=True)
class TaskRow:
    id: int
    run_id: int
    repo_id: int | None
    seq: int
    file: str | None
    function: str | None
    start_line: int | None
    end_line: int | None
    language: str | None
    category: str | None
    instruction: str | None
    seed: int | None
    base_commit: str | None
    state: str
    reason: str | None
    heldout: bool
    created_at: datetime | None
    finished_at: datetime | None


def _task(d: dict) -> TaskRow:
    return TaskRow(**{k: d[k] for k in TaskRow.__dataclass_fields__})


@dataclass(frozen=True)
class PRAttempt:
    id: int
    task_id: int
    attempt: int
    judge_verdict: bool | None
    judge_text: str | None
    pr_text: str | None
    demo_source: str | None
    accepted: bool
    error: str | None


@dataclass(frozen=True)
class ScoreRow:
    task_id: int
    mode: str
    recall: float | None
    matched: int | None
    total: int | None
    matched_lines: list[Any]


@dataclass(frozen=True)
class RolloutRef:
    """What the pipeline needs to know about a task's rollouts (the rollouts table is issue 3's)."""
    id: int
    task_id: int | None
    stage: str
    status: str
    exit_reason: str | None
    patch: str | None
    worktree: str | None
    prompt_tokens: int
    completion_tokens: int
    cost: float


# -- tasks ------------------------------------------------------------------------------------
_TASK_COLUMNS = ("run_id", "repo_id", "seq", "file", "function", "start_line", "end_line", "language", "category",
                 "instruction", "seed", "base_commit")
_INSERT_TASKS = f"INSERT INTO tasks ({', '.join(_TASK_COLUMNS)}) VALUES "
_TASK_ROW = "(" + ", ".join(["?"] * len(_TASK_COLUMNS)) + ")"


def create_task(store: Store, *, run_id: int, repo_id: int | None, seq: int, file: str, function: str,
                start_line: int, end_line: int, language: str, category: str, instruction: str,
                seed: int | None, base_commit: str | None) -> int:
    return create_tasks(store, [dict(run_id=run_id, repo_id=repo_id, seq=seq, file=file, function=function,
                                     start_line=start_line, end_line=end_line, language=language,
                                     category=category, instruction=instruction, seed=seed,
                                     base_commit=base_commit)])[0]


def create_tasks(store: Store, rows: list[dict[str, Any]]) -> list[int]:
    """Create many tasks of one run in one transaction (all or none: a crash never leaves half a run
    planned), a few hundred rows a statement. Their ids, in the order of `rows` (seq is unique)."""
    if len({r["seq"] for r in rows}) != len(rows):
        raise ValueError("create_tasks: each task needs its own seq")
    ids: dict[int, int] = {}
    with store.transaction():
        for k in range(0, len(rows), 200):
            chunk = rows[k:k + 200]
            got = store.fetchall(_INSERT_TASKS + ", ".join([_TASK_ROW] * len(chunk)) + " RETURNING seq, id",
                                 [r[c] for r in chunk for c in _TASK_COLUMNS])
            ids.update((int(seq), int(i)) for seq, i in got)
    return [ids[r["seq"]] for r in rows]


def get_task(store: Store, task_id: int) -> TaskRow | None:
    rows = store.fetchdicts("SELECT * FROM tasks WHERE id=?", [task_id])
    return _task(rows[0]) if rows else None


def set_task_state(store: Store, task_id: int, state: str, reason: str | None = None) -> None:
    if is_final(state):
        store.execute("UPDATE tasks SET state=?, reason=?, finished_at=current_timestamp WHERE id=?",
                      [state, reason, task_id])
    else:
        store.execute("UPDATE tasks SET state=?, reason=?, finished_at=NULL WHERE id=?",
                      [state, reason, task_id])


def tasks_for_run(store: Store, run_id: int) -> list[TaskRow]:
    return [_task(d) for d in store.fetchdicts("SELECT * FROM tasks WHERE run_id=? ORDER BY seq", [run_id])]


def unfinished_tasks(store: Store, run_id: int) -> list[TaskRow]:
    """Tasks a resume must (re)do: never started, in flight when the process died, or cancelled."""
    marks = ",".join("?" * len(UNFINISHED_STATES))
    return [_task(d) for d in store.fetchdicts(
        f"SELECT * FROM tasks WHERE run_id=? AND state IN ({marks}) ORDER BY seq", [run_id, *UNFINISHED_STATES])]


def cancel_pending(store: Store, run_id: int, reason: str) -> list[int]:
    """Mark never-started tasks cancelled (nothing is left silently pending); their ids."""
    with store.transaction():
        ids = [r[0] for r in store.fetchall("SELECT id FROM tasks WHERE run_id=? AND state='pending'", [run_id])]
        store.execute("UPDATE tasks SET state='cancelled', reason=?, finished_at=current_timestamp"
                      " WHERE run_id=? AND state='pending'", [reason, run_id])
    return ids


def run_counts(store: Store, run_id: int) -> dict[str, int]:
    """Tasks per state for a run, e.g. {"kept": 3, "rollout_failed:step_limit": 1}."""
    return {s: n for s, n in store.fetchall(
        "SELECT state, count(*) FROM tasks WHERE run_id=? GROUP BY state ORDER BY state", [run_id])}


# -- PR attempts ------------------------------------------------------------------------------
def add_pr_attempt(store: Store, *, task_id: int, attempt: int, judge_verdict: bool | None,
                   judge_text: str | None, pr_text: str | None, demo_source: str | None,
                   accepted: bool, error: str | None = None) -> int:
    return store.insert_returning_id(
        "INSERT INTO prs (task_id, attempt, judge_verdict, judge_text, pr_text, demo_source, accepted, error)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [task_id, attempt, judge_verdict, judge_text, pr_text, demo_source, accepted, error],
    )


def pr_attempts(store: Store, task_id: int) -> list[PRAttempt]:
    return [PRAttempt(**{k: d[k] for k in PRAttempt.__dataclass_fields__}) for d in store.fetchdicts(
        "SELECT * FROM prs WHERE task_id=? ORDER BY attempt, id", [task_id])]


def accepted_pr(store: Store, task_id: int) -> PRAttempt | None:
    return next((a for a in pr_attempts(store, task_id) if a.accepted), None)


# -- scores -----------------------------------------------------------------------------------
def add_score(store: Store, *, task_id: int, mode: str, recall: float | None, matched: int, total: int,
              matched_lines: list[Any] | None = None) -> None:
    store.execute(
        "INSERT INTO scores (task_id, mode, recall, matched, total, matched_lines) VALUES (?, ?, ?, ?, ?, ?)",
        [task_id, mode, recall, matched, total, json.dumps(matched_lines or [])],
    )


def replace_scores(store: Store, task_id: int, scores: list[dict[str, Any]]) -> None:
    """Write a pair's scores, replacing any from an interrupted earlier attempt (one row per mode)."""
    with store.transaction():
        store.execute("DELETE FROM scores WHERE task_id=?", [task_id])
        for s in scores:
            add_score(store, task_id=task_id, **s)


def scores_for_task(store: Store, task_id: int) -> list[ScoreRow]:
    out = []
    for d in store.fetchdicts("SELECT * FROM scores WHERE task_id=? ORDER BY mode", [task_id]):
        ml = d["matched_lines"]
        out.append(ScoreRow(d["task_id"], d["mode"], d["recall"], d["matched"], d["total"],
                            json.loads(ml) if isinstance(ml, str) else (ml or [])))
    return out


# -- rollouts of tasks (read + resume bookkeeping) --------------------------------------------
def task_rollouts(store: Store, task_id: int) -> list[RolloutRef]:
    return [RolloutRef(d["id"], d["task_id"], d["stage"], d["status"], d["exit_reason"], d["patch"],
                       d["worktree"], d["prompt_tokens"] or 0, d["completion_tokens"] or 0, d["cost"] or 0.0)
            for d in store.fetchdicts("SELECT * FROM rollouts WHERE task_id=? ORDER BY id", [task_id])]


def mark_interrupted_rollouts(store: Store, run_id: int) -> list[RolloutRef]:
    """Rollouts left 'running' by a dead process: mark them finished/interrupted; give them back."""
    rows = store.fetchdicts("SELECT * FROM rollouts WHERE run_id=? AND status='running'", [run_id])
    if rows:
        store.execute("UPDATE rollouts SET status='finished', exit_reason='interrupted',"
                      " error='process ended during the rollout; redone on resume',"
                      " finished_at=current_timestamp WHERE run_id=? AND status='running'", [run_id])
    return [RolloutRef(d["id"], d["task_id"], d["stage"], "finished", "interrupted", d["patch"], d["worktree"],
                       d["prompt_tokens"] or 0, d["completion_tokens"] or 0, d["cost"] or 0.0) for d in rows]


def run_usage(store: Store, run_id: int) -> dict[str, float]:
    row = store.fetchone("SELECT coalesce(sum(prompt_tokens),0), coalesce(sum(completion_tokens),0),"
                         " coalesce(sum(cost),0), count(*) FROM rollouts WHERE run_id=?", [run_id])
    assert row is not None
    return {"prompt_tokens": int(row[0]), "completion_tokens": int(row[1]), "cost": float(row[2]),
            "rollouts": int(row[3])}


def pair_table(store: Store, run_id: int) -> list[dict[str, Any]]:
    """One row per task: function, file, category, state, reason and both recalls (None if unscored)."""
    return store.fetchdicts(
        "SELECT t.id AS task_id, t.seq, t.function, t.file, t.category, t.state, t.reason,"
        " max(CASE WHEN s.mode='sera' THEN s.recall END) AS recall,"
        " max(CASE WHEN s.mode='per-file' THEN s.recall END) AS recall_per_file,"
        " max(CASE WHEN s.mode='sera' THEN s.total END) AS target_lines"
        " FROM tasks t LEFT JOIN scores s ON s.task_id = t.id WHERE t.run_id=?"
        " GROUP BY t.id, t.seq, t.function, t.file, t.category, t.state, t.reason ORDER BY t.seq", [run_id])
