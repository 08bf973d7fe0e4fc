"""Read queries behind the pair views of the TUI: repo overviews, the tasks of a run with their state
and recall, and everything about one pair (instruction, PR, both rollouts and patches, scores)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from store.db import Store


@dataclass(frozen=True)
class RepoOverview:
    id: int
    name: str
    path: str
    head_commit: str | None
    languages: dict[str, int]
    pairs: int      # tasks with a scored T1/T2 pair
    kept: int
    reviewed: int   # tasks with at least one verdict


@dataclass(frozen=True)
class TaskView:
    id: int
    run_id: int
    seq: int
    function: str | None
    file: str | None
    category: str | None
    state: str
    stage: str | None           # latest rollout's stage (T1/T2), None before the first rollout
    steps: int                  # latest rollout's steps
    recall: float | None        # sera mode
    recall_per_file: float | None


@dataclass
class RolloutView:
    id: int
    stage: str
    model: str | None
    status: str
    exit_reason: str | None
    patch: str | None
    steps: int
    prompt_tokens: int
    completion_tokens: int
    cost: float
    task_text: str | None


@dataclass
class PairDetails:
    task_id: int
    run_id: int
    repo: str | None
    function: str | None
    file: str | None
    category: str | None
    state: str
    reason: str | None
    instruction: str | None
    pr_text: str | None
    t1: RolloutView | None
    t2: RolloutView | None
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)  # mode -> {recall, matched, total}
    verdict: str | None = None


@dataclass(frozen=True)
class RunTotals:
    tasks: int
    done: int
    kept: int
    prompt_tokens: int
    completion_tokens: int
    cost: float
    mean_recall: float | None


_DONE_STATES = "state NOT IN ('pending', 'running')"


def repo_overviews(store: Store) -> list[RepoOverview]:
    rows = store.fetchdicts(
        """
        SELECT r.id, r.name, r.path, r.head_commit, r.languages,
               count(DISTINCT s.task_id) AS pairs,
               count(DISTINCT CASE WHEN t.state = 'kept' THEN t.id END) AS kept,
               count(DISTINCT v.task_id) AS reviewed
        FROM repos r
        LEFT JOIN tasks t ON t.repo_id = r.id
        LEFT JOIN (SELECT DISTINCT task_id FROM scores WHERE mode = 'sera') s ON s.task_id = t.id
        LEFT JOIN (SELECT DISTINCT task_id FROM reviews) v ON v.task_id = t.id
        GROUP BY ALL ORDER BY r.name
        """
    )
    out = []
    for d in rows:
        langs = d["languages"]
        langs = json.loads(langs) if isinstance(langs, str) else (langs or {})
        out.append(RepoOverview(d["id"], d["name"], d["path"], d["head_commit"], langs,
                                int(d["pairs"]), int(d["kept"]), int(d["reviewed"])))
    return out


def tasks_of_run(store: Store, run_id: int) -> list[TaskView]:
    rows = store.fetchdicts(
        """
        WITH last AS (
            SELECT task_id, stage, steps,
                   row_number() OVER (PARTITION BY task_id ORDER BY id DESC) AS rn
            FROM rollouts WHERE run_id = ?
        )
        SELECT t.id, t.run_id, t.seq, t.function, t.file, t.category, t.state,
               l.stage, coalesce(l.steps, 0) AS steps,
               (SELECT recall FROM scores s WHERE s.task_id = t.id AND s.mode = 'sera'
                ORDER BY created_at DESC LIMIT 1) AS recall,
               (SELECT recall FROM scores s WHERE s.task_id = t.id AND s.mode = 'per-file'
                ORDER BY created_at DESC LIMIT 1) AS recall_per_file
        FROM tasks t LEFT JOIN last l ON l.task_id = t.id AND l.rn = 1
        WHERE t.run_id = ? ORDER BY t.seq
        """,
        [run_id, run_id],
    )
    return [TaskView(d["id"], d["run_id"], d["seq"], d["function"], d["file"], d["category"], d["state"],
                     d["stage"], int(d["steps"]), d["recall"], d["recall_per_file"]) for d in rows]


def run_totals(store: Store, run_id: int) -> RunTotals:
    t = store.fetchone(
        f"SELECT count(*), count(*) FILTER (WHERE {_DONE_STATES}), count(*) FILTER (WHERE state = 'kept')"
        " FROM tasks WHERE run_id = ?", [run_id])
    r = store.fetchone(
        "SELECT coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0), coalesce(sum(cost), 0)"
        " FROM rollouts WHERE run_id = ?", [run_id])
    m = store.fetchone(
        "SELECT avg(s.recall) FROM scores s JOIN tasks t ON t.id = s.task_id"
        " WHERE t.run_id = ? AND s.mode = 'sera'", [run_id])
    assert t is not None and r is not None and m is not None
    return RunTotals(int(t[0]), int(t[1]), int(t[2]), int(r[0]), int(r[1]), float(r[2]), m[0])


def pair_task_ids(store: Store, run_id: int | None = None) -> list[int]:
    """Tasks that have both rollouts (what the inspector's next/previous walks through), in order."""
    sql = ("SELECT t.id FROM tasks t WHERE EXISTS (SELECT 1 FROM rollouts r WHERE r.task_id = t.id"
           " AND r.stage = 'T2')")
    params: list[Any] = []
    if run_id is not None:
        sql += " AND t.run_id = ?"
        params.append(run_id)
    return [int(r[0]) for r in store.fetchall(sql + " ORDER BY t.run_id, t.seq", params)]


def _rollout(d: dict | None) -> RolloutView | None:
    if d is None:
        return None
    return RolloutView(d["id"], d["stage"], d["model"], d["status"], d["exit_reason"], d["patch"],
                       int(d["steps"] or 0), int(d["prompt_tokens"] or 0), int(d["completion_tokens"] or 0),
                       float(d["cost"] or 0.0), d["task_text"])


def pair_details(store: Store, task_id: int) -> PairDetails | None:
    rows = store.fetchdicts(
        "SELECT t.*, r.name AS repo_name FROM tasks t LEFT JOIN repos r ON r.id = t.repo_id WHERE t.id = ?",
        [task_id])
    if not rows:
        return None
    t = rows[0]
    # the latest rollout of each stage (a resumed task may have an abandoned earlier one)
    rollouts = store.fetchdicts("SELECT * FROM rollouts WHERE task_id = ? ORDER BY id", [task_id])
    by_stage = {d["stage"]: d for d in rollouts}
    pr = store.fetchone(
        "SELECT pr_text FROM prs WHERE task_id = ? AND pr_text IS NOT NULL ORDER BY accepted DESC, attempt DESC"
        " LIMIT 1", [task_id])
    scores = {d["mode"]: {"recall": d["recall"], "matched": d["matched"], "total": d["total"]}
              for d in store.fetchdicts(
                  "SELECT mode, recall, matched, total FROM scores WHERE task_id = ? ORDER BY created_at",
                  [task_id])}
    verdict = store.fetchone(
        "SELECT verdict FROM reviews WHERE task_id = ? ORDER BY created_at DESC, id DESC LIMIT 1", [task_id])
    return PairDetails(
        task_id=task_id, run_id=t["run_id"], repo=t["repo_name"], function=t["function"], file=t["file"],
        category=t["category"], state=t["state"], reason=t["reason"], instruction=t["instruction"],
        pr_text=pr[0] if pr else None, t1=_rollout(by_stage.get("T1")), t2=_rollout(by_stage.get("T2")),
        scores=scores, verdict=verdict[0] if verdict else None)


def rollout_messages(store: Store, rollout_id: int) -> list[dict[str, Any]]:
    """All messages of a rollout, in order, as dicts shaped like engine.trajectory.Message
    (store never imports engine: callers build Message.from_dict)."""
    rows = store.fetchdicts(
        "SELECT role, content, reasoning, tool_calls, tool_call_id, name, tokens, prompt_tokens,"
        " completion_tokens, model_latency_ms, tool_time_ms, tool_error FROM messages"
        " WHERE rollout_id = ? ORDER BY idx", [rollout_id])
    for d in rows:
        calls = d["tool_calls"]
        calls = json.loads(calls) if isinstance(calls, str) else (calls or [])
        d["tool_calls"] = [{"id": str(c.get("id", "")), "name": str(c.get("name", "")),
                            "arguments": c["arguments"] if isinstance(c.get("arguments"), str)
                            else json.dumps(c.get("arguments") or {})} for c in calls]
        d["tool_error"] = bool(d["tool_error"])
    return rows
