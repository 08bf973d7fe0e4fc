"""`sera proxy`."""

from __future__ import annotations

from sera_tui.commands.common import not_yet


def proxy() -> None:
    not_yet("proxy")
