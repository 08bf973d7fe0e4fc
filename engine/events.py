"""Typed engine events and a small bus. The TUI subscribes and turns events into Textual messages.

Subscribers are plain callables invoked synchronously in the emitting thread/loop; a subscriber
that needs another thread (the TUI) hops itself (App.call_from_thread / post_message).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.trajectory import Message


@dataclass(frozen=True)
class Event:
    run_id: int | None


@dataclass(frozen=True)
class RunStarted(Event):
    kind: str = ""
    total: int = 0


@dataclass(frozen=True)
class TaskStarted(Event):
    task_id: int = 0
    function: str = ""
    file: str = ""
    category: str = ""
    instruction: str = ""


@dataclass(frozen=True)
class TaskStateChanged(Event):
    task_id: int = 0
    state: str = ""  # pending|running|kept|below_threshold|judged_invalid|empty_patch|rollout_failed:<r>|cancelled
    reason: str | None = None


@dataclass(frozen=True)
class RolloutStarted(Event):
    rollout_id: int = 0
    task_id: int | None = None
    stage: str = ""  # T1 | T2 | eval | single
    model: str = ""


@dataclass(frozen=True)
class MessageAdded(Event):
    rollout_id: int = 0
    task_id: int | None = None
    stage: str = ""
    index: int = 0
    message: Message = field(default_factory=lambda: Message(role="user"))


@dataclass(frozen=True)
class RolloutFinished(Event):
    rollout_id: int = 0
    task_id: int | None = None
    stage: str = ""
    exit_reason: str = ""
    patch: str = ""
    steps: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0


@dataclass(frozen=True)
class PRWritten(Event):
    task_id: int = 0
    attempt: int = 0
    judge_verdict: bool | None = None
    pr_text: str = ""


@dataclass(frozen=True)
class PairScored(Event):
    task_id: int = 0
    recall: float | None = None  # sera mode
    recall_per_file: float | None = None
    matched: int = 0
    total: int = 0
    kept: bool = False


@dataclass(frozen=True)
class TrainProgress(Event):
    train_run_id: int = 0
    step: int = 0
    max_steps: int = 0
    epoch: float = 0.0
    loss: float | None = None
    lr: float | None = None
    tokens_per_s: float | None = None
    gpu_mem_mb: float | None = None
    eta_s: float | None = None
    log_line: str = ""


@dataclass(frozen=True)
class EvalProgress(Event):
    eval_run_id: int = 0
    done: int = 0
    total: int = 0
    seed: int | None = None
    task_ref: str = ""
    recall: float | None = None
    log_line: str = ""


@dataclass(frozen=True)
class RunFinished(Event):
    status: str = "finished"  # finished | failed | cancelled
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._subs: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subs.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._subs:
                    self._subs.remove(fn)

        return unsubscribe

    def emit(self, event: Event) -> None:
        with self._lock:
            subs = list(self._subs)
        for fn in subs:
            fn(event)
