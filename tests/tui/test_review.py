"""Review queue: store/reviews.py queries, and the screen driven with single keys.

Data: tests/tui/conftest.py `populated` (sera recall: task 1 1.0 accepted, 2 0.5, 3 0.75, 4 0.2,
5 judged invalid, 6 0.667), so the default band 0.4-0.8 holds tasks 2, 3 and 6.
"""

from __future__ import annotations

from tests.tui.conftest import quiesce

import pytest
from textual.widgets import Input, Static

from engine.verify import recall
from store import StoreError
from store.curation import count_pairs, select_pairs
from store.filters import FilterSpec
from store.reviews import (
    add_review,
    borderline_queue,
    history,
    latest_verdicts,
    review_item,
    review_progress,
    set_note,
    undo_last_review,
)

# -- store/reviews.py ----------------------------------------------------------------------------

def test_borderline_queue_band_mode_and_order(populated):
    s = populated.store
    assert borderline_queue(s) == [2, 3, 6]
    assert borderline_queue(s, 0.7, 0.8, mode="per-file") == [2, 3]  # load_config is 0.75 per-file
    assert borderline_queue(s, 0.0, 1.0) == [2, 3, 4, 6]  # task 1 already accepted
    assert borderline_queue(s, 0.0, 1.0, include_reviewed=True) == [2, 3, 4, 6, 1]
    assert borderline_queue(s, repo="sample", run_id=populated.run_id) == [2, 3, 6]
    assert borderline_queue(s, repo="elsewhere") == [] and borderline_queue(s, run_id=999) == []
    assert review_progress(s, repo="sample").total == 3 and review_progress(s, repo="elsewhere").total == 0
    add_review(s, 2, "skip")
    assert borderline_queue(s) == [3, 6, 2]  # skipped pairs come back last
    add_review(s, 3, "reject")
    assert borderline_queue(s) == [6, 2]
    with pytest.raises(StoreError, match="band"):
        borderline_queue(s, 0.9, 0.1)
    with pytest.raises(StoreError, match="mode"):
        borderline_queue(s, mode="fuzzy")


def test_verdicts_undo_notes_and_progress(populated):
    s = populated.store
    assert review_progress(s).total == 3 and review_progress(s).reviewed == 0
    add_review(s, 2, "accept", "fine")
    add_review(s, 3, "reject")
    add_review(s, 3, "accept")  # changed my mind: the latest verdict counts
    p = review_progress(s)
    assert (p.total, p.reviewed, p.accepted, p.rejected, p.remaining) == (3, 2, 2, 0, 1)
    assert latest_verdicts(s) == {1: "accept", 2: "accept", 3: "accept"}
    undone = undo_last_review(s)
    assert (undone.task_id, undone.verdict) == (3, "accept")
    assert latest_verdicts(s, [2, 3]) == {2: "accept", 3: "reject"}
    assert undo_last_review(s, [6]) is None  # nothing to undo for that task
    set_note(s, 3, "too broad")
    assert [(r.verdict, r.note) for r in history(s, 3)] == [("reject", "too broad")]
    with pytest.raises(StoreError, match="verdict first"):
        set_note(s, 6, "x")
    with pytest.raises(StoreError, match="unknown verdict"):
        add_review(s, 2, "maybe")
    with pytest.raises(StoreError, match="no task"):
        add_review(s, 999, "accept")


def test_review_item_has_pr_patches_and_recall(populated):
    it = review_item(populated.store, 2)
    assert (it.function, it.recall_sera, it.recall_per_file) == ("load_config", 0.5, 0.75)
    assert "load_config misbehaves" in it.pr_text
    assert it.patch_t1.startswith("diff --git") and "isinstance" in it.patch_t2


def test_verdicts_feed_the_curation_filter(populated):
    s = populated.store
    add_review(s, 3, "reject")
    assert [r["task_id"] for r in select_pairs(s, FilterSpec(verdicts=["reject"]))] == [3]
    assert count_pairs(s, FilterSpec(verdicts=["unreviewed"])) == 3  # 2, 4, 6


# -- the screen ----------------------------------------------------------------------------------

async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def open_review(pilot) -> None:
    await pilot.press("4")
    await settle(pilot)
    assert type(pilot.app.screen).__name__ == "ReviewScreen"


def shown_task(app) -> int | None:
    shown = app.screen.shown
    return shown.item.task_id if shown else None


def progress_text(app) -> str:
    return str(app.screen.query_one("#progress", Static).render())


