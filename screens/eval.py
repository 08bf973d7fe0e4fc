"""Eval pane: pick model(s), tasks and seeds, launch an evaluation (engine/eval.run_eval in a thread
worker), follow its progress and log, cancel it; per-model mean ± std over seeds side by side, and
the past eval runs.

Model field syntax: `name=base_url`, several separated by commas or spaces, e.g.
`student=http://127.0.0.1:8000/v1, base=http://127.0.0.1:8001/v1`. A name without `=url` suits the
demo provider.
"""

from __future__ import annotations

import threading
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

from screens.widgets.banner import ReadOnlyBanner
from screens.widgets.tables import fill_table

LOG_LINES = 300
RUN_COLUMNS = ("run", "model", "tasks", "seeds", "status", "mean ± std", "started")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def mean_std(mean: float | None, std: float | None) -> str:
    if mean is None:
        return "—"
    return f"{mean:.3f} ± {std or 0.0:.3f}"


def parse_models(text: str) -> list[tuple[str, list[str]]]:
    """`a=url1, b=url2 url3`-style text -> [(name, [urls])]; a bare URL adds to the previous model."""
    out: list[tuple[str, list[str]]] = []
    for tok in text.replace(",", " ").split():
        if "=" in tok:
            name, url = tok.split("=", 1)
            if not name:
                raise ValueError(f"model {tok!r} has no name before '='")
            out.append((name, [url] if url else []))
        elif tok.startswith(("http://", "https://")):
            if not out:
                raise ValueError(f"{tok} has no model name; write name={tok}")
            out[-1][1].append(tok)
        else:
            out.append((tok, []))
    if not out:
        raise ValueError("name at least one model (name=base_url)")
    return out


def comparison_text(summaries: list[tuple[str, dict[str, Any]]], width: int = 40) -> Text:
    """One line per model: name, a bar for the mean, mean ± std, tests pass rate when known."""
    text = Text()
    if not summaries:
        return Text("No results yet.", style="dim")
    name_w = min(max(len(n) for n, _ in summaries), 18)
    bar_w = max(10, width - name_w - 32)
    for i, (name, s) in enumerate(summaries):
        mean = s.get("mean")
        filled = round((mean or 0.0) * bar_w)
        if i:
            text.append("\n")
        text.append(f"{name[:name_w]:<{name_w}} ", style="bold")
        text.append("█" * filled, style="green")
        text.append("·" * (bar_w - filled), style="dim")
        text.append(f" {mean_std(mean, s.get('std'))}")
        if s.get("tests_mean") is not None:
            text.append(f"  tests {s['tests_mean']:.0%}")
        text.append(f"  ({len(s.get('seed_means') or {})} seeds)", style="dim")
    return text


