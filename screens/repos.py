"""Repos: the start screen. Registered repositories with HEAD, language mix and pair counts; add one
by path (validated by engine/repo.py, a clear one-line message on failure)."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Header, Input, Static

from screens.widgets.banner import ReadOnlyBanner
from screens.widgets.tables import fill_table


def language_mix(languages: dict[str, int], limit: int = 3) -> str:
    """'python 80% · go 20%' from files per language."""
    total = sum(languages.values())
    if not total:
        return "-"
    top = sorted(languages.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return " · ".join(f"{lang} {round(100 * n / total)}%" for lang, n in top)


COLUMNS = ("Repo", "HEAD", "Languages", "Pairs", "Kept", "Reviewed")


class ReposScreen(Screen):
    BINDINGS = [
        Binding("a", "focus_add", "Add repo"),
        Binding("escape", "leave_input", "Back to list", show=False),
        Binding("r", "reload", "Refresh"),
        Binding("g", "generate", "Generate on repo"),
    ]

    @dataclass
    class Loaded(Message):
        rows: list
        error: str | None = None

    @dataclass
    class AddResult(Message):
        ok: bool
        text: str
        name: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield ReadOnlyBanner()
        yield Static("Repositories", classes="screen-title")
        table = DataTable(id="repos-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield Static("", id="repos-empty", classes="hint")
        with Horizontal(id="repo-add"):
            yield Input(placeholder="path of a local git repository", id="repo-path")
            yield Button("Add", id="repo-add-btn", variant="primary")
        yield Static("", id="repo-status", classes="status")
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()

    # -- loading -----------------------------------------------------------------------------
    def action_reload(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="repos-load")
    def _load(self) -> None:
        from store import StoreError
        from store.pairs import repo_overviews

        try:
            rows = repo_overviews(self.app.store)
        except StoreError as exc:
            self.post_message(self.Loaded([], str(exc)))
            return
        self.post_message(self.Loaded(rows))

    def on_repos_screen_loaded(self, msg: Loaded) -> None:
        self.query_one(ReadOnlyBanner).refresh_state()
        table = self.query_one("#repos-table", DataTable)
        fill_table(table, COLUMNS, [(r.name, (r.head_commit or "-")[:10], language_mix(r.languages), str(r.pairs),
                                     str(r.kept), str(r.reviewed)) for r in msg.rows], [r.name for r in msg.rows])
        empty = self.query_one("#repos-empty", Static)
        if msg.error:
            empty.update(f"cannot read the workspace database: {msg.error}")
        elif not msg.rows:
            empty.update("No repositories yet. Press a, type the path of a git repository and Enter "
                         "(or press 2 then d for a demo).")
        else:
            empty.update("")
        if not isinstance(self.focused, Input):
            table.focus()  # number keys and q keep working; `a` goes to the path box

    # -- adding ------------------------------------------------------------------------------
    def action_leave_input(self) -> None:
        self.query_one("#repos-table", DataTable).focus()

    def action_focus_add(self) -> None:
        self.query_one("#repo-path", Input).focus()

    @on(Input.Submitted, "#repo-path")
    @on(Button.Pressed, "#repo-add-btn")
    def _submit(self) -> None:
        path = self.query_one("#repo-path", Input).value.strip()
        if not path:
            self._status(False, "type the path of a git repository first")
            return
        self._status(True, f"checking {path} …")
        self._add(path)

    @work(thread=True, exclusive=True, group="repos-add")
    def _add(self, path: str) -> None:
        from engine.repo import RepoError, describe_repo
        from store import StoreError
        from store.repos import add_repo

        try:
            store = self.app.store
            if store.read_only:
                raise StoreError("the database is open read-only; adding a repo is disabled")
            info = describe_repo(path)
            add_repo(store, info.name, info.path, info.head_commit, languages=info.languages)
        except (RepoError, StoreError) as exc:
            self.post_message(self.AddResult(False, str(exc)))
            return
        text = f"added {info.name} at {info.head_commit[:10]} ({info.n_files} files)"
        if info.notice:
            text += f"; note: {info.notice}"
        self.post_message(self.AddResult(True, text, info.name))

    def on_repos_screen_add_result(self, msg: AddResult) -> None:
        self._status(msg.ok, msg.text)
        if msg.ok:
            self.query_one("#repo-path", Input).value = ""
            self.action_reload()

    def _status(self, ok: bool, text: str) -> None:
        w = self.query_one("#repo-status", Static)
        w.update(text if ok else f"error: {text}")
        w.set_class(not ok, "-error")

    # -- navigation --------------------------------------------------------------------------
    def selected_repo(self) -> str | None:
        table = self.query_one("#repos-table", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def action_generate(self) -> None:
        name = self.selected_repo()
        if name:
            self.app.options["repo"] = name
        self.app.switch_mode("generate")

    @on(DataTable.RowSelected, "#repos-table")
    def _row_selected(self) -> None:
        self.action_generate()
