"""Review queue: pairs whose recall falls in a borderline band, one at a time, with the PR and both
patches recall-highlighted. Single keys accept / reject / skip / undo; `n` adds a note. Every verdict
is written to the store at once (store/reviews.py) and feeds the curation `verdicts` filter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header, Input, Label, Select, Static

from screens.widgets.banner import ReadOnlyBanner
from screens.widgets.patch import PatchView, marks_from_recall

DEFAULT_BAND = (0.4, 0.8)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


@dataclass
class Shown:
    """One queue item with its recall marks, computed off the UI thread."""

    item: Any  # store.reviews.ReviewItem
    marks_t1: dict = field(default_factory=dict)
    marks_t2: dict = field(default_factory=dict)
    mark_note: str = ""


class NoteScreen(ModalScreen[str | None]):
    """Asks for a one-line note; Enter saves, Escape cancels."""

    DEFAULT_CSS = """
    NoteScreen { align: center middle; }
    NoteScreen > Vertical { width: 70; max-width: 95%; height: auto; border: thick $accent;
                            background: $surface; padding: 1 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, task_label: str, note: str | None) -> None:
        super().__init__()
        self.task_label, self.note = task_label, note or ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Note for {self.task_label} (Enter saves, Esc cancels)")
            yield Input(value=self.note, placeholder="why this verdict…", id="note-input")

    @on(Input.Submitted)
    def _save(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReviewScreen(Screen):
    AUTO_FOCUS = "#pane-t1"  # not an input: single keys must reach the bindings
    DEFAULT_CSS = """
    ReviewScreen #band-row { height: 1; padding: 0 1; }
    ReviewScreen #band-row Label { width: auto; padding: 0 1 0 0; }
    ReviewScreen #band-row Input { width: 8; margin-right: 1; }
    ReviewScreen #band-row Select { width: 14; }
    ReviewScreen #progress { height: 1; padding: 0 1; text-style: bold; }
    ReviewScreen #info { height: auto; max-height: 3; padding: 0 1; }
    ReviewScreen #pr { height: auto; max-height: 6; padding: 0 1; border-top: solid $panel-lighten-2; }
    ReviewScreen #patches { height: 1fr; }
    ReviewScreen .patch-pane { width: 1fr; border: round $panel-lighten-2; }
    ReviewScreen .patch-pane:focus-within { border: round $accent; }
    ReviewScreen #done { padding: 1 2; display: none; }
    ReviewScreen.-empty #done { display: block; }
    ReviewScreen.-empty #info, ReviewScreen.-empty #pr, ReviewScreen.-empty #patches { display: none; }
    """

    BINDINGS = [
        Binding("a", "verdict('accept')", "Accept"),
        Binding("r", "verdict('reject')", "Reject"),
        Binding("s", "verdict('skip')", "Skip"),
        Binding("u", "undo", "Undo"),
        Binding("n", "note", "Note"),
        Binding("o", "open_pair", "Inspect"),
        Binding("b", "focus_band", "Band"),
        Binding("ctrl+r", "reload", "Reload", show=False),
    ]

    class QueueLoaded(Message):
        def __init__(self, ids: list[int], progress: Any, error: str | None = None) -> None:
            super().__init__()
            self.ids, self.progress, self.error = ids, progress, error

    class ItemLoaded(Message):
        def __init__(self, index: int, shown: Shown | None, error: str | None = None) -> None:
            super().__init__()
            self.index, self.shown, self.error = index, shown, error

    class Saved(Message):
        def __init__(self, action: str, task_id: int, verdict: str | None, progress: Any,
                     error: str | None = None) -> None:
            super().__init__()
            self.action, self.task_id, self.verdict = action, task_id, verdict
            self.progress, self.error = progress, error

    def __init__(self, lo: float = DEFAULT_BAND[0], hi: float = DEFAULT_BAND[1], mode: str = "sera") -> None:
        super().__init__()
        self.lo, self.hi, self.mode = lo, hi, mode
        self.queue: list[int] = []     # task ids of this session, fixed when the queue loads
        self.index = 0                 # position in `queue`
        self.done: list[tuple[int, int]] = []  # (index, task_id) of verdicts given here: the undo stack
        self.progress: Any = None
        self.shown: Shown | None = None
        self.pending_note: str | None = None  # typed before a verdict; saved with it
        self.busy = False

    # -- layout ----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        yield ReadOnlyBanner()
        with Horizontal(id="band-row"):
            yield Label("Band")
            yield Input(f"{self.lo:g}", id="band-lo", type="number", compact=True)
            yield Label("to")
            yield Input(f"{self.hi:g}", id="band-hi", type="number", compact=True)
            yield Select([("sera", "sera"), ("per-file", "per-file")], value=self.mode, allow_blank=False,
                         id="band-mode", compact=True)
        yield Static("Loading the review queue…", id="progress")
        yield Static("", id="done")
        yield Static("", id="info")
        with VerticalScroll(id="pr", can_focus=False):
            yield Static("", id="pr-text")
        with Horizontal(id="patches"):
            with VerticalScroll(classes="patch-pane", id="pane-t1") as p1:
                p1.border_title = "P1 (rollout 1, target)"
                yield PatchView(id="patch-t1")
            with VerticalScroll(classes="patch-pane", id="pane-t2") as p2:
                p2.border_title = "P2 (rollout 2, from the PR)"
                yield PatchView(id="patch-t2")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Review queue"
        self.action_reload()

    def on_screen_resume(self) -> None:
        # New pairs may have been scored meanwhile; a session in progress keeps its queue and undo stack.
        if self.is_mounted and self.index >= len(self.queue) and not self.busy:
            self.action_reload()

    # -- queue -----------------------------------------------------------------------------------
    def action_reload(self) -> None:
        self.query_one("#progress", Static).update("Loading the review queue…")
        self._load_queue(self.lo, self.hi, self.mode)

    @work(thread=True, exclusive=True, group="review-queue")
    def _load_queue(self, lo: float, hi: float, mode: str) -> None:
        from store import reviews

        try:
            store = self.app.store  # type: ignore[attr-defined]
            ids = reviews.borderline_queue(store, lo, hi, mode)
            progress = reviews.review_progress(store, lo, hi, mode)
            self.post_message(self.QueueLoaded(ids, progress))
        except Exception as exc:  # store errors are shown, never a crash
            self.post_message(self.QueueLoaded([], None, _one_line(exc)))

    def on_review_screen_queue_loaded(self, msg: ReviewScreen.QueueLoaded) -> None:
        self.query_one(ReadOnlyBanner).refresh_state()  # the store is open now
        if msg.error:
            self.query_one("#progress", Static).update(Text(f"Cannot load the queue: {msg.error}", style="red"))
            return
        self.queue, self.index, self.done, self.progress = msg.ids, 0, [], msg.progress
        self._show_current()

    def _show_current(self) -> None:
        self._update_progress()
        empty = self.index >= len(self.queue)
        self.set_class(empty, "-empty")
        if empty:
            self.shown = None
            band = f"{self.lo:g}–{self.hi:g} ({self.mode})"
            if not self.queue:
                text = (f"No pairs waiting for review with recall in {band}. Widen the band (b) or "
                        "generate more pairs.")
            else:
                text = f"Queue done: you went through all {len(self.queue)} pairs in {band}. u undoes the last."
            self.query_one("#done", Static).update(text)
            return
        self._load_item(self.index, self.queue[self.index], self.mode)

    @work(thread=True, exclusive=True, group="review-item")
    def _load_item(self, index: int, task_id: int, mode: str) -> None:
        from store import reviews

        try:
            item = reviews.review_item(self.app.store, task_id)  # type: ignore[attr-defined]
        except Exception as exc:
            self.post_message(self.ItemLoaded(index, None, _one_line(exc)))
            return
        shown = Shown(item)
        try:
            from engine.verify import recall

            res = recall(item.patch_t1 or "", item.patch_t2 or "", mode)  # type: ignore[arg-type]
            shown.marks_t1 = marks_from_recall(res.target_lines, "target")
            shown.marks_t2 = marks_from_recall(res.produced_lines, "produced")
        except Exception as exc:  # a patch that does not parse: show it plain and say why
            shown.mark_note = f"no highlighting: {_one_line(exc)}"
        self.post_message(self.ItemLoaded(index, shown))

    def on_review_screen_item_loaded(self, msg: ReviewScreen.ItemLoaded) -> None:
        if msg.index != self.index:
            return
        if msg.shown is None:
            self.query_one("#info", Static).update(Text(f"Cannot load this pair: {msg.error}", style="red"))
            return
        self.shown = msg.shown
        it = msg.shown.item
        info = Text()
        info.append(f"task {it.task_id}  ", style="bold")
        info.append(f"{it.function or '?'}", style="bold cyan")
        info.append(f"  {it.file or ''}  [{it.category or '-'}]  state {it.state}\n")
        info.append(f"recall sera {_fmt(it.recall_sera)} · per-file {_fmt(it.recall_per_file)}")
        if it.verdict:
            info.append(f"  · current verdict: {it.verdict}", style="bold")
        note = self.pending_note if self.pending_note is not None else it.note
        if note:
            info.append(f"  · note: {note}", style="italic")
        if msg.shown.mark_note:
            info.append(f"  · {msg.shown.mark_note}", style="yellow")
        self.query_one("#info", Static).update(info)
        self.query_one("#pr-text", Static).update(Text(it.pr_text or "(no PR text)"))
        self.query_one("#patch-t1", PatchView).show(it.patch_t1 or "", msg.shown.marks_t1, path=it.file)
        self.query_one("#patch-t2", PatchView).show(it.patch_t2 or "", msg.shown.marks_t2, path=it.file)
        for pane in ("#pane-t1", "#pane-t2", "#pr"):
            self.query_one(pane).scroll_home(animate=False)

    def _update_progress(self) -> None:
        m = len(self.queue)
        pos = min(self.index + 1, m)
        text = Text()
        text.append(f"Pair {pos} of {m}" if m else "Pair 0 of 0", style="bold")
        p = self.progress
        if p is not None:
            text.append(f"  ·  in band: {p.reviewed}/{p.total} reviewed, {p.accepted} accepted, "
                        f"{p.rejected} rejected, {p.skipped} skipped", style="not bold")
        self.query_one("#progress", Static).update(text)

    # -- verdicts --------------------------------------------------------------------------------
    def _current_task(self) -> int | None:
        return self.queue[self.index] if self.index < len(self.queue) else None

    def action_verdict(self, verdict: str) -> None:
        task_id = self._current_task()
        if task_id is None:
            self.notify("Nothing to review here: the queue is empty.", severity="warning")
            return
        if self.busy:
            return  # one write at a time keeps the undo stack in order
        self.busy = True
        note, self.pending_note = self.pending_note, None
        self._save(task_id, verdict, note, self.lo, self.hi, self.mode)

    @work(thread=True, group="review-save")
    def _save(self, task_id: int, verdict: str, note: str | None, lo: float, hi: float, mode: str) -> None:
        from store import reviews

        try:
            store = self.app.store  # type: ignore[attr-defined]
            reviews.add_review(store, task_id, verdict, note)
            progress = reviews.review_progress(store, lo, hi, mode)
            self.post_message(self.Saved("verdict", task_id, verdict, progress))
        except Exception as exc:
            self.post_message(self.Saved("verdict", task_id, verdict, None, _one_line(exc)))

    def action_undo(self) -> None:
        if self.busy:
            return
        if not self.done:
            self.notify("Nothing to undo in this session.", severity="warning")
            return
        self.busy = True
        index, task_id = self.done[-1]
        self._undo(index, task_id, self.lo, self.hi, self.mode)

    @work(thread=True, group="review-save")
    def _undo(self, index: int, task_id: int, lo: float, hi: float, mode: str) -> None:
        from store import reviews

        try:
            store = self.app.store  # type: ignore[attr-defined]
            undone = reviews.undo_last_review(store, [task_id])
            progress = reviews.review_progress(store, lo, hi, mode)
            self.post_message(self.Saved("undo", task_id, undone.verdict if undone else None, progress))
        except Exception as exc:
            self.post_message(self.Saved("undo", task_id, None, None, _one_line(exc)))

    def on_review_screen_saved(self, msg: ReviewScreen.Saved) -> None:
        self.busy = False
        if msg.error:
            self.notify(f"Not saved: {msg.error}", severity="error")
            return
        self.progress = msg.progress
        if msg.action == "verdict":
            self.done.append((self.index, msg.task_id))
            self.index += 1
            self.notify(f"task {msg.task_id}: {msg.verdict}", timeout=1.5)
        elif msg.action == "undo":
            self.index, _ = self.done.pop()
            self.notify(f"undid {msg.verdict or 'verdict'} on task {msg.task_id}", timeout=1.5)
        elif msg.action == "note":
            self.notify(f"note saved on task {msg.task_id}", timeout=1.5)
        self._show_current()

    # -- notes -----------------------------------------------------------------------------------
    def action_note(self) -> None:
        if self.shown is None:
            self.notify("No pair on screen to annotate.", severity="warning")
            return
        it = self.shown.item
        current = self.pending_note if self.pending_note is not None else it.note

        def done(note: str | None) -> None:
            if note is None:
                return
            if it.verdict and not self._given_here(it.task_id):
                # reviewed in an earlier session: annotate that verdict
                self._save_note(it.task_id, note)
            else:
                self.pending_note = note
                self.notify("Note kept: it is saved with your verdict (a / r / s).", timeout=2)
                self._show_current()

        self.app.push_screen(NoteScreen(f"task {it.task_id} ({it.function})", current), done)

    def _given_here(self, task_id: int) -> bool:
        return any(t == task_id for _, t in self.done)

    @work(thread=True, group="review-save")
    def _save_note(self, task_id: int, note: str) -> None:
        from store import reviews

        try:
            reviews.set_note(self.app.store, task_id, note)  # type: ignore[attr-defined]
            self.post_message(self.Saved("note", task_id, None, self.progress))
        except Exception as exc:
            self.post_message(self.Saved("note", task_id, None, None, _one_line(exc)))

    # -- band ------------------------------------------------------------------------------------
    def action_focus_band(self) -> None:
        self.query_one("#band-lo", Input).focus()

    @on(Input.Submitted, "#band-lo, #band-hi")
    @on(Select.Changed, "#band-mode")
    def _band_changed(self, event: Message) -> None:
        try:
            lo = float(self.query_one("#band-lo", Input).value)
            hi = float(self.query_one("#band-hi", Input).value)
        except ValueError:
            self.notify("The band needs two numbers between 0 and 1.", severity="error")
            return
        if not 0.0 <= lo <= hi <= 1.0:
            self.notify("The band must satisfy 0 ≤ low ≤ high ≤ 1.", severity="error")
            return
        mode = str(self.query_one("#band-mode", Select).value)
        if (lo, hi, mode) == (self.lo, self.hi, self.mode) and isinstance(event, Select.Changed):
            return
        self.lo, self.hi, self.mode = lo, hi, mode
        self.pending_note = None
        if isinstance(event, Input.Submitted):
            self.set_focus(None)  # back to single-key reviewing
        self.action_reload()

    # -- inspector -------------------------------------------------------------------------------
    def action_open_pair(self) -> None:
        task_id = self._current_task()
        if task_id is None:
            return
        try:
            self.app.open_pair(task_id, list(self.queue))  # type: ignore[attr-defined]
        except (ImportError, AttributeError) as exc:
            self.notify(f"Pair inspector not available yet: {exc}", severity="warning")
