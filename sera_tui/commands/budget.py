"""`sera budget`."""

from __future__ import annotations

from sera_tui.commands.common import not_yet


def budget() -> None:
    not_yet("budget")
