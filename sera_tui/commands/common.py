"""Helpers every command uses: one-line failures, the workspace, JSON output."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer

from engine.workspace import Workspace


class State:
    workspace: Workspace | None = None


def workspace() -> Workspace:
    if State.workspace is None:
        State.workspace = Workspace.default()
    return State.workspace


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line reason to stderr and exit non-zero."""
    line = " ".join(str(message).split())  # one line, always
    typer.echo(f"sera: error: {line}", err=True)
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str) + "\n")
    sys.stdout.flush()


def open_store(read_only: bool = False):
    """Open the workspace store, turning store errors into one-line failures."""
    from store import StoreError

    try:
        return workspace().open_store(read_only=read_only)
    except StoreError as exc:
        fail(str(exc))


def not_yet(name: str) -> NoReturn:
    fail(f"`sera {name}` is not available in this build yet")
