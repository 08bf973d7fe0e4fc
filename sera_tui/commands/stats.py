"""`sera stats`."""

from __future__ import annotations

from sera_tui.commands.common import not_yet


def stats() -> None:
    not_yet("stats")
