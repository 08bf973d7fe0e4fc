"""`sera recall`."""

from __future__ import annotations

from sera_tui.commands.common import not_yet


def recall() -> None:
    not_yet("recall")
