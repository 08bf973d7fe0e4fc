"""`sera repo add|list`."""

from __future__ import annotations

import typer

from sera_tui.commands.common import not_yet

app = typer.Typer(no_args_is_help=True)


@app.command("add")
def add() -> None:
    """Register a local git repository."""
    not_yet("repo add")
