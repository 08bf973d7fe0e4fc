"""`sera demo`."""

from __future__ import annotations

from sera_tui.commands.common import not_yet


def demo() -> None:
    not_yet("demo")
