"""Repos screen (the start screen), the app shell around it: help, palette, themes, read-only banner."""

from __future__ import annotations

from tests.tui.conftest import quiesce

import pytest

import subprocess
import sys
import textwrap

from textual.widgets import DataTable, Input, Static

from screens.repos import ReposScreen, language_mix
from store.repos import list_repos


def _cells(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_start_screen_lists_repos_with_head_languages_and_counts(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ReposScreen)
        rows = _cells(app.screen.query_one("#repos-table", DataTable))
        assert rows == [["sample", "3f2a9c1d7b", "python 90% · markdown 10%", "5", "4", "1"]]


async def test_add_a_repo_by_path(empty_app, make_repo, store) -> None:
    path = make_repo({"pkg/a.py": "def f():\n    return 1\n", "pkg/b.go": "package b\n"}, name="myproj")
    app = empty_app
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        hint = str(screen.query_one("#repos-empty", Static).render())
        assert "No repositories yet" in hint
        await pilot.press("a")  # focus the path box
        assert screen.focused is screen.query_one("#repo-path", Input)
        await pilot.press(*str(path), "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        status = str(screen.query_one("#repo-status", Static).render())
        assert status.startswith("added myproj at ")
        assert _cells(screen.query_one("#repos-table", DataTable))[0][0] == "myproj"
    repos = list_repos(store)
    assert [(r.name, r.languages) for r in repos] == [("myproj", {"go": 1, "python": 1})]


async def test_bad_paths_give_one_clear_line_and_add_nothing(empty_app, tmp_path, store) -> None:
    plain = tmp_path / "not-a-repo"
    plain.mkdir()
    app = empty_app
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        for path, expected in ((tmp_path / "missing", "does not exist"), (plain, "is not a git repository")):
            screen.query_one("#repo-path", Input).focus()
            screen.query_one("#repo-path", Input).value = str(path)
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            status = screen.query_one("#repo-status", Static)
            text = str(status.render())
            assert text.startswith("error: ") and expected in text and "\n" not in text
            assert status.has_class("-error")
            # the typed path stays for correction
            assert screen.query_one("#repo-path", Input).value == str(path)
        screen.query_one("#repo-path", Input).value = ""
        await pilot.press("enter")
        await pilot.pause()
        assert "type the path" in str(screen.query_one("#repo-status", Static).render())
    assert list_repos(store) == []


async def test_enter_on_a_repo_opens_generate_with_it_selected(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.current_mode == "generate"
        assert app.screen.query_one("#f-repo").value == "sample"


async def test_help_screen_palette_and_theme(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        dark = app.current_theme.dark
        await pilot.press("ctrl+t")
        assert app.current_theme.dark != dark
        commands = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Go to Repos", "Go to Generate", "Go to Curate", "Go to Review queue",
                      "Start a demo generation", "Help: keys and screens"):
            assert title in commands


def test_language_mix() -> None:
    assert language_mix({}) == "-"
    assert language_mix({"go": 1, "python": 3}) == "python 75% · go 25%"


HOLDER = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    print("locked", flush=True)
    time.sleep(60)
""")


async def test_locked_database_opens_read_only_with_a_banner(workspace, tmp_path) -> None:
    """Another process holds the write lock: the app opens a snapshot, shows why, and refuses writes."""
    from store import Store

    from sera_tui.app import SeraApp

    Store.open(workspace.db_path).close()  # a migrated database
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(workspace.db_path)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        app = SeraApp(workspace)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            banner = app.screen.query_one("#read-only-banner", Static)
            assert banner.display
            text = str(banner.render())
            assert "READ-ONLY" in text and f"PID {holder.pid}" in text
            await pilot.press("a")
            app.screen.query_one("#repo-path", Input).value = str(tmp_path)
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert "read-only" in str(app.screen.query_one("#repo-status", Static).render())
    finally:
        holder.kill()
        holder.wait()


def test_snapshot_repos_80x24(snap_compare, make_app) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_settle)


def test_snapshot_repos_120x40(snap_compare, make_app) -> None:
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=_settle)


async def _settle(pilot) -> None:
    await quiesce(pilot)  # the repo list, then the counts worker it starts


async def _help(pilot) -> None:
    await _settle(pilot)
    await pilot.press("question_mark")
    await pilot.pause()


def test_snapshot_help_80x24(snap_compare, make_app) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_help)


def test_snapshot_help_120x40(snap_compare, make_app) -> None:
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=_help)
