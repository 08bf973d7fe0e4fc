"""Build realistic curation stores for tests: repos, runs, tasks, rollouts with messages, scores, reviews.

Everything goes through the store functions the pipeline itself uses (store.repos, runs, tasks,
rollouts, reviews); the only direct SQL backdates a rollout's start for the date filters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from engine.trajectory import Message, ToolCall
from store import Store
from store import tasks as tq
from store.repos import add_repo
from store.reviews import add_review
from store.rollouts import add_message, create_rollout, finish_rollout
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
        tid = tq.create_task(self.store, run_id=self.run_id, repo_id=self.repo_id, seq=self._seq, file="pkg/mod.py",
                             function=function, start_line=1, end_line=9, language="python", category=category,
                             instruction=f"When I call {function}() it misbehaves ({category}).", seed=1,
                             base_commit="abc123")
        tq.set_task_state(self.store, tid, state)
        if recall is not None or state in ("kept", "below_threshold"):
            tq.add_score(self.store, task_id=tid, mode="sera", recall=recall, matched=0, total=0)
        if recall_per_file is not None:
            tq.add_score(self.store, task_id=tid, mode="per-file", recall=recall_per_file, matched=0, total=0)
        for v in verdicts:
            add_review(self.store, tid, v)
        return tid

    def rollout(self, task_id: int | None, stage: str = "T1", *, steps: list[Step] | None = None,
                exit_reason: str = "submitted", patch_lines: int = 4, source: str = "sera",
                started_at: datetime | None = None, system: str = "You are a helpful coding agent.",
                user: str = "Fix the bug in pkg/mod.py.") -> int:
        steps = [Step()] if steps is None else steps
        patch = "".join(f"-old{i}\n+new{i}\n" for i in range(patch_lines // 2)) + ("+x\n" if patch_lines % 2 else "")
        rid = create_rollout(self.store, run_id=self.run_id, task_id=task_id, stage=stage, model="teacher",
                             task_text=user, source=source)
        msgs = [Message(role="system", content=system), Message(role="user", content=user)]
        for i, st in enumerate(steps):
            call = ToolCall(id=f"call_{rid}_{i}", name=st.tool, arguments=json.dumps(st.arguments))
            msgs.append(Message(role="assistant", content=st.content, reasoning=st.reasoning, tool_calls=[call]))
            msgs.append(Message(role="tool", content=st.output, tool_call_id=call.id, name=st.tool,
                                tokens=st.output_tokens, tool_error=st.error))
        for i, m in enumerate(msgs):
            add_message(self.store, rid, i, m)
        finish_rollout(self.store, rid, exit_reason, patch, len(steps), 0, 0, 0.0)
        if started_at is not None:
            self.store.execute("UPDATE rollouts SET started_at = ? WHERE id = ?", [started_at, rid])
        return rid

    def pair(self, **task_kw) -> tuple[int, int, int]:
        tid = self.task(**task_kw)
        return tid, self.rollout(tid, "T1"), self.rollout(tid, "T2")

    def finish(self) -> None:
        finish_run(self.store, self.run_id)
