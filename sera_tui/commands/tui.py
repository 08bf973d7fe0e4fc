"""Opening the Textual app (`sera` with no sub-command)."""

from __future__ import annotations

from sera_tui.commands.common import not_yet


def open_tui() -> None:
    not_yet("(TUI)")
