"""Pair inspector: highlighted lines are exactly the recall result's, both modes, navigation, steps."""

from __future__ import annotations

from tests.tui.conftest import quiesce

import pytest
from textual.widgets import Static

from engine.verify import recall
from screens.inspector import PairInspectorScreen, TrajectoryScreen, split_steps
from screens.widgets.patch import LIGHT_STYLES, STYLES, PatchView, render_patch
from screens.widgets.trajectory import MessageView, TrajectoryView
from tests.tui.conftest import PAIRS


async def _open(app, pilot, task_id: int) -> PairInspectorScreen:
    await pilot.pause()
    app.open_pair(task_id)
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, PairInspectorScreen)
    return screen


def _expected(p1: str, p2: str, mode: str) -> tuple[list[str], list[str], list[str], list[str]]:
    r = recall(p1, p2, mode)
    p1_lines, p2_lines = p1.split("\n"), p2.split("\n")
    return ([p1_lines[t.index] for t in r.target_lines if t.matched],
            [p1_lines[t.index] for t in r.target_lines if not t.matched],
            [p2_lines[p.index] for p in r.produced_lines if p.matched],
            [p2_lines[p.index] for p in r.produced_lines if not p.matched])


@pytest.mark.parametrize("mode", ["sera", "per-file"])
async def test_highlighted_lines_match_the_recall_result(make_app, populated, mode) -> None:
    spec = PAIRS[1]  # load_config: sera 0.50, per-file 0.75 (a trailing space in P2)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(app, pilot, populated.task_ids[1])
        if mode == "per-file":
            await pilot.press("m")
            await pilot.pause()
        p1, p2 = screen.query_one("#p1", PatchView), screen.query_one("#p2", PatchView)
        green1, red1, green2, dim2 = _expected(spec.p1, spec.p2, mode)
        assert p1.lines_marked("matched") == green1
        assert p1.lines_marked("unmatched") == red1
        assert p2.lines_marked("matched") == green2
        assert p2.lines_marked("unused") == dim2
        recall_line = str(screen.query_one("#insp-recall", Static).render())
        assert "recall sera: 0.50 (2/4)" in recall_line and "recall per-file: 0.75 (3/4)" in recall_line
    if mode == "sera":  # what a reader sees: the missing comment line red, the matched edit green
        assert red1 == ["+    # close the file even when parsing fails", "+    with open(path) as fh:"]
        assert dim2[0] == "+    with open(path) as fh: "
    else:
        assert red1 == ["+    # close the file even when parsing fails"]


def test_rendered_colours_follow_the_marks() -> None:
    spec = PAIRS[1]
    r = recall(spec.p1, spec.p2, "sera")
    marks = {t.index: ("matched" if t.matched else "unmatched") for t in r.target_lines}
    text = render_patch(spec.p1, marks, path=spec.file)
    rows = text.split("\n")
    for index, mark in marks.items():
        row = rows[index]
        assert row.plain.startswith("✓ " if mark == "matched" else "✗ ")
        assert any(span.style == STYLES[mark] for span in row.spans), (index, mark)
    context = rows[4]  # "     import json": syntax-coloured, not highlighted
    assert context.plain.startswith("  ") and not any(span.style in STYLES.values() for span in context.spans)


async def test_light_theme_recolours_the_highlight(make_app, populated) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(app, pilot, populated.task_ids[1])
        p1 = screen.query_one("#p1", PatchView)
        red_row = p1.rendered.split("\n")[6]  # "+    # close the file…": unmatched
        assert any(span.style == STYLES["unmatched"] for span in red_row.spans)
        app.theme = "textual-light"
        await pilot.pause()
        red_row = p1.rendered.split("\n")[6]
        assert any(span.style == LIGHT_STYLES["unmatched"] for span in red_row.spans)
        assert red_row.plain.startswith("✗ ")


def test_snapshot_inspector_light_120x40(snap_compare, make_app) -> None:
    async def light(pilot) -> None:
        pilot.app.theme = "textual-light"
        await _open_pair_2(pilot)
        await quiesce(pilot)

    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=light)


async def test_next_previous_pair_and_header(make_app, populated) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot, populated.task_ids[0])
        head = str(screen.query_one("#insp-head", Static).render())
        assert "slugify" in head and "pair 1 of 5" in head and "review: accept" in head
        seen = [screen.task_id]
        for _ in range(5):  # one past the end: stays on the last pair
            await pilot.press("n")
            await app.workers.wait_for_complete()
            await pilot.pause()
            seen.append(screen.task_id)
        # task 5 (judged invalid, no T2) is not a pair, so it is skipped
        assert seen == [1, 2, 3, 4, 6, 6]
        assert "chunked" in str(screen.query_one("#insp-head", Static).render())
        await pilot.press("p")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.task_id == 4


async def test_open_a_trajectory_step_by_step(make_app, populated) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(app, pilot, populated.task_ids[2])
        await pilot.press("s")  # T2
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        steps = app.screen
        assert isinstance(steps, TrajectoryScreen)
        assert "task" in str(steps.query_one("#step-status", Static).render())
        roles = [v.message.role for v in steps.query(MessageView)]
        assert roles == ["system", "user"]  # step 0: the task (the PR for T2)
        assert "parse_range misbehaves" in steps.query(MessageView)[1].message.content
        await pilot.press("right")
        await pilot.pause()
        views = list(steps.query(MessageView))
        assert [v.message.role for v in views] == ["assistant", "tool"]
        assert views[0].message.tool_calls[0].name == "str_replace_editor"
        assert "step 1 of 4" in str(steps.query_one("#step-status", Static).render())
        await pilot.press("end")
        await pilot.pause()
        assert steps.query(MessageView)[0].message.tool_calls[0].name == "submit"
        await pilot.press("a")
        await pilot.pause()
        assert steps.query_one(TrajectoryView).count == 10
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


def test_split_steps() -> None:
    from engine.trajectory import Message

    msgs = [Message("system"), Message("user"), Message("assistant"), Message("tool"), Message("assistant")]
    assert [[m.role for m in s] for s in split_steps(msgs)] == [["system", "user"], ["assistant", "tool"],
                                                              ["assistant"]]


async def test_unknown_task_says_so(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot, 999)
        assert "no task with id 999" in str(screen.query_one("#insp-head", Static).render())


async def _open_pair_2(pilot) -> None:
    pilot.app.open_pair(2)
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def _open_pair_2_settled(pilot) -> None:
    await _open_pair_2(pilot)
    await quiesce(pilot)


def test_snapshot_inspector_80x24(snap_compare, make_app) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_open_pair_2_settled)


def test_snapshot_inspector_120x40(snap_compare, make_app) -> None:
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=_open_pair_2_settled)
