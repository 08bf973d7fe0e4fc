"""The Textual App. Screens are modes (one module each in screens/); each mode's screen is imported
lazily so start-up stays fast.

Owners: repos/generate/inspector — the live-generation screens; curate/review/train/eval/help — the
curation and run panes.

Every screen gets the workspace database through `app.store` (opened once, on first use, from a
worker thread so the first frame never waits on DuckDB). When another process holds the write lock
the store is a read-only snapshot and `app.read_only_reason` says why; screens show a banner.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from engine.workspace import Workspace

if TYPE_CHECKING:
    from store import Store

# mode name -> (module in screens/, Screen class name)
SCREENS: dict[str, tuple[str, str]] = {
    "repos": ("screens.repos", "ReposScreen"),
    "generate": ("screens.generate", "GenerateScreen"),
    "curate": ("screens.curate", "CurateScreen"),
    "review": ("screens.review", "ReviewScreen"),
    "train": ("screens.train", "TrainScreen"),
    "eval": ("screens.eval", "EvalScreen"),
}

TITLES = {"repos": "Repos", "generate": "Generate", "curate": "Curate", "review": "Review queue",
          "train": "Train", "eval": "Eval"}


def _lazy(module: str, cls: str, mode: str):
    def make() -> Screen:
        try:
            return getattr(importlib.import_module(module), cls)()
        except (ImportError, AttributeError) as exc:
            # A screen still being built must not take the whole app down.
            from screens.widgets.unavailable import UnavailableScreen

            return UnavailableScreen(TITLES.get(mode, mode), f"{module}.{cls}: {exc}")

    return make


class SeraApp(App):
    TITLE = "SERA Workbench"
    CSS_PATH = str(Path(__file__).with_name("app.tcss"))  # absolute: subclasses elsewhere find it too
    MODES = {name: _lazy(m, c, name) for name, (m, c) in SCREENS.items()}
    DEFAULT_MODE = "repos"
    BINDINGS = [
        Binding("1", "switch_mode('repos')", "Repos"),
        Binding("2", "switch_mode('generate')", "Generate"),
        Binding("3", "switch_mode('curate')", "Curate"),
        Binding("4", "switch_mode('review')", "Review"),
        Binding("5", "switch_mode('train')", "Train"),
        Binding("6", "switch_mode('eval')", "Eval"),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("ctrl+t", "toggle_dark", "Theme", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, workspace: Workspace | None = None, **options: Any) -> None:
        super().__init__()
        self.workspace = workspace or Workspace.default()
        # options: demo=True (start a demo generation on launch; demo_pairs, demo_concurrency),
        # read_only=True (never write), store=<Store> (tests/benches hand an open store in)
        self.options = options
        self._store: Store | None = options.pop("store", None)
        # a store handed in is closed by whoever opened it, unless close_store=True hands it over
        self._owns_store = bool(options.pop("close_store", self._store is None))
        self._store_lock = threading.Lock()
        self.store_error: str | None = None

    # -- the shared store accessor ---------------------------------------------------------------
    @property
    def store(self) -> "Store":
        """The workspace store, opened once. Safe to call from worker threads.

        Raises store.StoreError (one-line message) when the database cannot be opened at all.
        """
        if self._store is None:
            with self._store_lock:
                if self._store is None:
                    from store import StoreError

                    try:
                        if self.options.get("read_only"):
                            self._store = self.workspace.open_store(read_only=True, snapshot_if_locked=True)
                        else:
                            self._store = self.workspace.open_store(snapshot_if_locked=True)
                    except StoreError as exc:
                        self.store_error = str(exc)
                        raise
        return self._store

    @property
    def read_only_reason(self) -> str | None:
        """Why the store is read-only (None when writable or not opened yet)."""
        s = self._store
        if s is None or not s.read_only:
            return None
        if s.snapshot_of is not None:
            locked = getattr(s, "locked_by", None)
            why = str(locked).split(";")[0] if locked else f"{s.snapshot_of} is locked by another process"
            return f"READ-ONLY snapshot: {why}. Changes are disabled."
        return "READ-ONLY: opened with --read-only. Changes are disabled."

    # -- actions ---------------------------------------------------------------------------------
    def action_help(self) -> None:
        from screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def open_pair(self, task_id: int, task_ids: list[int] | None = None) -> None:
        """Open the pair inspector (task_ids: the list next/previous walk through)."""
        from screens.inspector import PairInspectorScreen

        self.push_screen(PairInspectorScreen(task_id=task_id, task_ids=task_ids))

    def get_system_commands(self, screen: Screen):
        yield from super().get_system_commands(screen)
        for name, title in TITLES.items():
            yield SystemCommand(f"Go to {title}", f"Switch to the {title} screen",
                                lambda name=name: self.switch_mode(name))
        yield SystemCommand("Help: keys and screens", "Show every key binding and what each screen does",
                            self.action_help)
        yield SystemCommand("Start a demo generation", "Run the scripted demo teacher on the sample repo",
                            self._palette_demo)

    def _palette_demo(self) -> None:
        # A fresh Generate screen starts the demo on mount (it pops the flag); an existing one is told.
        self.options["demo"] = True
        self.switch_mode("generate")

        def start() -> None:
            start_demo = getattr(self.screen, "start_demo", None)
            if start_demo is not None and self.options.pop("demo", False):
                start_demo()

        self.call_after_refresh(start)

    def on_mount(self) -> None:
        if self.options.get("demo"):
            self.switch_mode("generate")

    def on_unmount(self) -> None:
        if self._store is not None and self._owns_store:
            try:
                self._store.close()
            except Exception:  # closing twice or a dead connection: nothing to lose
                pass
