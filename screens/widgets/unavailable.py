"""A placeholder screen for a pane whose engine or module is not there yet: says why, never crashes."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class UnavailableScreen(Screen):
    def __init__(self, title: str, why: str) -> None:
        super().__init__()
        self.pane_title = title
        self.why = why

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"[b]{self.pane_title}[/b]\n\nnot available yet: {self.why}", classes="unavailable",
                     markup=True)
        yield Footer()