class EvalScreen(Screen):
    AUTO_FOCUS = "#eval-runs"  # not an input, so the app's single-key mode switches keep working
    DEFAULT_CSS = """
    EvalScreen #eval-form { height: auto; padding: 0 1; }
    EvalScreen #eval-form Horizontal { height: auto; }
    EvalScreen #eval-form Label { width: 9; padding: 0 1 0 0; color: $text-muted; }
    EvalScreen #eval-form Label.small { width: auto; padding: 0 1; }
    EvalScreen #eval-form Input { width: 1fr; }
    EvalScreen #eval-form Input.num { width: 6; }
    EvalScreen #eval-form Select { width: 14; }
    EvalScreen #eval-form Button { margin-left: 1; width: auto; min-width: 10; }
    EvalScreen #eval-status { height: auto; padding: 0 1; }
    EvalScreen #eval-progress { padding: 0 1; height: 1; }
    EvalScreen #eval-live { height: 1fr; }
    EvalScreen #comparison { width: 1fr; padding: 0 1; }
    EvalScreen #eval-log { width: 1fr; border-left: solid $panel-lighten-2; }
    EvalScreen #eval-runs { height: 8; }
    """

    BINDINGS = [
        Binding("ctrl+l", "launch", "Launch"),
        Binding("ctrl+b", "cancel_run", "Cancel run"),
        Binding("ctrl+g", "focus_runs", "Past runs"),
        Binding("ctrl+r", "reload", "Reload", show=False),
    ]

    class RunsLoaded(Message):
        def __init__(self, runs: list[Any], summaries: dict[int, dict[str, Any]], error: str | None = None) -> None:
            super().__init__()
            self.runs, self.summaries, self.error = runs, summaries, error
            self.repos: list[str] = []  # registered repo names: completions for the Repo field

    class Event(Message):
        """An engine event (RunStarted / EvalProgress / RunFinished) from the evaluation thread."""

        def __init__(self, event: Any) -> None:
            super().__init__()
            self.event = event

    class Ended(Message):
        def __init__(self, report: Any, error: str | None = None) -> None:
            super().__init__()
            self.report, self.error = report, error

    def __init__(self) -> None:
        super().__init__()
        self.cancel_flag: threading.Event | None = None
        self.running = False
        self.unavailable: str | None = None
        self.summaries: dict[int, dict[str, Any]] = {}
        self.last_group: str | None = None

    # -- layout ----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        yield ReadOnlyBanner()
        with Vertical(id="eval-form"):
            with Horizontal():
                yield Label("Models")
                yield Input(placeholder="student=http://127.0.0.1:8000/v1, base=…", id="models",
                            compact=True)
                yield Button("Launch", id="launch", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", variant="error", compact=True, disabled=True)
            with Horizontal():
                yield Label("Tasks")
                yield Input(placeholder="heldout, or a JSONL task file", value="heldout", id="tasks", compact=True)
                yield Label("Repo", classes="small")
                yield Input(placeholder="repo (for heldout)", id="repo", compact=True)
            with Horizontal():
                yield Label("Provider")
                yield Select([("openai", "openai"), ("anthropic", "anthropic"), ("demo", "demo")],
                             value="openai", allow_blank=False, id="provider", compact=True)
                yield Label("Seeds", classes="small")
                yield Input("3", id="seeds", type="integer", compact=True, classes="num")
                yield Label("Steps", classes="small")
                yield Input(placeholder="115", id="step-limit", type="integer", compact=True, classes="num")
        yield Static("", id="eval-status")
        yield ProgressBar(total=1, id="eval-progress", show_eta=False)
        with Horizontal(id="eval-live"):
            yield Static("No results yet.", id="comparison")
            yield Log(id="eval-log", max_lines=LOG_LINES, auto_scroll=True)
        yield DataTable(id="eval-runs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Eval"
        table = self.query_one("#eval-runs", DataTable)
        table.add_columns(*RUN_COLUMNS)
        table.border_title = "Past eval runs"
        try:
            import engine.eval  # noqa: F401
        except ImportError as exc:
            self.unavailable = f"not available yet: engine/eval (issue 8) cannot be imported ({exc})"
            self.query_one("#launch", Button).disabled = True
        self._status(self.unavailable or "Name the model(s) and tasks, then Launch (ctrl+l).",
                     "yellow" if self.unavailable else "")
        self.action_reload()

    def _status(self, text: str, style: str = "") -> None:
        self.query_one("#eval-status", Static).update(Text(text, style=style))

    def on_screen_resume(self) -> None:
        if self.is_mounted and not self.running:
            self.action_reload()

    # -- past runs -------------------------------------------------------------------------------
    def action_reload(self) -> None:
        self._load_runs()

    @work(thread=True, exclusive=True, group="eval-runs")
    def _load_runs(self) -> None:
        try:
            from store import evals
        except ImportError as exc:
            self.post_message(self.RunsLoaded([], {}, f"past runs not available yet: store/evals.py ({exc})"))
            return
        try:
            store = self.app.store  # type: ignore[attr-defined]
            runs = evals.list_eval_runs(store)
            summaries = {r.id: evals.eval_summary(store, r.id) for r in runs[:20]}
            msg = self.RunsLoaded(runs, summaries)
            from store.repos import list_repos

            msg.repos = [r.name for r in list_repos(store)]
            self.post_message(msg)
        except Exception as exc:
            self.post_message(self.RunsLoaded([], {}, _one_line(exc)))

    def on_eval_screen_runs_loaded(self, msg: EvalScreen.RunsLoaded) -> None:
        self.query_one(ReadOnlyBanner).refresh_state()  # the store is open now
        table = self.query_one("#eval-runs", DataTable)
        table.clear()
        if msg.error:
            table.border_subtitle = msg.error
            return
        self.summaries = msg.summaries
        if msg.repos:
            self.query_one("#repo", Input).suggester = SuggestFromList(msg.repos, case_sensitive=False)
        table.border_subtitle = f"{len(msg.runs)} run(s) · Enter compares that run's models"
        cells = []
        for r in msg.runs:
            started = r.started_at.strftime("%Y-%m-%d %H:%M") if r.started_at else "—"
            tasks = (r.tasks_spec or "").rsplit("/", 1)[-1]
            status = r.status + (f": {r.error}" if r.error and r.status == "failed" else "")
            cells.append((str(r.id), r.model, tasks, str(r.seeds or "—"), status[:30], mean_std(r.mean, r.std),
                          started))
        fill_table(table, RUN_COLUMNS, cells, [str(r.id) for r in msg.runs])
        if msg.runs:
            self._compare_group((msg.runs[0].config or {}).get("group"), msg.runs)

    def _compare_group(self, group: str | None, runs: list[Any] | None = None) -> None:
        """Show the models of one `sera eval` invocation side by side."""
        runs = runs if runs is not None else []
        same = [r for r in runs if (r.config or {}).get("group") == group] if group else runs[:1]
        rows = [(r.model, self.summaries.get(r.id) or {"mean": r.mean, "std": r.std}) for r in reversed(same)]
        w = self.query_one("#comparison", Static)
        w.update(comparison_text(rows, w.content_size.width or 40))
        self.last_group = group

    @on(DataTable.RowSelected, "#eval-runs")
    def _pick_run(self, event: DataTable.RowSelected) -> None:
        self._pick(int(event.row_key.value))  # type: ignore[arg-type]

    @work(thread=True, exclusive=True, group="eval-runs")
    def _pick(self, run_id: int) -> None:
        from store import evals

        store = self.app.store  # type: ignore[attr-defined]
        run = evals.get_eval_run(store, run_id)
        if run is None:
            return
        group = (run.config or {}).get("group")
        runs = evals.list_eval_runs(store, group=group) if group else [run]
        self.summaries.update({r.id: evals.eval_summary(store, r.id) for r in runs})
        self.app.call_from_thread(self._compare_group, group, runs)

    # -- launching -------------------------------------------------------------------------------
    def action_launch(self) -> None:
        if self.unavailable:
            self.notify(self.unavailable, severity="warning")
            return
        if self.running:
            self.notify("An evaluation is already running here; cancel it first.", severity="warning")
            return
        try:
            models = parse_models(self.query_one("#models", Input).value)
            seeds = int(self.query_one("#seeds", Input).value or "3")
            steps_text = self.query_one("#step-limit", Input).value.strip()
            step_limit = int(steps_text) if steps_text else None
        except ValueError as exc:
            self._status(f"Not started: {_one_line(exc)}", "red")
            return
        if seeds < 1:
            self._status("Not started: seeds must be at least 1", "red")
            return
        tasks = self.query_one("#tasks", Input).value.strip() or "heldout"
        repo = self.query_one("#repo", Input).value.strip() or None
        provider = str(self.query_one("#provider", Select).value)
        self.running = True
        self.cancel_flag = threading.Event()
        self.query_one("#launch", Button).disabled = True
        self.query_one("#cancel", Button).disabled = False
        self.query_one("#eval-log", Log).clear()
        self.query_one("#eval-progress", ProgressBar).update(total=1, progress=0)
        self._status("Starting the evaluation…")
        self._run(models, provider, tasks, repo, seeds, step_limit, self.cancel_flag)

    @work(thread=True, exclusive=True, group="eval-run")
    def _run(self, models: list[tuple[str, list[str]]], provider: str, tasks_spec: str, repo: str | None,
             seeds: int, step_limit: int | None, cancel: threading.Event) -> None:
        from engine.eval import EvalConfig, ModelSpec, heldout_tasks, load_task_file, run_eval
        from engine.events import EventBus

        try:
            store = self.app.store  # type: ignore[attr-defined]
            if store.read_only:
                raise RuntimeError("the database is open read-only; an evaluation is recorded in it")
            if tasks_spec == "heldout":
                if not repo:
                    raise ValueError("held-out tasks need a repo name")
                tasks = heldout_tasks(store, repo)
            else:
                tasks = load_task_file(tasks_spec, store)
            config = EvalConfig(models=[ModelSpec(n, urls, provider=provider) for n, urls in models], tasks=tasks,
                                tasks_spec=tasks_spec, seeds=seeds)
            if step_limit:
                config.agent.step_limit = step_limit
            bus = EventBus()
            bus.subscribe(lambda ev: self.post_message(self.Event(ev)))
            report = run_eval(store, self.app.workspace, config, bus, cancel)  # type: ignore[attr-defined]
            self.post_message(self.Ended(report))
        except Exception as exc:  # bad tasks/models/options or an engine error: one line, nothing lost
            self.post_message(self.Ended(None, _one_line(exc)))

    def on_eval_screen_event(self, msg: EvalScreen.Event) -> None:
        from engine.events import EvalProgress, RunStarted

        ev = msg.event
        bar = self.query_one("#eval-progress", ProgressBar)
        if isinstance(ev, RunStarted):
            bar.update(total=max(ev.total, 1), progress=0)
            self._status(f"Evaluating: 0 of {ev.total} rollouts done")
        elif isinstance(ev, EvalProgress):
            bar.update(total=max(ev.total, 1), progress=ev.done)
            if ev.log_line:
                self.query_one("#eval-log", Log).write_line(ev.log_line)
            self._status(f"Evaluating: {ev.done} of {ev.total} rollouts done")

    def on_eval_screen_ended(self, msg: EvalScreen.Ended) -> None:
        self.running = False
        self.query_one("#launch", Button).disabled = False
        self.query_one("#cancel", Button).disabled = True
        if msg.error:
            self._status(f"Evaluation failed: {msg.error}", "red")
        else:
            r = msg.report
            parts = [f"{m['model']} {mean_std(m['summary']['mean'], m['summary']['std'])}" for m in r.models]
            self._status(f"Evaluation {r.status}: " + " · ".join(parts),
                         "green" if r.status == "finished" else "yellow")
            self.query_one("#eval-log", Log).write_line(f"evaluation {r.status}")
        self.action_reload()

    @on(Button.Pressed, "#launch")
    def _launch_pressed(self) -> None:
        self.action_launch()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel_run()

    def action_cancel_run(self) -> None:
        if not self.running or self.cancel_flag is None:
            self.notify("No evaluation in progress here.", severity="warning")
            return
        self.cancel_flag.set()
        self.query_one("#cancel", Button).disabled = True
        self._status("Cancelling: in-flight rollouts stop at their next step…", "yellow")

    def action_focus_runs(self) -> None:
        self.query_one("#eval-runs", DataTable).focus()

    def on_unmount(self) -> None:
        if self.cancel_flag is not None:
            self.cancel_flag.set()
