"""Curate screen: filters drive a live count, histogram and pair table; Enter opens the inspector;
export records a dataset. Data: the deterministic `populated` workspace of tests/tui/conftest.py
(five complete pairs with recall 1.0, 0.5, 0.75, 0.2, 0.667; task 1 reviewed "accept")."""

from __future__ import annotations

from tests.tui.conftest import quiesce

import json

import pytest
from textual.widgets import Button, DataTable, Input, Static

from store.curation import get_dataset


async def settle(pilot, wait: float = 0.35) -> None:
    """Let the debounce timer fire and the query worker post its results."""
    await pilot.pause(wait)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def open_curate(pilot) -> None:
    await pilot.press("3")
    await settle(pilot)
    assert type(pilot.app.screen).__name__ == "CurateScreen"


async def type_into(pilot, selector: str, text: str) -> None:
    pilot.app.screen.query_one(selector, Input).focus()
    await pilot.pause()
    await pilot.press(*text)


def table_task_ids(app) -> list[int]:
    table = app.screen.query_one("#pairs", DataTable)
    return [int(table.get_row_at(i)[0]) for i in range(table.row_count)]


async def test_changing_a_filter_changes_the_count_and_table(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_curate(pilot)
        assert text_of(app, "#count") == "Matching pairs: 5"
        assert table_task_ids(app) == [1, 2, 3, 4, 6]
        await type_into(pilot, "#min-recall", "0.7")
        await settle(pilot)
        assert text_of(app, "#count") == "Matching pairs: 2"
        assert table_task_ids(app) == [1, 3]
        # per-file mode: load_config's 0.75 per-file recall now passes too
        app.screen.query_one("#recall-mode").value = "per-file"
        await settle(pilot)
        assert text_of(app, "#count") == "Matching pairs: 3"


async def test_verdict_and_category_filters(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_curate(pilot)
        app.screen.query_one("#verdicts").select("accept")
        await settle(pilot)
        assert table_task_ids(app) == [1]
        app.screen.query_one("#verdicts").deselect_all()
        cats = app.screen.query_one("#categories")
        # the form offers the categories the store holds
        assert [cats.get_option_at_index(i).value for i in range(cats.option_count)] == [
            "edge-cases", "null-safety", "resource-cleanup", "state-management", "timeouts", "validation"]
        cats.select("validation")
        cats.select("edge-cases")
        await settle(pilot)
        assert table_task_ids(app) == [3, 6]
        app.screen.query_one("#repo").value = "sample"
        await settle(pilot)
        assert table_task_ids(app) == [3, 6]


async def test_bad_filter_value_is_reported_and_keeps_the_last_result(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_curate(pilot)
        await type_into(pilot, "#min-recall", "1.5")
        await settle(pilot)
        assert "min recall must be between 0 and 1" in text_of(app, "#filter-error")
        assert table_task_ids(app) == [1, 2, 3, 4, 6]  # nothing lost
        await pilot.press("backspace", "backspace")
        await settle(pilot)
        assert text_of(app, "#filter-error") == ""
        assert text_of(app, "#count") == "Matching pairs: 1"  # "1" -> only slugify has recall 1.0


async def test_sera_preset_and_reset(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_curate(pilot)
        await pilot.press("ctrl+l")
        await settle(pilot)
        screen = app.screen
        assert screen.query_one("#min-recall", Input).value == "0.5"
        assert screen.query_one("#max-patch-lines", Input).value == "40"
        assert screen.spec.max_mean_tool_tokens == 600
        assert table_task_ids(app) == [1, 2, 3, 6]
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert screen.query_one("#min-recall", Input).value == ""
        assert table_task_ids(app) == [1, 2, 3, 4, 6]


async def test_histogram_counts_the_selection(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_curate(pilot)
        hist = app.screen.query_one("#histogram")
        # recall 0.2 / 0.5 / 0.667 / 0.75 / 1.0 -> bins 2, 5, 6, 7, 9
        assert [i for i, c in enumerate(hist.counts) if c] == [2, 5, 6, 7, 9]
        assert "recall histogram" in str(hist.render())


async def test_enter_on_a_row_opens_the_pair_inspector(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_curate(pilot)
        await pilot.press("ctrl+g", "down", "enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "PairInspectorScreen"
        assert app.screen.task_id == 2


async def test_export_writes_and_records_a_dataset(make_app, populated):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_curate(pilot)
        await type_into(pilot, "#min-recall", "0.7")
        await settle(pilot)
        await pilot.press("ctrl+o")
        await pilot.press(*"curated-v1", "enter")
        await settle(pilot, 0.1)
        status = text_of(app, "#export-status")
        assert "Dataset 'curated-v1'" in status, status
        ds, examples = get_dataset(populated.store, "curated-v1")
        assert ds.filters["min_recall"] == 0.7
        lines = (populated.workspace.exports_dir / "curated-v1.jsonl").read_text().splitlines()
        assert len(lines) == len(examples) > 0
        assert {json.loads(ln)["meta"]["task_id"] for ln in lines} <= {1, 3}
        # the same name again is refused with one line, the first dataset untouched
        app.screen.query_one("#export", Button).press()
        await settle(pilot, 0.1)
        assert "already exists" in text_of(app, "#export-status")


async def test_export_needs_a_name(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_curate(pilot)
        app.screen.query_one("#export", Button).press()
        await pilot.pause()
        assert "name" in text_of(app, "#export-status")


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_curate_snapshot(snap_compare, make_app, size):
    async def run_before(pilot) -> None:
        await open_curate(pilot)
        await quiesce(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.fixture
def locked_workspace(populated):
    """The populated database held for writing by another process (as a running `sera generate` would)."""
    import subprocess
    import sys

    populated.store.close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
         " time.sleep(120)", str(populated.workspace.db_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        yield populated.workspace
    finally:
        holder.kill()
        holder.wait()


async def test_locked_database_opens_read_only_with_banner_and_refuses_export(locked_workspace):
    from sera_tui.app import SeraApp

    app = SeraApp(locked_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_curate(pilot)
        assert app.store.read_only and app.store.snapshot_of is not None
        banner = app.screen.query_one("#read-only-banner")
        assert banner.display and "READ-ONLY" in str(banner.render())
        assert text_of(app, "#count") == "Matching pairs: 5"  # the data is all there
        app.screen.query_one("#dataset-name", Input).value = "snap"
        app.screen.query_one("#export", Button).press()
        await settle(pilot, 0.1)
        assert "read-only" in text_of(app, "#export-status")
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot, 0.1)
        assert app.screen.query_one("#read-only-banner").display
        assert app.screen.shown.item.task_id == 2  # the verdict was refused, nothing advanced
