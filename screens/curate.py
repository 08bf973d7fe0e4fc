"""Curate: every export filter as a form control, a live count and recall histogram, the matching
pairs (Enter opens the pair inspector) and export to a named SFT dataset.

Queries run in a thread worker, debounced so typing a number does not start one query per key.
The SQL lives in store/curation.py and the export in engine/curate/export.py; when either is not
there yet the screen says so instead of failing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    Select,
    SelectionList,
    Static,
)
from textual.widgets.selection_list import Selection

from screens.widgets.banner import ReadOnlyBanner
from screens.widgets.tables import fill_table
from store.filters import FilterSpec

STATES = ["kept", "below_threshold", "judged_invalid", "empty_patch", "cancelled"]
VERDICTS = ["accept", "reject", "skip", "unreviewed"]
DEBOUNCE_S = 0.25
TABLE_LIMIT = 500
PAIR_COLUMNS = ("task", "function", "state", "recall", "verdict", "category")

# plotext draws on one global figure: one chart at a time, from any thread.
_PLOT_LOCK = threading.Lock()


def chart_text(kind: str, xs: list, ys: list, width: int, height: int, title: str = "") -> str:
    """A plotext chart as plain text ("bar" or "line"); colourless so it reads in both themes."""
    import plotext as plt

    with _PLOT_LOCK:
        fig = plt.figure
        fig.clear()
        fig.plot_size(max(width, 20), max(height, 5))
        if xs:
            fig.draw(fig.bar(xs, ys) if kind == "bar" else fig.signal(xs, ys).lines(True))
        if xs and kind == "bar" and max(ys) > 0:
            # counts are whole numbers: integer ticks, as many as the height shows apart
            n_ticks = max(1, min(4, (height - 4) // 2))
            step = max(1, -(-int(max(ys)) // n_ticks))
            ticks = list(range(0, int(max(ys)) + step, step))
            fig.ruler(axis=1).ticks(ticks, [str(t) for t in ticks])
            fig.ruler(axis=1).lim(0, ticks[-1])
        if title:
            fig.title(title)
        out = fig.build().string(colorless=True)
        fig.clear()
    return out


def field_of(row: Any, *names: str, default: Any = None) -> Any:
    """Read a field from a row that may be a dict, a dataclass/namedtuple or an object."""
    for name in names:
        if isinstance(row, dict):
            if name in row:
                return row[name]
        elif hasattr(row, name):
            return getattr(row, name)
    return default


def histogram_bins(hist: Any) -> tuple[list[str], list[int]]:
    """Labels and counts from store.curation.recall_histogram's {"bins": [Bin(lo, hi, count)], ...}."""
    bins = field_of(hist, "bins", default=hist) or []
    return [f"{float(field_of(b, 'lo', default=0.0)):.1f}" for b in bins], \
        [int(field_of(b, "count", default=0)) for b in bins]


def _fmt_recall(v: Any) -> str:
    return "—" if v is None else f"{float(v):.2f}"


class RecallHistogram(Static):
    """The recall histogram of the current selection, redrawn to its own size."""

    DEFAULT_CSS = "RecallHistogram { height: 10; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", markup=False, **kwargs)
        self.labels: list[str] = []
        self.counts: list[int] = []
        self.note = "loading…"

    def set_data(self, labels: list[str], counts: list[int], note: str = "") -> None:
        self.labels, self.counts, self.note = labels, counts, note
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if not self.labels or not any(self.counts):
            self.update(self.note or "no recall to plot")
            return
        w, h = self.content_size.width or 40, self.content_size.height or 10
        self.update(Text(chart_text("bar", self.labels, self.counts, w, h, "recall histogram")))


@dataclass
class QueryResult:
    count: int | None = None
    hist: tuple[list[str], list[int]] | None = None
    error: str | None = None


