"""Queries for rollouts and their messages. Every message is written the moment it exists.

The message model (engine.trajectory.Message) is a plain data contract shared by every layer; the
store maps it to and from rows here (the one allowed store -> engine import, see pyproject).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.trajectory import Message, ToolCall
from store.db import Store


@dataclass(frozen=True)
class RolloutRow:
    id: int
    run_id: int | None
    task_id: int | None
    stage: str
    source: str
    model: str | None
    task_text: str | None
    status: str
    exit_reason: str | None
    patch: str | None
    patch_lines: int | None
    steps: int
    prompt_tokens: int
    completion_tokens: int
    cost: float
    worktree: str | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None


def count_patch_lines(patch: str) -> int:
    """Changed (+/-) lines of a unified diff, headers excluded."""
    n = 0
    for line in patch.splitlines():
        if line.startswith(("+++", "---")):
            continue
        if line.startswith(("+", "-")):
            n += 1
    return n


def create_rollout(store: Store, *, run_id: int | None, task_id: int | None, stage: str, model: str,
                   task_text: str, source: str = "sera", worktree: str | None = None) -> int:
    return store.insert_returning_id(
        "INSERT INTO rollouts (run_id, task_id, stage, source, model, task_text, worktree, status)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 'running') RETURNING id",
        [run_id, task_id, stage, source, model, task_text, worktree],
    )


_INSERT_MESSAGES = (
    "INSERT INTO messages (rollout_id, idx, role, content, reasoning, tool_calls, tool_call_id, name, tokens,"
    " prompt_tokens, completion_tokens, model_latency_ms, tool_time_ms, tool_error) VALUES "
)
_ROW = "(" + ", ".join(["?"] * 14) + ")"


def _message_params(rollout_id: int, idx: int, message: Message) -> list[Any]:
    calls = json.dumps([{"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls]) \
        if message.tool_calls else None
    return [rollout_id, idx, message.role, message.content, message.reasoning, calls, message.tool_call_id,
            message.name, message.tokens, message.prompt_tokens, message.completion_tokens,
            message.model_latency_ms, message.tool_time_ms, bool(message.tool_error)]


def add_message(store: Store, rollout_id: int, idx: int, message: Message, *,
                progress: tuple[int, int, int, float] | None = None) -> None:
    """One INSERT, committed (durable) when this returns. `progress` = (steps, prompt_tokens,
    completion_tokens, cost) updates the rollout's running totals in the same commit."""
    add_messages(store, [(rollout_id, idx, message, progress)])


def add_messages(store: Store, items: list[tuple[int, int, Message, tuple[int, int, int, float] | None]]) -> None:
    """Several messages (of one or many rollouts) in one INSERT, and each rollout's latest running
    totals in one UPDATE: what `Store.write_merged` batches while many rollouts stream.
    items: (rollout_id, idx, message, progress or None). rollout_id may be the Future of an earlier
    queued `create_rollout` write: a rollout's first messages need not wait for its row's commit."""
    if not items:
        return
    items = [(store.resolve(rid), idx, m, p) for rid, idx, m, p in items]
    rows = [_message_params(rid, idx, m) for rid, idx, m, _p in items]
    latest = {rid: p for rid, _idx, _m, p in items if p is not None}  # in order: the last one wins
    with store.transaction():
        for k in range(0, len(rows), 64):
            chunk = rows[k:k + 64]
            store.execute(_INSERT_MESSAGES + ", ".join([_ROW] * len(chunk)), [v for r in chunk for v in r])
        if len(latest) <= 3:  # a plain UPDATE costs DuckDB about half a join's fixed cost
            for rid, p in latest.items():
                store.execute("UPDATE rollouts SET steps=?, prompt_tokens=?, completion_tokens=?, cost=? WHERE id=?",
                              [*p, rid])
        else:
            store.execute(
                "UPDATE rollouts SET steps=v.s, prompt_tokens=v.p, completion_tokens=v.c, cost=v.k"
                f" FROM (VALUES {', '.join(['(?, ?, ?, ?, ?)'] * len(latest))}) AS v(id, s, p, c, k)"
                " WHERE rollouts.id = v.id", [x for rid, p in latest.items() for x in (rid, *p)])


def update_rollout_progress(store: Store, rollout_id: int, *, steps: int, prompt_tokens: int,
                            completion_tokens: int, cost: float) -> None:
    """Running totals, so a killed rollout still shows how far it got."""
    store.execute("UPDATE rollouts SET steps=?, prompt_tokens=?, completion_tokens=?, cost=? WHERE id=?",
                  [steps, prompt_tokens, completion_tokens, cost, rollout_id])


def set_worktree(store: Store, rollout_id: int, worktree: str | None) -> None:
    store.execute("UPDATE rollouts SET worktree=? WHERE id=?", [worktree, rollout_id])


def finish_rollout(store: Store, rollout_id: int, exit_reason: str, patch: str, steps: int, prompt_tokens: int,
                   completion_tokens: int, cost: float, error: str | None = None,
                   patch_lines: int | None = None) -> None:
    if patch_lines is None:
        patch_lines = count_patch_lines(patch or "")
    store.execute(
        "UPDATE rollouts SET status='finished', exit_reason=?, patch=?, patch_lines=?, steps=?, prompt_tokens=?,"
        " completion_tokens=?, cost=?, error=?, finished_at=current_timestamp WHERE id=?",
        [exit_reason, patch, patch_lines, steps, prompt_tokens, completion_tokens, cost, error, rollout_id],
    )


def _rollout(d: dict) -> RolloutRow:
    return RolloutRow(**{k: d.get(k) for k in RolloutRow.__dataclass_fields__})


def get_rollout(store: Store, rollout_id: int) -> RolloutRow | None:
    rows = store.fetchdicts("SELECT * FROM rollouts WHERE id=?", [rollout_id])
    return _rollout(rows[0]) if rows else None


def list_rollouts(store: Store, *, run_id: int | None = None, task_id: int | None = None) -> list[RolloutRow]:
    sql, params = "SELECT * FROM rollouts WHERE 1=1", []
    if run_id is not None:
        sql += " AND run_id=?"
        params.append(run_id)
    if task_id is not None:
        sql += " AND task_id=?"
        params.append(task_id)
    return [_rollout(d) for d in store.fetchdicts(sql + " ORDER BY id", params)]


def get_messages(store: Store, rollout_id: int) -> list[Message]:
    rows = store.fetchdicts(
        "SELECT role, content, reasoning, tool_calls, tool_call_id, name, tokens, prompt_tokens,"
        " completion_tokens, model_latency_ms, tool_time_ms, tool_error FROM messages WHERE rollout_id=?"
        " ORDER BY idx", [rollout_id])
    out: list[Message] = []
    for d in rows:
        calls = d.pop("tool_calls")
        calls = json.loads(calls) if isinstance(calls, str) else (calls or [])
        d["tool_error"] = bool(d["tool_error"])
        out.append(Message(tool_calls=[ToolCall(**c) for c in calls], **d))
    return out


def count_messages(store: Store, rollout_id: int) -> int:
    row = store.fetchone("SELECT count(*) FROM messages WHERE rollout_id=?", [rollout_id])
    return int(row[0]) if row else 0
