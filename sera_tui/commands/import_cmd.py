"""`sera import`."""

from __future__ import annotations

from sera_tui.commands.common import not_yet


def import_() -> None:
    not_yet("import")
