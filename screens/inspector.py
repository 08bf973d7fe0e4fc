"""Pair inspector: instruction, synthetic PR, P1 and P2 side by side with recall highlighting, recall in
both modes; next/previous pair; either trajectory step by step (TrajectoryScreen)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from screens.widgets.banner import ReadOnlyBanner
from screens.widgets.patch import PatchView, marks_from_recall
from screens.widgets.trajectory import TrajectoryView


def fmt_recall(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}"


class PairInspectorScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("n", "step(1)", "Next pair"),
        Binding("p", "step(-1)", "Prev pair"),
        Binding("m", "toggle_mode", "Recall mode"),
        Binding("f", "open_trajectory('T1')", "T1 steps"),
        Binding("s", "open_trajectory('T2')", "T2 steps"),
    ]

    @dataclass
    class Loaded(Message):
        task_id: int
        details: Any
        results: dict  # mode -> engine.verify.RecallResult
        task_ids: list[int]
        error: str | None = None

    def __init__(self, task_id: int, task_ids: list[int] | None = None) -> None:
        super().__init__()
        self.task_id = task_id
        self.task_ids = list(task_ids or [])
        self.mode = "sera"
        self.details = None
        self.results: dict = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield ReadOnlyBanner()
        yield Static("loading pair…", id="insp-head")
        yield VerticalScroll(Static("", id="insp-pr-text"), id="insp-pr")
        with Horizontal(id="insp-patches"):
            with VerticalScroll(id="p1-pane", classes="patch-pane") as p1:
                p1.border_title = "P1 (rollout 1: the target)"
                yield PatchView(id="p1")
            with VerticalScroll(id="p2-pane", classes="patch-pane") as p2:
                p2.border_title = "P2 (rollout 2: from the PR)"
                yield PatchView(id="p2")
        yield Static("", id="insp-recall")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#insp-pr").border_title = "Synthetic PR"
        self._load(self.task_id)

    # -- data --------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="inspector-load")
    def _load(self, task_id: int) -> None:
        from engine.verify import PatchError, recall
        from store import StoreError
        from store.pairs import pair_details, pair_task_ids

        try:
            store = self.app.store
            details = pair_details(store, task_id)
            ids = self.task_ids or (pair_task_ids(store, details.run_id) if details else [])
        except StoreError as exc:
            self.post_message(self.Loaded(task_id, None, {}, [], str(exc)))
            return
        if details is None:
            self.post_message(self.Loaded(task_id, None, {}, ids, f"no task with id {task_id}"))
            return
        results: dict = {}
        p1 = details.t1.patch if details.t1 else ""
        p2 = details.t2.patch if details.t2 else ""
        error = None
        for mode in ("sera", "per-file"):
            try:
                results[mode] = recall(p1 or "", p2 or "", mode)
            except PatchError as exc:  # a stored patch that is not a diff: show it plain
                error = f"cannot score the patches: {exc}"
        self.post_message(self.Loaded(task_id, details, results, ids, error))

    def on_pair_inspector_screen_loaded(self, msg: Loaded) -> None:
        self.query_one(ReadOnlyBanner).refresh_state()
        self.task_id, self.details, self.results = msg.task_id, msg.details, msg.results
        if msg.task_ids:
            self.task_ids = msg.task_ids
        head = self.query_one("#insp-head", Static)
        if msg.details is None:
            head.update(Text(f"error: {msg.error}", style="bold red"))
            return
        d = msg.details
        pos = f"pair {self.task_ids.index(d.task_id) + 1} of {len(self.task_ids)}" \
            if d.task_id in self.task_ids else f"task {d.task_id}"
        t = Text()
        t.append(f"{d.function or '?'}", style="bold")
        t.append(f"  {d.file or ''}  ", style="dim")
        t.append(f"[{d.category or '-'}]  ", style="italic")
        t.append(d.state, style="bold green" if d.state == "kept" else "bold yellow")
        if d.verdict:
            t.append(f"  review: {d.verdict}", style="bold")
        t.append(f"   {pos} · task {d.task_id} · run {d.run_id}", style="dim")
        t.append("\n")
        t.append("Instruction: ", style="bold")
        t.append(d.instruction or "-")
        if msg.error:
            t.append(f"\n{msg.error}", style="bold red")
        head.update(t)
        self.query_one("#insp-pr-text", Static).update(
            Text(d.pr_text) if d.pr_text else Text("no synthetic PR (" + (d.reason or d.state) + ")", style="dim"))
        self._show_patches()

    def _show_patches(self) -> None:
        d = self.details
        if d is None:
            return
        res = self.results.get(self.mode)
        p1 = self.query_one("#p1", PatchView)
        p2 = self.query_one("#p2", PatchView)
        p1.show((d.t1.patch or "") if d.t1 else "", marks_from_recall(res.target_lines, "target") if res else {},
                path=d.file)
        p2.show((d.t2.patch or "") if d.t2 else "", marks_from_recall(res.produced_lines, "produced") if res else {},
                path=d.file)
        line = Text()
        for mode in ("sera", "per-file"):
            stored = d.scores.get(mode)
            live = self.results.get(mode)
            r = live.recall if live else (stored or {}).get("recall")
            m, n = (live.matched, live.total) if live else ((stored or {}).get("matched"), (stored or {}).get("total"))
            style = "bold reverse" if mode == self.mode else ""
            line.append(f" recall {mode}: {fmt_recall(r)} ({m}/{n}) ", style=style)
            line.append(" ")
        line.append(" ✓ matched  ✗ unmatched  · no counterpart", style="dim")
        self.query_one("#insp-recall", Static).update(line)

    # -- actions -----------------------------------------------------------------------------
    def action_step(self, delta: int) -> None:
        if not self.task_ids:
            return
        i = self.task_ids.index(self.task_id) if self.task_id in self.task_ids else -1
        j = max(0, min(len(self.task_ids) - 1, i + delta))
        if j != i:
            self._load(self.task_ids[j])

    def action_toggle_mode(self) -> None:
        self.mode = "per-file" if self.mode == "sera" else "sera"
        self._show_patches()

    def action_open_trajectory(self, stage: str) -> None:
        d = self.details
        ro = (d.t1 if stage == "T1" else d.t2) if d else None
        if ro is None:
            self.notify(f"this task has no {stage} rollout", severity="warning")
            return
        self.app.push_screen(TrajectoryScreen(ro.id, f"{stage} of task {d.task_id}: {d.function}"))


class TrajectoryScreen(Screen):
    """One trajectory step by step: a step is an assistant turn with the observations it caused."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("right,n", "move(1)", "Next step"),
        Binding("left,p", "move(-1)", "Prev step"),
        Binding("home", "goto(0)", "First", show=False),
        Binding("end", "goto(-1)", "Last", show=False),
        Binding("a", "toggle_all", "All steps"),
    ]

    @dataclass
    class Loaded(Message):
        messages: list
        error: str | None = None

    def __init__(self, rollout_id: int, title: str) -> None:
        super().__init__()
        self.rollout_id = rollout_id
        self.title_text = title
        self.steps: list[list] = []
        self.index = 0
        self.show_all = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield TrajectoryView(self.title_text, id="step-body", classes="pane")
        yield Static("loading…", id="step-status")
        yield Footer()

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exclusive=True)
    def _load(self) -> None:
        from engine.trajectory import Message as Msg
        from store import StoreError
        from store.pairs import rollout_messages

        try:
            msgs = [Msg.from_dict(d) for d in rollout_messages(self.app.store, self.rollout_id)]
        except StoreError as exc:
            self.post_message(self.Loaded([], str(exc)))
            return
        self.post_message(self.Loaded(msgs))

    def on_trajectory_screen_loaded(self, msg: Loaded) -> None:
        self.steps = split_steps(msg.messages)
        self.index = 0
        if msg.error:
            self.query_one("#step-status", Static).update(f"error: {msg.error}")
            return
        self._show()

    def _show(self) -> None:
        view = self.query_one(TrajectoryView)
        if not self.steps:
            view.set_messages([])
            self.query_one("#step-status", Static).update("no messages")
            return
        if self.show_all:
            view.set_messages([m for step in self.steps for m in step])
            status = f"all {len(self.steps) - 1} steps · a: one step at a time"
        else:
            offset = sum(len(s) for s in self.steps[: self.index])
            view.reset(placeholder="")
            view.count = offset
            view.append(self.steps[self.index])
            status = ("task" if self.index == 0 else f"step {self.index} of {len(self.steps) - 1}") + \
                "  ·  ←/→ move  ·  a: all steps"
        self.query_one("#step-status", Static).update(status)
        view.scroll_home(animate=False)

    def action_move(self, delta: int) -> None:
        if self.steps:
            self.index = max(0, min(len(self.steps) - 1, self.index + delta))
            self.show_all = False
            self._show()

    def action_goto(self, i: int) -> None:
        if self.steps:
            self.index = i % len(self.steps)
            self.show_all = False
            self._show()

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self._show()


def split_steps(messages: list) -> list[list]:
    """[[system, user…], [assistant, tool…], [assistant, tool…], …]."""
    steps: list[list] = [[]]
    for m in messages:
        if m.role == "assistant":
            steps.append([m])
        else:
            steps[-1].append(m)
    return steps if steps[0] else steps[1:] or [[]]
