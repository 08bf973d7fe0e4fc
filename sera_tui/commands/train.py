"""`sera train`."""

from __future__ import annotations

from sera_tui.commands.common import not_yet


def train() -> None:
    not_yet("train")