class CurateScreen(Screen):
    """Filters on the left, count + histogram + matching pairs on the right."""

    AUTO_FOCUS = "#pairs"  # not an input, so the app's single-key mode switches keep working

    DEFAULT_CSS = """
    CurateScreen #curate-body { height: 1fr; }
    CurateScreen #filters { width: 32; border-right: solid $panel-lighten-2; padding: 0 1; }
    CurateScreen #filters Label { margin-top: 1; color: $text-muted; }
    CurateScreen #filters Input, CurateScreen #filters Select { background: $boost; }
    CurateScreen #filters Checkbox { margin-top: 1; }
    CurateScreen #filters Input, CurateScreen #filters Select { width: 100%; }
    CurateScreen #filters SelectionList { height: auto; max-height: 7; }
    CurateScreen #results { width: 1fr; padding: 0 1; }
    CurateScreen #count { height: 1; text-style: bold; }
    CurateScreen #pairs { height: 1fr; min-height: 5; }
    CurateScreen #export-row { height: auto; margin-top: 1; }
    CurateScreen #export-row Button { width: 100%; }
    CurateScreen #export-status { height: auto; color: $text-muted; }
    CurateScreen .invalid-note { color: $error; }
    """

    BINDINGS = [
        Binding("ctrl+f", "focus_filters", "Filters"),
        Binding("ctrl+g", "focus_table", "Pairs"),
        Binding("ctrl+l", "sera_preset", "SERA preset"),
        Binding("ctrl+r", "reset", "Reset"),
        Binding("ctrl+o", "focus_export", "Export"),
    ]

    class Results(Message):
        def __init__(self, seq: int, result: QueryResult) -> None:
            super().__init__()
            self.seq, self.result = seq, result

    class Rows(Message):
        def __init__(self, seq: int, rows: list[Any]) -> None:
            super().__init__()
            self.seq, self.rows = seq, rows

    class Exported(Message):
        def __init__(self, text: str, ok: bool) -> None:
            super().__init__()
            self.text, self.ok = text, ok

    def __init__(self) -> None:
        super().__init__()
        self._timer = None
        self._seq = 0          # newest query; older results are dropped
        self._applying = False  # setting controls programmatically: one refresh at the end
        self.spec = FilterSpec()
        self.count: int | None = None
        self.task_ids: list[int] = []
        self._choices_loaded = False

    # -- layout ----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        yield ReadOnlyBanner()
        with Horizontal(id="curate-body"):
            with VerticalScroll(id="filters"):
                yield Label("Min recall (0-1)")
                yield Input(placeholder="any", id="min-recall", type="number", compact=True)
                yield Select([("sera", "sera"), ("per-file", "per-file")], value="sera", allow_blank=False,
                             id="recall-mode", compact=True)
                yield Label("Task states")
                yield SelectionList[str](*(Selection(s, s) for s in STATES), id="states", compact=True)
                yield Label("Stage")
                yield Select([("T1 + T2", "both"), ("T1", "T1"), ("T2", "T2")], value="both",
                             allow_blank=False, id="stage", compact=True)
                yield Checkbox("Submitted only", value=True, id="submitted-only", compact=True)
                yield Label("Max patch lines")
                yield Input(placeholder="any (SERA: 40)", id="max-patch-lines", type="integer", compact=True)
                yield Label("Max mean tool tokens")
                yield Input(placeholder="any (SERA: 600)", id="max-tool-tokens", type="number", compact=True)
                yield Label("Max steps")
                yield Input(placeholder="any", id="max-steps", type="integer", compact=True)
                yield Label("Categories")
                yield SelectionList[str](id="categories", compact=True)
                yield Label("Review verdict")
                yield SelectionList[str](*(Selection(v, v) for v in VERDICTS), id="verdicts", compact=True)
                yield Label("Repo")
                yield Select([], prompt="any", id="repo", compact=True)
                yield Label("Run id")
                yield Input(placeholder="any", id="run-id", type="integer", compact=True)
                yield Static("", id="filter-error", classes="invalid-note")
                with Vertical(id="export-row"):
                    yield Label("Export as dataset")
                    yield Input(placeholder="dataset name", id="dataset-name", compact=True)
                    yield Select([("openai", "openai"), ("hermes", "hermes")], value="openai",
                                 allow_blank=False, id="export-format", compact=True)
                    yield Button("Export", id="export", variant="primary", compact=True)
                    yield Static("", id="export-status")
            with Vertical(id="results"):
                yield Static("Matching pairs: …", id="count")
                yield RecallHistogram(id="histogram")
                yield DataTable(id="pairs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Curate"
        table = self.query_one("#pairs", DataTable)
        table.add_columns(*PAIR_COLUMNS)
        self._refresh_now()

    def on_screen_resume(self) -> None:
        # Pairs, verdicts and datasets change on other screens: re-count when coming back.
        if self.is_mounted and self._seq:
            self._choices_loaded = False
            self._refresh_now()

    # -- choices offered by the form (from what the store holds) ---------------------------------
    class Choices(Message):
        def __init__(self, states: list[str], categories: list[str], repos: list[str]) -> None:
            super().__init__()
            self.states, self.categories, self.repos = states, categories, repos

    @work(thread=True, exclusive=True, group="curate-choices")
    def _load_choices(self) -> None:
        try:
            from store import curation
            from store.repos import list_repos

            store = self.app.store  # type: ignore[attr-defined]
            st = curation.stats(store, FilterSpec(submitted_only=False))
            known = [k for k in st["by_state"] if k != "(none)"]
            cats = sorted(k for k in st["by_category"] if k != "(none)")
            self.post_message(self.Choices(known, cats, [r.name for r in list_repos(store)]))
        except Exception:  # the query worker reports store problems; the form keeps its defaults
            return

    def on_curate_screen_choices(self, msg: CurateScreen.Choices) -> None:
        self._applying = True  # adding options is not a filter change
        try:
            states = self.query_one("#states", SelectionList)
            have = {states.get_option_at_index(i).value for i in range(states.option_count)}
            states.add_options([Selection(s, s) for s in sorted(set(msg.states) - have)])
            cats = self.query_one("#categories", SelectionList)
            have = {cats.get_option_at_index(i).value for i in range(cats.option_count)}
            cats.add_options([Selection(c, c) for c in msg.categories if c not in have])
            repo = self.query_one("#repo", Select)
            current = repo.value
            repo.set_options([(r, r) for r in msg.repos])
            if current in msg.repos:
                repo.value = current
        finally:
            self._applying = False

    # -- reading the form ------------------------------------------------------------------------
    def _number(self, wid: str, kind: type, errors: list[str], name: str, lo: float | None = None,
                hi: float | None = None) -> Any:
        text = self.query_one(f"#{wid}", Input).value.strip()
        if not text:
            return None
        try:
            value = kind(text)
        except ValueError:
            errors.append(f"{name}: {text!r} is not a {'whole ' if kind is int else ''}number")
            return None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            errors.append(f"{name} must be between {lo:g} and {hi:g}" if hi is not None
                          else f"{name} must be at least {lo:g}")
            return None
        return value

    def read_spec(self) -> tuple[FilterSpec, list[str]]:
        """The FilterSpec the form describes, and what is wrong with it (bad fields are left out)."""
        errors: list[str] = []
        states = list(self.query_one("#states", SelectionList).selected)
        verdicts = list(self.query_one("#verdicts", SelectionList).selected)
        cats = list(self.query_one("#categories", SelectionList).selected)
        repo_value = self.query_one("#repo", Select).value
        repo = repo_value if isinstance(repo_value, str) else None
        spec = FilterSpec(
            min_recall=self._number("min-recall", float, errors, "min recall", 0.0, 1.0),
            recall_mode=self.query_one("#recall-mode", Select).value,  # type: ignore[arg-type]
            states=states or None,
            stage=self.query_one("#stage", Select).value,  # type: ignore[arg-type]
            submitted_only=self.query_one("#submitted-only", Checkbox).value,
            max_patch_lines=self._number("max-patch-lines", int, errors, "max patch lines", 0),
            max_mean_tool_tokens=self._number("max-tool-tokens", float, errors, "max mean tool tokens", 0),
            max_steps=self._number("max-steps", int, errors, "max steps", 0),
            categories=cats or None,
            verdicts=verdicts or None,
            repo=repo or None,
            run_id=self._number("run-id", int, errors, "run id", 1),
        )
        return spec, errors

    def apply_spec(self, spec: FilterSpec) -> None:
        """Set every control from a spec (presets, reset); one query afterwards."""
        self._applying = True
        try:
            def num(v: Any) -> str:
                return "" if v is None else (f"{v:g}" if isinstance(v, float) else str(v))

            self.query_one("#min-recall", Input).value = num(spec.min_recall)
            self.query_one("#recall-mode", Select).value = spec.recall_mode
            self.query_one("#stage", Select).value = spec.stage
            self.query_one("#submitted-only", Checkbox).value = spec.submitted_only
            self.query_one("#max-patch-lines", Input).value = num(spec.max_patch_lines)
            self.query_one("#max-tool-tokens", Input).value = num(spec.max_mean_tool_tokens)
            self.query_one("#max-steps", Input).value = num(spec.max_steps)
            repo = self.query_one("#repo", Select)
            repo.value = spec.repo if spec.repo else Select.NULL
            self.query_one("#run-id", Input).value = num(spec.run_id)
            for wid, chosen in (("#states", spec.states), ("#verdicts", spec.verdicts),
                                ("#categories", spec.categories)):
                sl = self.query_one(wid, SelectionList)
                sl.deselect_all()
                have = {sl.get_option_at_index(i).value for i in range(sl.option_count)}
                for v in chosen or []:
                    if v not in have:  # e.g. a category no pair has yet: still a valid filter value
                        sl.add_option(Selection(v, v))
                    sl.select(v)
        finally:
            self._applying = False
        self._refresh_now()

    # -- reacting to changes (debounced) ---------------------------------------------------------
    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    @on(SelectionList.SelectedChanged)
    def _filters_changed(self, event: Message) -> None:
        if getattr(event, "input", None) is not None and event.input.id == "dataset-name":  # type: ignore[attr-defined]
            return
        if getattr(event, "select", None) is not None and event.select.id == "export-format":  # type: ignore[attr-defined]
            return
        if self._applying:
            return
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE_S, self._refresh_now)

    def _refresh_now(self) -> None:
        self._timer = None
        spec, errors = self.read_spec()
        err = self.query_one("#filter-error", Static)
        err.update("\n".join(errors))
        if errors:
            self.query_one("#count", Static).update("Matching pairs: fix the highlighted filter first")
            return
        self.spec = spec
        self._seq += 1
        self.query_one("#count", Static).update(
            "Matching pairs: …" if self.count is None else f"Matching pairs: {self.count}  (updating…)")
        self._query(self._seq, spec)

    @work(thread=True, exclusive=True, group="curate-query")
    def _query(self, seq: int, spec: FilterSpec) -> None:
        result = QueryResult()
        try:
            from store import curation
        except ImportError as exc:
            result.error = f"not available yet: store/curation.py is missing ({exc})"
            self.post_message(self.Results(seq, result))
            return
        try:
            store = self.app.store  # type: ignore[attr-defined]
            # The count and histogram are cheap: show them before the (slower) table rows.
            result.count = int(curation.count_pairs(store, spec))
            result.hist = histogram_bins(curation.recall_histogram(store, spec, bins=10))
            self.post_message(self.Results(seq, result))
            rows = list(curation.select_pairs(store, spec, limit=TABLE_LIMIT, offset=0))
            self.post_message(self.Rows(seq, rows))
        except Exception as exc:  # a store or query error is shown, never a crash
            result.error = " ".join(str(exc).split()) or type(exc).__name__
            self.post_message(self.Results(seq, result))

    def on_curate_screen_results(self, message: CurateScreen.Results) -> None:
        self.query_one(ReadOnlyBanner).refresh_state()  # the store is open now
        if message.seq != self._seq:
            return  # superseded by a newer query
        r = message.result
        count_w = self.query_one("#count", Static)
        hist = self.query_one("#histogram", RecallHistogram)
        if r.error:
            count_w.update(Text(f"Matching pairs: ?  {r.error}", style="bold red"))
            hist.set_data([], [], "")
            return
        self.count = r.count
        count_w.update(f"Matching pairs: {r.count}"
                       + (f"  (table shows the first {TABLE_LIMIT})" if (r.count or 0) > TABLE_LIMIT else ""))
        labels, counts = r.hist or ([], [])
        hist.set_data(labels, counts, "no pairs match" if not r.count else "")
        if not self._choices_loaded:
            # after the first result, so the heavier choice query never delays the count
            self._choices_loaded = True
            self._load_choices()

    def on_curate_screen_rows(self, message: CurateScreen.Rows) -> None:
        if message.seq != self._seq:
            return
        self.task_ids, cells = [], []
        for row in message.rows:
            tid = field_of(row, "task_id", "id")
            self.task_ids.append(int(tid))
            recall = field_of(row, "recall", "recall_sera" if self.spec.recall_mode == "sera"
                              else "recall_per_file")
            cells.append((str(tid), str(field_of(row, "function", default="") or ""),
                          str(field_of(row, "state", default="") or ""), _fmt_recall(recall),
                          str(field_of(row, "verdict", default=None) or "—"),
                          str(field_of(row, "category", default="") or "")))
        fill_table(self.query_one("#pairs", DataTable), PAIR_COLUMNS, cells, [str(t) for t in self.task_ids])

    # -- the table -------------------------------------------------------------------------------
    @on(DataTable.RowSelected, "#pairs")
    def _open_pair(self, event: DataTable.RowSelected) -> None:
        task_id = int(event.row_key.value)  # type: ignore[arg-type]
        open_pair = getattr(self.app, "open_pair", None)
        try:
            if open_pair is None:
                raise ImportError("the app has no pair inspector")
            open_pair(task_id, list(self.task_ids))
        except ImportError as exc:
            self.notify(f"Pair inspector not available yet: {exc}", severity="warning")

    # -- export ----------------------------------------------------------------------------------
    @on(Button.Pressed, "#export")
    @on(Input.Submitted, "#dataset-name")
    def _export(self) -> None:
        name = self.query_one("#dataset-name", Input).value.strip()
        status = self.query_one("#export-status", Static)
        spec, errors = self.read_spec()
        if errors:
            status.update(Text("Fix the filters first: " + "; ".join(errors), style="red"))
            return
        if not name:
            status.update(Text("Give the dataset a name first.", style="red"))
            self.query_one("#dataset-name", Input).focus()
            return
        if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            status.update(Text("Dataset names use letters, digits, '-', '_' and '.' only.", style="red"))
            return
        fmt = str(self.query_one("#export-format", Select).value)
        status.update(f"Exporting {name!r}…")
        self.query_one("#export", Button).disabled = True
        self._run_export(spec, name, fmt)

    @work(thread=True, exclusive=True, group="curate-export")
    def _run_export(self, spec: FilterSpec, name: str, fmt: str) -> None:
        try:
            from engine.curate.export import ExportOptions, export_dataset
        except ImportError as exc:
            self.post_message(self.Exported(f"not available yet: engine/curate/export.py ({exc})", False))
            return
        try:
            store = self.app.store  # type: ignore[attr-defined]
            if store.read_only:
                raise RuntimeError("the database is open read-only; an export records a dataset in it")
            out = self.app.workspace.exports_dir / f"{name}.jsonl"  # type: ignore[attr-defined]
            s = export_dataset(store, out, spec, ExportOptions(format=fmt), name=name)  # type: ignore[arg-type]
            dropped = ", ".join(f"{k}: {v}" for k, v in sorted(s.dropped.items()))
            self.post_message(self.Exported(
                f"Dataset {s.name!r}: {s.exported} of {s.selected} rollouts exported to {s.path}"
                + (f" (dropped {dropped})" if dropped else ""), True))
        except Exception as exc:  # bad name, read-only store, I/O: one line, nothing lost
            self.post_message(self.Exported(f"Export failed: {' '.join(str(exc).split())}", False))

    def on_curate_screen_exported(self, message: CurateScreen.Exported) -> None:
        self.query_one("#export", Button).disabled = False
        self.query_one("#export-status", Static).update(
            Text(message.text, style="green" if message.ok else "red"))
        self.notify(message.text, severity="information" if message.ok else "error")

    # -- actions ---------------------------------------------------------------------------------
    def action_focus_filters(self) -> None:
        self.query_one("#min-recall", Input).focus()

    def action_focus_table(self) -> None:
        self.query_one("#pairs", DataTable).focus()

    def action_focus_export(self) -> None:
        self.query_one("#dataset-name", Input).focus()

    def action_sera_preset(self) -> None:
        self.apply_spec(FilterSpec.sera_specialization())

    def action_reset(self) -> None:
        self.apply_spec(FilterSpec())
