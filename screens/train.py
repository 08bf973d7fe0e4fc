"""Train pane: pick a dataset and a base model, launch `sera train`'s worker, follow its progress
(bar, loss chart, log tail), cancel it; the list of past training runs with their results.

The engine (engine/train/runner.start_train) runs training as a subprocess and reports typed
TrainProgress / RunFinished events on a bus; this screen only forwards them into Textual messages.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, Log, ProgressBar, Select, Static

from screens.curate import chart_text
from screens.widgets.banner import ReadOnlyBanner
from screens.widgets.tables import fill_table

CHART_EVERY_S = 0.5  # redraw the loss chart at most this often while steps stream in
LOG_LINES = 200
RUN_COLUMNS = ("run", "status", "model", "method", "dataset", "final loss", "started")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _fmt(v: Any, spec: str = ".4f") -> str:
    return "—" if v is None else format(v, spec)


def _eta(s: float | None) -> str:
    if s is None:
        return "—"
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class LossChart(Static):
    DEFAULT_CSS = "LossChart { height: 1fr; min-height: 6; }"

    def __init__(self, **kw: Any) -> None:
        super().__init__("No steps yet.", markup=False, **kw)
        self.steps: list[int] = []
        self.losses: list[float] = []

    def set_points(self, steps: list[int], losses: list[float]) -> None:
        self.steps, self.losses = steps, losses
        self.draw()

    def on_resize(self) -> None:
        self.draw()

    def draw(self) -> None:
        if len(self.steps) < 1:
            self.update("No steps yet.")
            return
        w, h = self.content_size.width or 40, self.content_size.height or 8
        self.update(Text(chart_text("line", self.steps, self.losses, w, h, "training loss")))


class TrainScreen(Screen):
    AUTO_FOCUS = "#train-runs"  # not an input, so the app's single-key mode switches keep working
    DEFAULT_CSS = """
    TrainScreen #train-form { height: auto; padding: 0 1; }
    TrainScreen #train-form Horizontal { height: auto; }
    TrainScreen #train-form Label { width: 8; padding: 0 1 0 0; color: $text-muted; }
    TrainScreen #train-form Input { width: 1fr; }
    TrainScreen #train-form Select { width: 15; }
    TrainScreen #train-form Label.small { width: auto; padding: 0 1; }
    TrainScreen #train-form Input.num { width: 7; }
    TrainScreen #train-form Button { margin-left: 1; width: auto; min-width: 10; }
    TrainScreen #train-status { height: auto; padding: 0 1; }
    TrainScreen #train-progress { padding: 0 1; height: 1; }
    TrainScreen #train-live { height: 1fr; }
    TrainScreen #loss-chart { width: 1fr; }
    TrainScreen #train-log { width: 1fr; border-left: solid $panel-lighten-2; }
    TrainScreen #train-runs { height: 8; }
    """

    BINDINGS = [
        Binding("ctrl+l", "launch", "Launch"),
        Binding("ctrl+b", "cancel_run", "Cancel run"),
        Binding("ctrl+g", "focus_runs", "Past runs"),
        Binding("ctrl+r", "reload", "Reload", show=False),
    ]

    class RunsLoaded(Message):
        def __init__(self, runs: list[Any], error: str | None = None, exports: list[str] | None = None) -> None:
            super().__init__()
            self.runs, self.error = runs, error
            self.exports = exports or []  # dataset names exported into the workspace (completions)

    class Detail(Message):
        def __init__(self, run: Any, metrics: list[Any]) -> None:
            super().__init__()
            self.run, self.metrics = run, metrics

    class Launched(Message):
        def __init__(self, train_run_id: int | None, error: str | None = None) -> None:
            super().__init__()
            self.train_run_id, self.error = train_run_id, error

    class Event(Message):
        """An engine event (TrainProgress / RunFinished) forwarded from the worker's threads."""

        def __init__(self, event: Any) -> None:
            super().__init__()
            self.event = event

    def __init__(self) -> None:
        super().__init__()
        self.handle: Any = None          # engine.train.runner.TrainHandle of the run started here
        self.live_run_id: int | None = None
        self.steps: list[int] = []
        self.losses: list[float] = []
        self._last_chart = 0.0
        self.unavailable: str | None = None

    # -- layout ----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        yield ReadOnlyBanner()
        with Vertical(id="train-form"):
            with Horizontal():
                yield Label("Dataset")
                yield Input(placeholder="dataset name (from an export) or JSONL path", id="dataset",
                            compact=True)
                yield Button("Launch", id="launch", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", variant="error", compact=True, disabled=True)
            with Horizontal():
                yield Label("Model")
                yield Input(placeholder="base model: local path or HF id", id="base-model", compact=True)
            with Horizontal():
                yield Label("Method")
                yield Select([("LoRA", "lora"), ("QLoRA (GPU)", "qlora"), ("full", "full")], value="lora",
                             allow_blank=False, id="method", compact=True)
                yield Select([("no preset", "none"), ("sera-qlora", "sera-qlora"), ("sera-full", "sera-full")],
                             value="none", allow_blank=False, id="preset", compact=True)
                yield Label("Epochs", classes="small")
                yield Input("3", id="epochs", type="number", compact=True, classes="num")
                yield Label("Steps", classes="small")
                yield Input(placeholder="all", id="max-steps", type="integer", compact=True, classes="num")
                yield Label("Len", classes="small")
                yield Input(placeholder="32768", id="max-len", type="integer", compact=True, classes="num")
        yield Static("", id="train-status")
        yield ProgressBar(total=1, id="train-progress", show_eta=False)
        with Horizontal(id="train-live"):
            yield LossChart(id="loss-chart")
            yield Log(id="train-log", max_lines=LOG_LINES, auto_scroll=True)
        yield DataTable(id="train-runs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Train"
        table = self.query_one("#train-runs", DataTable)
        table.add_columns(*RUN_COLUMNS)
        table.border_title = "Past runs"
        try:
            import engine.train.runner  # noqa: F401  (cheap: torch is only imported by the worker)
        except ImportError as exc:
            self.unavailable = f"not available yet: engine/train (issue 7) cannot be imported ({exc})"
            self.query_one("#launch", Button).disabled = True
        self._status(self.unavailable or "Pick a dataset and a base model, then Launch (ctrl+l).",
                     "yellow" if self.unavailable else "")
        self.action_reload()

    def _status(self, text: str, style: str = "") -> None:
        self.query_one("#train-status", Static).update(Text(text, style=style))

    def on_screen_resume(self) -> None:
        if self.is_mounted:
            self.action_reload()  # exports and runs made elsewhere show up

    # -- past runs -------------------------------------------------------------------------------
    def action_reload(self) -> None:
        self._load_runs()

    @work(thread=True, exclusive=True, group="train-runs")
    def _load_runs(self) -> None:
        try:
            from store import training
        except ImportError as exc:
            self.post_message(self.RunsLoaded([], f"past runs not available yet: store/training.py ({exc})"))
            return
        try:
            runs = training.list_train_runs(self.app.store)  # type: ignore[attr-defined]
            # Exports written from the TUI are named after their file: offer those names as completions.
            exports = sorted(p.stem for p in self.app.workspace.exports_dir.glob("*.jsonl"))  # type: ignore[attr-defined]
            self.post_message(self.RunsLoaded(runs, exports=exports))
        except Exception as exc:
            self.post_message(self.RunsLoaded([], _one_line(exc)))

    def on_train_screen_runs_loaded(self, msg: TrainScreen.RunsLoaded) -> None:
        self.query_one(ReadOnlyBanner).refresh_state()  # the store is open now
        table = self.query_one("#train-runs", DataTable)
        table.clear()
        if msg.error:
            table.border_subtitle = msg.error
            return
        table.border_subtitle = f"{len(msg.runs)} run(s) · Enter shows a run's loss"
        if msg.exports:
            self.query_one("#dataset", Input).suggester = SuggestFromList(msg.exports, case_sensitive=False)
        cells = []
        for r in msg.runs:
            started = r.started_at.strftime("%Y-%m-%d %H:%M") if r.started_at else "—"
            dataset = (r.config or {}).get("dataset_name") or (r.dataset_path or "").rsplit("/", 1)[-1]
            model = (r.base_model or "").rstrip("/").rsplit("/", 1)[-1]
            status = r.status + (f": {r.error}" if r.error and r.status == "failed" else "")
            cells.append((str(r.id), status[:40], model, r.method or "—", dataset, _fmt(r.final_loss), started))
        fill_table(table, RUN_COLUMNS, cells, [str(r.id) for r in msg.runs])

    @on(DataTable.RowSelected, "#train-runs")
    def _show_run(self, event: DataTable.RowSelected) -> None:
        if self.handle is not None and not self.handle.done:
            self.notify("A run is in progress; its chart stays on screen.", severity="warning")
            return
        self._load_detail(int(event.row_key.value))  # type: ignore[arg-type]

    @work(thread=True, exclusive=True, group="train-detail")
    def _load_detail(self, run_id: int) -> None:
        from store import training

        store = self.app.store  # type: ignore[attr-defined]
        self.post_message(self.Detail(training.get_train_run(store, run_id), training.metrics_for_run(store, run_id)))

    def on_train_screen_detail(self, msg: TrainScreen.Detail) -> None:
        r = msg.run
        if r is None:
            return
        self.steps = [m.step for m in msg.metrics if m.loss is not None]
        self.losses = [m.loss for m in msg.metrics if m.loss is not None]
        self.query_one("#loss-chart", LossChart).set_points(self.steps, self.losses)
        bar = self.query_one("#train-progress", ProgressBar)
        last = msg.metrics[-1] if msg.metrics else None
        bar.update(total=max(len(msg.metrics), 1), progress=len(msg.metrics))
        self._status(f"Run {r.id}: {r.status} · {r.method} on {r.base_model} · final loss {_fmt(r.final_loss)}"
                     + (f" · last step {last.step}" if last else "") + (f" · {r.error}" if r.error else ""))

    # -- launching -------------------------------------------------------------------------------
    def action_launch(self) -> None:
        if self.unavailable:
            self.notify(self.unavailable, severity="warning")
            return
        if self.handle is not None and not self.handle.done:
            self.notify("A training run is already in progress here; cancel it first.", severity="warning")
            return
        dataset = self.query_one("#dataset", Input).value.strip()
        model = self.query_one("#base-model", Input).value.strip()
        if not dataset or not model:
            self._status("Give a dataset (name or JSONL path) and a base model first.", "red")
            self.query_one("#dataset" if not dataset else "#base-model", Input).focus()
            return
        try:
            epochs_text = self.query_one("#epochs", Input).value.strip()
            epochs = float(epochs_text) if epochs_text else None
            steps_text = self.query_one("#max-steps", Input).value.strip()
            max_steps = int(steps_text) if steps_text else None
            len_text = self.query_one("#max-len", Input).value.strip()
            max_len = int(len_text) if len_text else None
        except ValueError:
            self._status("Epochs must be a number; steps and length whole numbers.", "red")
            return
        method = str(self.query_one("#method", Select).value)
        preset = str(self.query_one("#preset", Select).value)
        self.steps, self.losses = [], []
        self.query_one("#loss-chart", LossChart).set_points([], [])
        self.query_one("#train-log", Log).clear()
        self.query_one("#launch", Button).disabled = True
        self._status("Starting the training worker…")
        self._launch(dataset, model, method, None if preset == "none" else preset, epochs, max_steps, max_len)

    @work(thread=True, exclusive=True, group="train-launch")
    def _launch(self, dataset: str, model: str, method: str, preset: str | None, epochs: float | None,
                max_steps: int | None, max_len: int | None) -> None:
        from engine.events import EventBus
        from engine.train.config import build_config
        from engine.train.runner import resolve_dataset, start_train

        try:
            store = self.app.store  # type: ignore[attr-defined]
            if store.read_only:
                raise RuntimeError("the database is open read-only; a training run is recorded in it")
            path, dataset_id = resolve_dataset(store, dataset)
            out = self.app.workspace.train_dir / f"run-{time.strftime('%Y%m%d-%H%M%S')}"  # type: ignore[attr-defined]
            overrides: dict[str, Any] = {"epochs": epochs, "max_steps": max_steps, "max_len": max_len,
                                         "dataset_name": None if dataset.endswith(".jsonl") else dataset}
            if preset is None:
                overrides["method"] = method
            cfg = build_config(path, model, out, preset=preset, **overrides)
            bus = EventBus()
            bus.subscribe(lambda ev: self.post_message(self.Event(ev)))
            self.handle = start_train(store, cfg, bus, dataset_id=dataset_id)
            self.post_message(self.Launched(self.handle.train_run_id))
        except Exception as exc:  # bad dataset/model/options: one line, nothing started
            self.post_message(self.Launched(None, _one_line(exc)))

    def on_train_screen_launched(self, msg: TrainScreen.Launched) -> None:
        if msg.error:
            self.query_one("#launch", Button).disabled = False
            self._status(f"Not started: {msg.error}", "red")
            return
        self.live_run_id = msg.train_run_id
        if self.handle is None or self.handle.done:
            return  # it already ended (its RunFinished came first); nothing to cancel
        self.query_one("#cancel", Button).disabled = False
        self._status(f"Run {msg.train_run_id} started (pid {self.handle.pid}); waiting for the first step…")
        self.action_reload()

    def on_train_screen_event(self, msg: TrainScreen.Event) -> None:
        from engine.events import RunFinished, TrainProgress

        ev = msg.event
        log = self.query_one("#train-log", Log)
        if isinstance(ev, TrainProgress):
            if ev.log_line:
                log.write_line(ev.log_line)
                return
            bar = self.query_one("#train-progress", ProgressBar)
            if ev.max_steps:
                bar.update(total=ev.max_steps, progress=ev.step)
            if ev.loss is not None:
                self.steps.append(ev.step)
                self.losses.append(float(ev.loss))
            log.write_line(f"step {ev.step}/{ev.max_steps or '?'} loss {_fmt(ev.loss)} lr {_fmt(ev.lr, '.2e')}")
            self._status(f"Run {ev.train_run_id}: step {ev.step}/{ev.max_steps or '?'} · epoch {ev.epoch:.2f} · "
                         f"loss {_fmt(ev.loss)} · {_fmt(ev.tokens_per_s, '.0f')} tok/s · ETA {_eta(ev.eta_s)}")
            now = time.monotonic()
            if now - self._last_chart >= CHART_EVERY_S:
                self._last_chart = now
                self.query_one("#loss-chart", LossChart).set_points(list(self.steps), list(self.losses))
        elif isinstance(ev, RunFinished):
            self.query_one("#loss-chart", LossChart).set_points(list(self.steps), list(self.losses))
            self.query_one("#launch", Button).disabled = False
            self.query_one("#cancel", Button).disabled = True
            loss = (ev.summary or {}).get("final_loss")
            style = {"finished": "green", "cancelled": "yellow"}.get(ev.status, "red")
            run_id = (ev.summary or {}).get("train_run_id", self.live_run_id)
            self._status(f"Run {run_id} {ev.status}" + (f" · final loss {_fmt(loss)}" if loss else "")
                         + (f" · {ev.error}" if ev.error else ""), style)
            log.write_line(f"run {ev.status}")
            self.action_reload()

    @on(Button.Pressed, "#launch")
    def _launch_pressed(self) -> None:
        self.action_launch()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel_run()

    def action_cancel_run(self) -> None:
        if self.handle is None or self.handle.done:
            self.notify("No training run in progress here.", severity="warning")
            return
        self._status(f"Cancelling run {self.live_run_id} (the worker saves a checkpoint first)…", "yellow")
        self.query_one("#cancel", Button).disabled = True
        self._cancel(self.handle)

    @work(thread=True, group="train-cancel")
    def _cancel(self, handle: Any) -> None:
        handle.cancel(grace_s=30)

    def action_focus_runs(self) -> None:
        self.query_one("#train-runs", DataTable).focus()

    def on_unmount(self) -> None:
        # Leaving the app must not orphan a training subprocess.
        if self.handle is not None and not self.handle.done:
            self.handle.cancel(grace_s=5)
