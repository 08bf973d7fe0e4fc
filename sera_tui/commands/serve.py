"""`sera serve`."""

from __future__ import annotations

from sera_tui.commands.common import not_yet


def serve() -> None:
    not_yet("serve")
