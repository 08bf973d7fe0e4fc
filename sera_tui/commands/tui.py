"""Opening the Textual app (`sera` with no sub-command, and `sera demo`)."""

from __future__ import annotations

from typing import Any

from sera_tui.commands.common import fail, workspace


def open_tui(**options: Any) -> None:
    """Run the workbench on the current workspace; options go to SeraApp (demo=True, read_only=True…)."""
    from store import StoreError

    from sera_tui.app import SeraApp

    ws = workspace()
    try:
        # Open up front so an unusable database fails with one line instead of a blank screen;
        # a locked one becomes a read-only snapshot with a banner.
        store = (ws.open_store(read_only=True, snapshot_if_locked=True) if options.get("read_only")
                 else ws.open_store(snapshot_if_locked=True))
    except StoreError as exc:
        fail(str(exc))
    SeraApp(ws, store=store, close_store=True, **options).run()
