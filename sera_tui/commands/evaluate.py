"""`sera eval`."""

from __future__ import annotations

from sera_tui.commands.common import not_yet


def eval_() -> None:
    not_yet("eval")
