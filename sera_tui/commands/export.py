"""`sera export`."""

from __future__ import annotations

from sera_tui.commands.common import not_yet


def export() -> None:
    not_yet("export")
