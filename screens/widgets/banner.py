"""The read-only banner: visible on every screen that includes it when the database is a snapshot
(another process holds the write lock) or was opened with --read-only."""

from __future__ import annotations

from textual.widgets import Static


class ReadOnlyBanner(Static):
    """Hidden until `refresh_state()` finds the app's store read-only (call it after the store opens)."""

    DEFAULT_CSS = """
    ReadOnlyBanner {
        display: none;
        height: auto;
        background: $error;
        color: $text;
        text-style: bold;
        padding: 0 1;
    }
    ReadOnlyBanner.-visible { display: block; }
    """

    def __init__(self) -> None:
        super().__init__("", id="read-only-banner", markup=False)

    def on_mount(self) -> None:
        self.refresh_state()

    def refresh_state(self) -> None:
        reason = getattr(self.app, "read_only_reason", None)
        if reason:
            self.update(reason)
        self.set_class(bool(reason), "-visible")
