"""`sera generate`."""

from __future__ import annotations

from sera_tui.commands.common import not_yet


def generate() -> None:
    not_yet("generate")
