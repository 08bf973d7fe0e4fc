"""The Textual App. Screens are modes (one module each in screens/); each mode's screen is imported
lazily so start-up stays fast.

Owners: repos/generate/inspector — the live-generation screens; curate/review/train/eval/help — the
curation and run panes.
"""

from __future__ import annotations

import importlib
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from engine.workspace import Workspace

# mode name -> (module in screens/, Screen class name)
SCREENS: dict[str, tuple[str, str]] = {
    "repos": ("screens.repos", "ReposScreen"),
    "generate": ("screens.generate", "GenerateScreen"),
    "curate": ("screens.curate", "CurateScreen"),
    "review": ("screens.review", "ReviewScreen"),
    "train": ("screens.train", "TrainScreen"),
    "eval": ("screens.eval", "EvalScreen"),
}


def _lazy(module: str, cls: str):
    def make() -> Screen:
        return getattr(importlib.import_module(module), cls)()

    return make


class SeraApp(App):
    TITLE = "SERA Workbench"
    CSS_PATH = "app.tcss"
    MODES = {name: _lazy(m, c) for name, (m, c) in SCREENS.items()}
    DEFAULT_MODE = "repos"
    BINDINGS = [
        Binding("1", "switch_mode('repos')", "Repos"),
        Binding("2", "switch_mode('generate')", "Generate"),
        Binding("3", "switch_mode('curate')", "Curate"),
        Binding("4", "switch_mode('review')", "Review"),
        Binding("5", "switch_mode('train')", "Train"),
        Binding("6", "switch_mode('eval')", "Eval"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, workspace: Workspace | None = None, **options: Any) -> None:
        super().__init__()
        self.workspace = workspace or Workspace.default()
        # options: e.g. demo=True (start a demo generation on launch), read_only=True
        self.options = options