async def test_review_three_pairs_with_keys_and_undo(make_app, populated):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_review(pilot)
        assert shown_task(app) == 2
        assert progress_text(app).startswith("Pair 1 of 3")
        await pilot.press("a")
        await settle(pilot)
        assert shown_task(app) == 3 and progress_text(app).startswith("Pair 2 of 3")
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        # every verdict is in the store at once
        assert latest_verdicts(populated.store, [2, 3, 6]) == {2: "accept", 3: "reject", 6: "skip"}
        assert "Queue done" in str(app.screen.query_one("#done", Static).render())
        assert "2/3 reviewed, 1 accepted, 1 rejected, 1 skipped" in progress_text(app)
        # undo takes back the skip and shows that pair again
        await pilot.press("u")
        await settle(pilot)
        assert latest_verdicts(populated.store, [6]) == {}
        assert shown_task(app) == 6 and progress_text(app).startswith("Pair 3 of 3")
        await pilot.press("u")
        await settle(pilot)
        assert latest_verdicts(populated.store, [3, 6]) == {}
        assert shown_task(app) == 3


async def test_note_is_saved_with_the_verdict(make_app, populated):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_review(pilot)
        await pilot.press("n")
        await pilot.pause()
        await pilot.press(*"extra isinstance check", "enter")
        await settle(pilot)
        assert "note: extra isinstance check" in str(app.screen.query_one("#info", Static).render())
        await pilot.press("r")
        await settle(pilot)
        assert [(r.verdict, r.note) for r in history(populated.store, 2)] == [("reject", "extra isinstance check")]


async def test_highlighted_lines_are_the_recall_result(make_app, populated):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_review(pilot)
        it = review_item(populated.store, 2)
        res = recall(it.patch_t1, it.patch_t2, "sera")
        p1 = app.screen.query_one("#patch-t1")
        p2 = app.screen.query_one("#patch-t2")
        assert p1.lines_marked("matched") == [it.patch_t1.split("\n")[t.index] for t in res.target_lines if t.matched]
        assert len(p1.lines_marked("matched")) == res.matched == 2
        assert len(p1.lines_marked("unmatched")) == res.total - res.matched
        assert "+    if not isinstance(data, dict):" in p2.lines_marked("unused")


async def test_band_can_be_changed_from_the_keyboard(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_review(pilot)
        await pilot.press("b")
        lo = app.screen.query_one("#band-lo", Input)
        assert app.focused is lo
        lo.value = ""
        await pilot.press(*"0.1", "tab")
        hi = app.screen.query_one("#band-hi", Input)
        hi.value = ""
        await pilot.press(*"0.3", "enter")
        await settle(pilot)
        assert app.screen.queue == [4] and shown_task(app) == 4
        await pilot.press("a")  # focus went back to the pairs: keys review again
        await settle(pilot)
        assert latest_verdicts(app.store, [4]) == {4: "accept"}


async def test_read_only_store_refuses_verdicts_with_a_message(populated):
    from sera_tui.app import SeraApp

    populated.store.close()
    ro = populated.workspace.open_store(read_only=True)
    try:
        app = SeraApp(populated.workspace, store=ro)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_review(pilot)
            await pilot.press("a")
            await settle(pilot)
            assert shown_task(app) == 2  # did not advance: nothing was saved
            assert any("read-only" in n.message for n in app._notifications)
    finally:
        ro.close()


@pytest.mark.parametrize("size,theme", [((80, 24), "textual-dark"), ((120, 40), "textual-dark"),
                                        ((80, 24), "textual-light")])
def test_review_snapshot(snap_compare, make_app, size, theme):
    async def run_before(pilot) -> None:
        pilot.app.theme = theme
        await open_review(pilot)
        await quiesce(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


async def test_a_verdict_shows_up_in_the_curate_filter(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:

        def curate_rows() -> list[tuple[str, str]]:
            table = app.screen.query_one("#pairs")
            return [(str(table.get_row_at(i)[0]), str(table.get_row_at(i)[4])) for i in range(table.row_count)]

        await pilot.press("3")
        await pilot.pause(0.4)
        await settle(pilot)
        app.screen.query_one("#verdicts").select("reject")
        await pilot.pause(0.4)
        await settle(pilot)
        assert curate_rows() == []
        await open_review(pilot)
        await pilot.press("r")  # reject task 2
        await settle(pilot)
        await pilot.press("3")  # back to Curate: it re-counts on resume
        await pilot.pause(0.4)
        await settle(pilot)
        assert curate_rows() == [("2", "reject")]


async def test_o_opens_the_inspector_on_the_current_pair(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_review(pilot)
        await pilot.press("o")
        await settle(pilot)
        assert type(app.screen).__name__ == "PairInspectorScreen" and app.screen.task_id == 2
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "ReviewScreen" and shown_task(app) == 2
