"""The in-memory picture of a generation run, folded from engine events.

Events arrive on the pipeline's thread; `EventInbox` only appends them to a deque (cheap, thread-safe)
and the screen drains it on a timer, so 16+ streaming rollouts cost one UI update per tick instead of
one per message. `LiveRun.apply()` is pure bookkeeping (no Textual), so it is easy to test.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from engine import events as ev
from engine.trajectory import Message


@dataclass
class TaskLive:
    id: int
    seq: int = 0
    function: str = ""
    file: str = ""
    category: str = ""
    instruction: str = ""
    state: str = "pending"
    stage: str = ""
    steps: int = 0
    recall: float | None = None
    recall_per_file: float | None = None
    pr_text: str | None = None
    rollouts: dict[str, int] = field(default_factory=dict)       # stage -> rollout id
    messages: dict[str, list[Message]] = field(default_factory=dict)  # stage -> messages so far
    complete: bool = True  # False: messages of this task predate this session; load them from the store


@dataclass
class LiveRun:
    run_id: int | None = None
    total: int = 0
    status: str = "idle"          # idle | starting | running | finished | cancelled | failed
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    tasks: dict[int, TaskLive] = field(default_factory=dict)

    DONE = ("kept", "below_threshold", "judged_invalid", "empty_patch", "cancelled")

    def task(self, task_id: int) -> TaskLive:
        t = self.tasks.get(task_id)
        if t is None:
            t = self.tasks[task_id] = TaskLive(task_id, seq=len(self.tasks))
        return t

    def apply(self, e: ev.Event) -> set[int]:
        """Fold one event in; returns the task ids whose row changed."""
        if isinstance(e, ev.RunStarted):
            self.run_id, self.total, self.status = e.run_id, e.total, "running"
            self.started = self.started or time.monotonic()
            return set()
        if isinstance(e, ev.RunFinished):
            self.status, self.error, self.finished = e.status, e.error, time.monotonic()
            return set()
        task_id = getattr(e, "task_id", None)
        if task_id is None:
            return set()
        t = self.task(task_id)
        if isinstance(e, ev.TaskStarted):
            t.function, t.file, t.category, t.instruction = e.function, e.file, e.category, e.instruction
            if t.state == "pending":
                t.state = "running"
        elif isinstance(e, ev.TaskStateChanged):
            t.state = e.state
        elif isinstance(e, ev.RolloutStarted):
            t.stage = e.stage
            t.rollouts[e.stage] = e.rollout_id
            t.messages[e.stage] = []
            t.steps = 0
        elif isinstance(e, ev.MessageAdded):
            msgs = t.messages.setdefault(e.stage, [])
            msgs.append(e.message)
            t.stage = e.stage or t.stage
            if e.message.role == "assistant":
                t.steps += 1
            self.prompt_tokens += e.message.prompt_tokens or 0
            self.completion_tokens += e.message.completion_tokens or 0
        elif isinstance(e, ev.RolloutFinished):
            self.cost += e.cost or 0.0
            t.steps = e.steps or t.steps
        elif isinstance(e, ev.PRWritten):
            if e.pr_text:
                t.pr_text = e.pr_text
        elif isinstance(e, ev.PairScored):
            t.recall, t.recall_per_file = e.recall, e.recall_per_file
        return {task_id}

    # -- figures for the status line -------------------------------------------------------------
    @property
    def done(self) -> int:
        return sum(1 for t in self.tasks.values() if t.state in self.DONE or t.state.startswith("rollout_failed"))

    @property
    def kept(self) -> int:
        return sum(1 for t in self.tasks.values() if t.state == "kept")

    @property
    def in_flight(self) -> int:
        return sum(1 for t in self.tasks.values() if t.state == "running")

    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    def pairs_per_min(self) -> float:
        el = self.elapsed()
        return 60.0 * self.done / el if el > 0 else 0.0

    def eta_s(self) -> float | None:
        if not self.done or self.status != "running":
            return None
        remaining = max(0, (self.total or len(self.tasks)) - self.done)
        return remaining * self.elapsed() / self.done

    def mean_recall(self) -> float | None:
        vals = [t.recall for t in self.tasks.values() if t.recall is not None]
        return sum(vals) / len(vals) if vals else None


def fmt_tokens(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)


def fmt_duration(s: float | None) -> str:
    if s is None:
        return "-"
    s = int(round(s))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class EventInbox:
    """Thread-safe hand-off from the engine's EventBus to the UI thread (deque append/popleft are atomic)."""

    def __init__(self) -> None:
        self._q: deque[ev.Event] = deque()

    def __call__(self, event: ev.Event) -> None:
        self._q.append(event)

    def drain(self, limit: int = 5000) -> list[ev.Event]:
        out = []
        q = self._q
        while q and len(out) < limit:
            out.append(q.popleft())
        return out

    def __len__(self) -> int:
        return len(self._q)
