"""Generate: the settings form, start/stop, a live task table and, for the selected task, T1 and T2
streaming side by side with the synthetic PR between them; a status line with throughput, tokens,
cost and ETA.

The pipeline (engine/svg/pipeline.run_generate) runs on its own asyncio loop in a worker thread.
Its events land in an EventInbox; a 5 Hz timer folds them into a LiveRun and touches only the rows
and panes that changed, so the UI stays responsive however many rollouts stream.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Collapsible, DataTable, Footer, Header, Input, Label, Select, Static

from engine.trajectory import Message as ChatMessage
from screens.widgets.banner import ReadOnlyBanner
from screens.widgets.live_run import EventInbox, LiveRun, TaskLive, fmt_duration, fmt_tokens
from screens.widgets.trajectory import StreamPane

TICK_S = 0.2  # UI folds of engine events: 5 a second is live to a reader and cheap for the loop
DEMO_LABEL = "demo teacher — not a language model"
STATE_STYLE = {"kept": "bold green", "running": "bold cyan", "pending": "dim", "below_threshold": "yellow",
               "judged_invalid": "magenta", "empty_patch": "yellow", "cancelled": "dim"}
COLUMNS = [("#", 3), ("Function", 22), ("State", 16), ("Stage", 5), ("Step", 4), ("Recall", 6)]


def fmt_recall(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}"


def _state_text(state: str) -> Text:
    return Text(state, style=STATE_STYLE.get(state, "bold red" if state.startswith("rollout_failed") else ""))


def parse_form(values: dict[str, str]) -> dict[str, Any]:
    """Form strings -> GenerateConfig keyword arguments; ValueError with a one-line message."""
    def integer(name: str, label: str) -> int:
        try:
            return int(values[name])
        except ValueError:
            raise ValueError(f"{label} must be a whole number, got {values[name]!r}") from None

    try:
        threshold = float(values["threshold"])
    except ValueError:
        raise ValueError(f"threshold must be a number between 0 and 1, got {values['threshold']!r}") from None
    urls = [u for u in values["endpoints"].replace(",", " ").split() if u]
    cats = [c for c in values["categories"].replace(",", " ").split() if c]
    if not values.get("repo"):
        raise ValueError("pick a repository (add one on the Repos screen)")
    return dict(repo=values["repo"], provider=values["provider"], base_urls=urls,
                model=values["model"].strip() or ("demo" if values["provider"] == "demo" else ""),
                concurrency=integer("concurrency", "concurrency"), pairs=integer("pairs", "pairs"),
                threshold=threshold, seed=integer("seed", "seed"), categories=cats, sandbox=values["sandbox"])


class GenerateScreen(Screen):
    BINDINGS = [
        Binding("ctrl+s", "start", "Start"),
        Binding("ctrl+x", "stop", "Stop"),
        Binding("d", "demo", "Demo"),
        Binding("i", "inspect", "Inspect pair"),
        Binding("o", "toggle_form", "Settings"),
        Binding("r", "reload", "Reload", show=False),
    ]

    @dataclass
    class Pipeline(Message):
        """The pipeline thread ended (summary) or could not start (error)."""
        summary: Any = None
        error: str | None = None

    @dataclass
    class RunLoaded(Message):
        run: Any
        tasks: list
        repos: list[str]
        error: str | None = None
        totals: Any = None

    @dataclass
    class TaskMessages(Message):
        task_id: int
        stage_messages: dict
        rollouts: dict
        pr_text: str | None

    def __init__(self) -> None:
        super().__init__()
        self.live = LiveRun()
        self.inbox = EventInbox()
        self.selected: int | None = None
        self._dirty: set[int] = set()
        self._rows: set[str] = set()  # row keys in the task table (str(task id))
        self._shown_rows: dict[str, list] = {}  # what each row shows now
        self._status_text = ""
        self._pr_shown: tuple[int, str] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cancel: asyncio.Event | None = None
        self._thread_running = threading.Event()
        self.demo = False
        self.stats = {"ticks": 0, "events": 0}

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        yield ReadOnlyBanner()
        # the main area scrolls when the terminal is short; the status line stays in view
        with VerticalScroll(id="gen-main"):
            with Collapsible(title="Settings (o)", collapsed=False, id="gen-form"):
                with Horizontal(classes="form-grid"):
                    yield Label("Repo")
                    yield Select([], id="f-repo", prompt="repository", allow_blank=True)
                    yield Label("Provider")
                    yield Select([("openai-compatible", "openai"), ("anthropic", "anthropic"), ("demo", "demo")],
                                 value="openai", id="f-provider", allow_blank=False)
                    yield Label("Endpoints")
                    yield Input(placeholder="http://host:8000/v1 (space-separated)", id="f-endpoints")
                    yield Label("Model")
                    yield Input(placeholder="teacher model name", id="f-model")
                    yield Label("Pairs")
                    yield Input("8", id="f-pairs", type="integer")
                    yield Label("Concurrency")
                    yield Input("4", id="f-concurrency", type="integer")
                    yield Label("Threshold")
                    yield Input("0.5", id="f-threshold", type="number")
                    yield Label("Seed")
                    yield Input("0", id="f-seed", type="integer")
                    yield Label("Categories")
                    yield Input(placeholder="all (or: validation timeouts …)", id="f-categories")
                    yield Label("Sandbox")
                    yield Select([("local", "local"), ("docker", "docker")], value="local",
                                 id="f-sandbox", allow_blank=False)
                with Horizontal(id="gen-buttons"):
                    yield Button("Start", id="start", variant="success")
                    yield Button("Stop", id="stop", variant="error", disabled=True)
                    yield Button("Demo", id="demo")
            table = DataTable(id="gen-tasks", cursor_type="row", zebra_stripes=True)
            for name, width in COLUMNS:
                table.add_column(name, width=width, key=name)
            yield table
            with Horizontal(id="gen-panes"):
                yield StreamPane("T1", id="t1-pane", classes="pane")
                with VerticalScroll(id="pr-pane", classes="pane"):
                    yield Static("", id="pr-text")
                yield StreamPane("T2", id="t2-pane", classes="pane")
        yield StatusLine(id="gen-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#pr-pane").border_title = "Synthetic PR"
        self.query_one("#pr-text", Static).update(Text("select a task", style="dim"))
        self.set_interval(TICK_S, self._tick)
        self._refresh_status()
        if self.app.options.pop("demo", False):
            self.start_demo()
        else:
            self.action_reload()

    # -- loading a past run ------------------------------------------------------------------
    def action_reload(self) -> None:
        if not self._thread_running.is_set():
            self._load_latest()

    @work(thread=True, exclusive=True, group="gen-load")
    def _load_latest(self, run_id: int | None = None) -> None:
        from store import StoreError
        from store.pairs import run_totals, tasks_of_run
        from store.repos import list_repos
        from store.runs import get_run, list_runs

        try:
            store = self.app.store
            repos = [r.name for r in list_repos(store)]
            if run_id is not None:
                run = get_run(store, run_id)
            else:
                runs = [r for r in list_runs(store) if r.kind in ("generate", "demo")]
                run = runs[0] if runs else None
            tasks = tasks_of_run(store, run.id) if run else []
            totals = run_totals(store, run.id) if run else None
        except StoreError as exc:
            self.post_message(self.RunLoaded(None, [], [], str(exc)))
            return
        self.post_message(self.RunLoaded(run, tasks, repos, totals=totals))

    def on_generate_screen_run_loaded(self, msg: RunLoaded) -> None:
        self.query_one(ReadOnlyBanner).refresh_state()
        sel = self.query_one("#f-repo", Select)
        sel.set_options([(name, name) for name in msg.repos])
        wanted = self.app.options.get("repo")
        if wanted in msg.repos:
            sel.value = wanted
        elif msg.repos and sel.is_blank():
            sel.value = msg.repos[0]
        if msg.error:
            self._set_status_error(f"cannot read the workspace database: {msg.error}")
            return
        if msg.run is None or self._thread_running.is_set():
            return
        live = LiveRun(run_id=msg.run.id, total=len(msg.tasks), status=msg.run.status, error=msg.run.error)
        if msg.totals is not None:
            live.prompt_tokens, live.completion_tokens = msg.totals.prompt_tokens, msg.totals.completion_tokens
            live.cost = msg.totals.cost
        for tv in msg.tasks:
            live.tasks[tv.id] = TaskLive(tv.id, seq=tv.seq, function=tv.function or "", file=tv.file or "",
                                         category=tv.category or "", state=tv.state, stage=tv.stage or "",
                                         steps=tv.steps, recall=tv.recall, recall_per_file=tv.recall_per_file,
                                         complete=False)
        self.demo = msg.run.kind == "demo" or msg.run.config.get("provider") == "demo"
        if self.app.size.height < 40:  # a short terminal: show the run, not the form (`o` opens it)
            self.query_one("#gen-form", Collapsible).collapsed = True
        self._show_run(live)

    def _show_run(self, live: LiveRun) -> None:
        self.live = live
        table = self.query_one("#gen-tasks", DataTable)
        table.clear()
        self._rows.clear()
        self._shown_rows.clear()
        for t in sorted(live.tasks.values(), key=lambda t: t.seq):
            self._add_row(table, t)
        self._refresh_status()
        if live.tasks and self.selected not in live.tasks:
            table.move_cursor(row=0)
            self.select_task(int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))

    # -- start / stop ------------------------------------------------------------------------
    def _form_values(self) -> dict[str, str]:
        def val(id_: str) -> str:
            w = self.query_one(f"#{id_}")
            if isinstance(w, Select):
                return "" if w.is_blank() else str(w.value)
            return w.value

        return {k: val(f"f-{k}") for k in ("repo", "provider", "endpoints", "model", "pairs", "concurrency",
                                             "threshold", "seed", "categories", "sandbox")}

    def action_start(self) -> None:
        if self._thread_running.is_set():
            self.notify("a generation is already running; stop it first", severity="warning")
            return
        if self._read_only():
            return
        try:
            kwargs = parse_form(self._form_values())
        except ValueError as exc:
            self._set_status_error(str(exc))
            return
        self.demo = kwargs["provider"] == "demo"
        self._launch(kwargs, prepare_demo=False)

    def action_demo(self) -> None:
        self.start_demo()

    def start_demo(self) -> None:
        """Copy the bundled sample repo into the workspace and run the demo teacher on it, live."""
        if self._thread_running.is_set() or self._read_only():
            return
        opts = self.app.options
        self.demo = True
        # the same settings as `sera demo --no-tui` (sera_tui/commands/demo.py: demo_config)
        self._launch(dict(provider="demo", model="demo", pairs=int(opts.get("demo_pairs", 8)),
                          concurrency=int(opts.get("demo_concurrency", 4)), seed=int(opts.get("demo_seed", 0)),
                          kind="demo", step_limit=30, temperature=0.0), prepare_demo=True)

    def _read_only(self) -> bool:
        try:
            ro = self.app.store.read_only
        except Exception as exc:  # noqa: BLE001 - any open failure is shown, not raised
            self._set_status_error(f"cannot open the workspace database: {exc}")
            return True
        if ro:
            self._set_status_error("the database is open read-only; generation is disabled")
        return ro

    def _launch(self, kwargs: dict[str, Any], *, prepare_demo: bool) -> None:
        self.live = LiveRun(status="starting")
        self.selected = None
        self.query_one("#gen-tasks", DataTable).clear()
        self._rows.clear()
        self._shown_rows.clear()
        for pane in self.query(StreamPane):
            pane.reset(pane.border_title.split(" ")[0] if pane.border_title else None, placeholder="")
        self.query_one("#pr-text", Static).update("")
        self._set_running(True)
        self.query_one("#gen-form", Collapsible).collapsed = True
        self._thread_running.set()
        self._run_pipeline(kwargs, prepare_demo)
        self._refresh_status()

    @work(thread=True, exclusive=True, group="gen-run", exit_on_error=False)
    def _run_pipeline(self, kwargs: dict[str, Any], prepare_demo: bool) -> None:
        from engine.events import EventBus
        from engine.repo import RepoError
        from engine.svg.pipeline import GenerateConfig, GenerateError, run_generate
        from store import StoreError

        bus = EventBus()
        bus.subscribe(self.inbox)
        loop = asyncio.new_event_loop()
        try:
            store = self.app.store
            if prepare_demo:
                kwargs = {**kwargs, "repo": prepare_demo_repo(self.app.workspace, store)}
            config = GenerateConfig(**kwargs)

            async def main() -> Any:
                self._cancel = asyncio.Event()
                return await run_generate(store, self.app.workspace, config, bus=bus, cancel=self._cancel)

            self._loop = loop
            summary = loop.run_until_complete(main())
            self.post_message(self.Pipeline(summary=summary))
        except (GenerateError, StoreError, RepoError, ValueError) as exc:
            self.post_message(self.Pipeline(error=str(exc)))
        except Exception as exc:  # noqa: BLE001 - the UI must say what broke, not die
            self.post_message(self.Pipeline(error=f"{type(exc).__name__}: {exc}"))
        finally:
            self._loop = None
            loop.close()
            self._thread_running.clear()

    def action_stop(self) -> None:
        loop, cancel = self._loop, self._cancel
        if loop is None or cancel is None:
            return
        loop.call_soon_threadsafe(cancel.set)
        self.query_one("#gen-status", StatusLine).update("stopping: in-flight tasks end as cancelled …")

    def on_generate_screen_pipeline(self, msg: Pipeline) -> None:
        self._tick()  # fold the last events first
        self._set_running(False)
        if msg.error:
            self.live.status, self.live.error = "failed", msg.error
            self._set_status_error(msg.error)
            self.query_one("#gen-form", Collapsible).collapsed = False
            return
        if msg.summary is not None:
            self.live.status = msg.summary.status
        self._refresh_status()

    def _set_running(self, running: bool) -> None:
        self.query_one("#start", Button).disabled = running
        self.query_one("#demo", Button).disabled = running
        self.query_one("#stop", Button).disabled = not running

    @on(Button.Pressed, "#start")
    def _start_pressed(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#stop")
    def _stop_pressed(self) -> None:
        self.action_stop()

    @on(Button.Pressed, "#demo")
    def _demo_pressed(self) -> None:
        self.start_demo()

    def action_toggle_form(self) -> None:
        form = self.query_one("#gen-form", Collapsible)
        form.collapsed = not form.collapsed

    # -- the 5 Hz fold ----------------------------------------------------------------------
    def _tick(self) -> None:
        events = self.inbox.drain()
        self.stats["ticks"] += 1
        if events:
            self.stats["events"] += len(events)
            new_tasks = False
            for e in events:
                before = len(self.live.tasks)
                self._dirty |= self.live.apply(e)
                new_tasks |= len(self.live.tasks) != before
            table = self.query_one("#gen-tasks", DataTable)
            for task_id in sorted(self._dirty):
                t = self.live.tasks[task_id]
                if str(t.id) in self._rows:
                    self._update_row(table, t)
                else:
                    self._add_row(table, t)
            self._dirty.clear()
            if self.selected is None and self.live.tasks:
                first = min(self.live.tasks.values(), key=lambda t: t.seq)
                self.select_task(first.id)
            else:
                self._stream_selected()
        if self.live.status in ("running", "starting") or events:
            self._refresh_status()

    def _row(self, t: TaskLive) -> list:
        return [str(t.seq + 1), t.function or "…", _state_text(t.state), t.stage or "-", str(t.steps),
                fmt_recall(t.recall)]

    def _add_row(self, table: DataTable, t: TaskLive) -> None:
        row = self._row(t)
        table.add_row(*row, key=str(t.id))
        self._rows.add(str(t.id))
        self._shown_rows[str(t.id)] = row

    def _update_row(self, table: DataTable, t: TaskLive) -> None:
        # Only cells whose text changed: each update invalidates the table's render cache.
        key = str(t.id)
        old = self._shown_rows.get(key, [])
        new = self._row(t)
        for i, ((name, _), value) in enumerate(zip(COLUMNS, new)):
            if i >= len(old) or str(old[i]) != str(value):
                table.update_cell(key, name, value)
        self._shown_rows[key] = new

    # -- the selected task -------------------------------------------------------------------
    @on(DataTable.RowHighlighted, "#gen-tasks")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and int(event.row_key.value) != self.selected:
            self.select_task(int(event.row_key.value))

    @on(DataTable.RowSelected, "#gen-tasks")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_inspect()

    def select_task(self, task_id: int) -> None:
        self.selected = task_id
        t = self.live.tasks.get(task_id)
        if t is None:
            return
        label = f" · {DEMO_LABEL}" if self.demo else ""
        for stage in ("T1", "T2"):
            pane = self.query_one(f"#{stage.lower()}-pane", StreamPane)
            pane.reset(f"{stage} · {t.function}{label}", t.rollouts.get(stage),
                       placeholder="waiting for messages…" if t.state in ("pending", "running") else "no rollout")
        self._show_pr(t)
        if t.complete:
            self._stream_selected()
        else:
            self._load_task(task_id)

    def _show_pr(self, t: TaskLive) -> None:
        if t.pr_text:
            text = Text(t.pr_text)
        elif t.state in ("pending", "running"):
            text = Text("the PR appears after the judge accepts T1", style="dim")
        else:
            text = Text(f"no PR ({t.state})", style="dim")
        if (t.id, text.plain) != self._pr_shown:  # an update costs a layout pass: only on change
            self._pr_shown = (t.id, text.plain)
            self.query_one("#pr-text", Static).update(text)

    def _stream_selected(self) -> None:
        t = self.live.tasks.get(self.selected) if self.selected is not None else None
        if t is None or not t.complete:
            return
        for stage in ("T1", "T2"):
            pane = self.query_one(f"#{stage.lower()}-pane", StreamPane)
            msgs = t.messages.get(stage, [])
            if len(msgs) > pane.count:
                pane.append(msgs[pane.count:])
        self._show_pr(t)

    @work(thread=True, exclusive=True, group="gen-task")
    def _load_task(self, task_id: int) -> None:
        from store import StoreError
        from store.pairs import pair_details, rollout_messages

        try:
            d = pair_details(self.app.store, task_id)
            if d is None:
                return
            rollouts = {ro.stage: ro.id for ro in (d.t1, d.t2) if ro is not None}
            msgs = {stage: [ChatMessage.from_dict(m) for m in rollout_messages(self.app.store, rid)]
                    for stage, rid in rollouts.items()}
        except StoreError:
            return
        self.post_message(self.TaskMessages(task_id, msgs, rollouts, d.pr_text))

    def on_generate_screen_task_messages(self, msg: TaskMessages) -> None:
        t = self.live.tasks.get(msg.task_id)
        if t is None:
            return
        # Keep what streamed meanwhile: stored messages first, live ones beyond them.
        for stage, stored in msg.stage_messages.items():
            live = t.messages.get(stage, [])
            t.messages[stage] = stored + live[len(stored):]
        t.rollouts.update(msg.rollouts)
        t.pr_text = t.pr_text or msg.pr_text
        t.complete = True
        if self.selected == msg.task_id:
            self._stream_selected()

    def action_inspect(self) -> None:
        if self.selected is None:
            self.notify("select a task first", severity="warning")
            return
        t = self.live.tasks.get(self.selected)
        if t is None or "T2" not in t.rollouts and t.complete:
            self.notify("this task has no pair to inspect yet (no rollout 2)", severity="warning")
            return
        ids = [x.id for x in sorted(self.live.tasks.values(), key=lambda x: x.seq)
               if "T2" in x.rollouts or not x.complete]
        self.app.push_screen(_inspector(self.selected, ids))

    # -- status line -------------------------------------------------------------------------
    def _refresh_status(self) -> None:
        lv = self.live
        if lv.status == "idle":
            text = Text("no run yet: fill the settings and press Start (ctrl+s), or press d for a demo",
                        style="dim")
        else:
            total = lv.total or len(lv.tasks)
            text = Text()
            text.append(f"run {lv.run_id or '…'} ", style="bold")
            text.append(f"{lv.status} · {lv.done}/{total} done · {lv.in_flight} in flight · {lv.kept} kept")
            mean = lv.mean_recall()
            text.append(f" · recall {fmt_recall(mean)}")
            rate = f"{lv.pairs_per_min():.1f}" if lv.started is not None else "-"
            text.append(f" · {rate} pairs/min · tok {fmt_tokens(lv.prompt_tokens)}"
                        f"+{fmt_tokens(lv.completion_tokens)} · ${lv.cost:.2f} · ETA {fmt_duration(lv.eta_s())}")
            if self.demo:
                text.append(f" · {DEMO_LABEL}", style="italic yellow")
        if text.plain == self._status_text:
            return
        self._status_text = text.plain
        w = self.query_one("#gen-status", StatusLine)
        w.update(text)
        if w.has_class("-error"):
            w.remove_class("-error")

    def _set_status_error(self, text: str) -> None:
        self._status_text = ""
        w = self.query_one("#gen-status", StatusLine)
        w.update(Text(f"error: {text}", style="bold red"))
        w.add_class("-error")


class StatusLine(Widget):
    """A one-line status bar. Unlike Static.update(), changing it repaints without a layout pass
    (it is refreshed up to 5 times a second while a run streams)."""

    DEFAULT_CSS = "StatusLine { height: 1; }"

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.text: Text = Text("")

    def update(self, text: Text | str) -> None:
        self.text = text if isinstance(text, Text) else Text(text)
        self.refresh()

    def render(self) -> Text:
        return self.text


def _inspector(task_id: int, ids: list[int]):
    from screens.inspector import PairInspectorScreen

    return PairInspectorScreen(task_id=task_id, task_ids=ids)


def prepare_demo_repo(workspace, store) -> str:
    """Register the bundled sample repo (copied into the workspace as a fresh git repo); its name."""
    from engine.svg.sample_repo import install_sample_repo

    return install_sample_repo(workspace, store).name
