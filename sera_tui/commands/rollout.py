"""`sera rollout`."""

from __future__ import annotations

from sera_tui.commands.common import not_yet


def rollout() -> None:
    not_yet("rollout")
