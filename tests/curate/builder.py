"""Build realistic curation stores for tests: repos, runs, tasks, rollouts with messages, scores, reviews.

Uses the store's own functions where they exist (repos, runs); rows that no store function writes
yet (tasks, rollouts, messages, scores, reviews belong to the pipeline's area) go through these
minimal private inserts, shaped exactly like schema v1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from store import Store
from store.repos import add_repo
from store.runs import create_run, finish_run


@dataclass
class Step:
    """One assistant turn and its tool result."""
    tool: str = "bash"
    arguments: dict = field(default_factory=lambda: {"command": "ls"})
    output: str = "file.py\n"
    reasoning: str | None = "Let me look around."
    content: str = ""
    error: bool = False
    output_tokens: int | None = None  # None: leave NULL so the chars/4 estimate is used


class StoreBuilder:
    def __init__(self, store: Store, repo: str = "demo-repo"):
        self.store = store
        self.repo_id = add_repo(store, repo, f"/tmp/{repo}", "abc123").id
        self.run_id = create_run(store, "generate", repo_id=self.repo_id)
        self._seq = 0

    def new_run(self, repo: str | None = None) -> int:
        repo_id = add_repo(self.store, repo, f"/tmp/{repo}", "abc123").id if repo else self.repo_id
        self.run_id = create_run(self.store, "generate", repo_id=repo_id)
        self.repo_id = repo_id
        return self.run_id

    def task(self, *, category: str = "validation", state: str = "kept", recall: float | None = 1.0,
             recall_per_file: float | None = None, verdicts: list[str] = (), function: str = "mod.fn") -> int:
        self._seq += 1
        tid = self.store.insert_returning_id(
            "INSERT INTO tasks (run_id, repo_id, seq, file, function, start_line, end_line, language, category,"
            " instruction, seed, base_commit, state) VALUES (?, ?, ?, 'pkg/mod.py', ?, 1, 9, 'python', ?, ?, 1,"
            " 'abc123', ?) RETURNING id",
            [self.run_id, self.repo_id, self._seq, function, category,
             f"When I call {function}() it misbehaves ({category}).", state])
        if recall is not None or state in ("kept", "below_threshold"):
            self.store.execute("INSERT INTO scores (task_id, mode, recall, matched, total) VALUES (?, 'sera', ?, 0, 0)",
                               [tid, recall])
        if recall_per_file is not None:
            self.store.execute(
                "INSERT INTO scores (task_id, mode, recall, matched, total) VALUES (?, 'per-file', ?, 0, 0)",
                [tid, recall_per_file])
        for v in verdicts:
            self.store.execute("INSERT INTO reviews (task_id, verdict, note) VALUES (?, ?, '')", [tid, v])
        return tid

    def rollout(self, task_id: int | None, stage: str = "T1", *, steps: list[Step] | None = None,
                exit_reason: str = "submitted", patch_lines: int = 4, source: str = "sera",
                started_at: datetime | None = None, system: str = "You are a helpful coding agent.",
                user: str = "Fix the bug in pkg/mod.py.") -> int:
        steps = [Step()] if steps is None else steps
        patch = "".join(f"-old{i}\n+new{i}\n" for i in range(patch_lines // 2)) + ("+x\n" if patch_lines % 2 else "")
        rid = self.store.insert_returning_id(
            "INSERT INTO rollouts (run_id, task_id, stage, source, model, task_text, status, exit_reason, patch,"
            " patch_lines, steps, started_at, finished_at) VALUES (?, ?, ?, ?, 'teacher', ?, 'finished', ?, ?, ?, ?,"
            " coalesce(?, current_timestamp), current_timestamp) RETURNING id",
            [self.run_id, task_id, stage, source, user, exit_reason, patch, patch_lines, len(steps), started_at])
        msgs: list[list] = [[rid, 0, "system", system, None, None, None, None, None, False],
                            [rid, 1, "user", user, None, None, None, None, None, False]]
        for i, s in enumerate(steps):
            call_id = f"call_{rid}_{i}"
            calls = json.dumps([{"id": call_id, "name": s.tool, "arguments": json.dumps(s.arguments)}])
            msgs.append([rid, len(msgs), "assistant", s.content, s.reasoning, calls, None, None, None, False])
            msgs.append([rid, len(msgs), "tool", s.output, None, None, call_id, s.tool, s.output_tokens, s.error])
        self.store.conn.executemany(
            "INSERT INTO messages (rollout_id, idx, role, content, reasoning, tool_calls, tool_call_id, name, tokens,"
            " tool_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", msgs)
        return rid

    def pair(self, **task_kw) -> tuple[int, int, int]:
        tid = self.task(**task_kw)
        return tid, self.rollout(tid, "T1"), self.rollout(tid, "T2")

    def finish(self) -> None:
        finish_run(self.store, self.run_id)
