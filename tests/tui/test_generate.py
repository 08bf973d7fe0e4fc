"""Generate screen: a real demo generation streams into both panes; the form validates; stop cancels;
a finished run is shown from the store; the event fold itself."""

from __future__ import annotations

from tests.tui.conftest import quiesce

import pytest
from textual.widgets import DataTable, Input, Static

from engine import events as ev
from engine.trajectory import Message, ToolCall
from screens.generate import GenerateScreen, parse_form
from screens.widgets.live_run import EventInbox, LiveRun
from screens.widgets.trajectory import StreamPane
from store.pairs import tasks_of_run


async def _until(pilot, cond, timeout_s: float = 60.0) -> None:
    for _ in range(int(timeout_s / 0.1)):
        if cond():
            return
        await pilot.pause(0.1)
    raise AssertionError("condition not reached in time")


@pytest.mark.slow
async def test_demo_generation_streams_messages_into_both_panes(workspace, store) -> None:
    from sera_tui.app import SeraApp

    app = SeraApp(workspace, store=store, demo=True, demo_pairs=2, demo_concurrency=2)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, GenerateScreen)
        t1 = screen.query_one("#t1-pane", StreamPane)
        t2 = screen.query_one("#t2-pane", StreamPane)
        # T1 messages appear while the run is still going
        await _until(pilot, lambda: t1.count > 0)
        assert screen.live.status in ("running", "finished")
        await _until(pilot, lambda: screen.live.status not in ("starting", "running"))
        await pilot.pause(0.3)
        assert screen.live.status == "finished", screen.live.error
        selected = screen.live.tasks[screen.selected]
        assert t1.count == len(selected.messages["T1"]) > 2
        assert t2.count == len(selected.messages["T2"]) > 2
        # the panes hold real rendered messages: the task, tool calls, observations
        assert [m.role for m in t1.messages[:2]] == ["system", "user"]
        assert any(m.tool_calls for m in t1.messages)
        shown = t1.text()
        assert "assistant" in shown and "→ " in shown and "▶ reasoning" in shown
        assert "more lines" in t2.text()  # long observations are clipped…
        await pilot.click("#t2-pane")
        await pilot.press("e")  # …and expand on `e`
        await pilot.pause()
        assert "more lines" not in t2.text() and "▼ reasoning" in t2.text()
        # T2's task is the synthetic PR, shown between the panes too
        pr = str(screen.query_one("#pr-text", Static).render())
        assert selected.pr_text and selected.pr_text.splitlines()[0] in pr
        assert selected.pr_text in t2_task_text(t2)  # wrapped in the task prompt
        assert "demo teacher — not a language model" in t1.border_title
        status = str(screen.query_one("#gen-status").render())
        assert "finished · 2/2 done" in status and "pairs/min" in status and "ETA" in status
        # the table agrees with the store
        rows = {t.function: t for t in tasks_of_run(store, screen.live.run_id)}
        table = screen.query_one("#gen-tasks", DataTable)
        for i in range(table.row_count):
            cells = [str(c) for c in table.get_row_at(i)]
            assert cells[2] == rows[cells[1]].state
        # selecting the other task shows its rollouts
        await pilot.click("#gen-tasks")
        await pilot.press("down")
        await pilot.pause(0.2)
        other = screen.live.tasks[screen.selected]
        assert other is not selected and t1.count == len(other.messages["T1"])


def t2_task_text(pane: StreamPane) -> str | None:
    users = [m for m in pane.messages if m.role == "user"]
    return users[0].content if users else None


async def test_stop_cancels_the_run(workspace, store) -> None:
    from sera_tui.app import SeraApp

    app = SeraApp(workspace, store=store, demo=True, demo_pairs=6, demo_concurrency=1)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await _until(pilot, lambda: screen.query_one("#t1-pane", StreamPane).count > 0)
        await pilot.press("ctrl+x")
        await _until(pilot, lambda: screen.live.status not in ("starting", "running"))
        assert screen.live.status == "cancelled"
        states = [t.state for t in tasks_of_run(store, screen.live.run_id)]
        assert "cancelled" in states and "pending" not in states and "running" not in states
        assert not screen.query_one("#start").disabled


async def test_form_errors_are_one_line_and_start_nothing(make_app, populated) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        screen.query_one("#f-pairs", Input).value = "many"
        await pilot.press("ctrl+s")
        await pilot.pause()
        status = screen.query_one("#gen-status")
        assert str(status.render()) == "error: pairs must be a whole number, got 'many'"
        screen.query_one("#f-pairs", Input).value = "2"
        await pilot.press("ctrl+s")  # provider openai without an endpoint: the pipeline refuses
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "give at least one --base-url" in str(status.render())
        assert screen.query_one("#gen-form").collapsed is False
    runs = populated.store.fetchall("SELECT count(*) FROM runs")
    assert runs == [(1,)]


async def test_a_finished_run_is_shown_from_the_store(make_app, populated) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        table = screen.query_one("#gen-tasks", DataTable)
        cells = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert [(c[1], c[2], c[5]) for c in cells] == [
            ("slugify", "kept", "1.00"), ("load_config", "kept", "0.50"), ("parse_range", "kept", "0.75"),
            ("merge_dicts", "below_threshold", "0.20"), ("retry_call", "judged_invalid", "-"),
            ("chunked", "kept", "0.67")]
        assert screen.query_one("#t1-pane", StreamPane).count == 10
        assert screen.query_one("#t2-pane", StreamPane).count == 10
        await pilot.press("i")  # the inspector opens on the selected pair
        await pilot.pause()
        assert type(app.screen).__name__ == "PairInspectorScreen" and app.screen.task_id == populated.task_ids[0]


async def test_panes_rewrap_when_the_terminal_narrows(make_app, populated) -> None:
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("2")
        await quiesce(pilot)
        t1 = app.screen.query_one("#t1-pane", StreamPane)
        wide = t1.scrollable_content_region.width
        assert t1.count == 10 and max(len(s.text.rstrip()) for s in t1.lines) > 0
        await pilot.resize_terminal(90, 30)
        await quiesce(pilot)
        narrow = t1.scrollable_content_region.width
        assert narrow < wide
        # every line fits the narrower pane: nothing is cut off at the right edge
        assert max(len(s.text.rstrip()) for s in t1.lines) <= narrow
        assert t1.count == 10 and "assistant" in t1.text()


def test_live_run_folds_events() -> None:
    run = LiveRun()
    inbox = EventInbox()
    msg = Message("assistant", "", tool_calls=[ToolCall("c1", "bash", '{"command": "ls"}')], prompt_tokens=100,
                  completion_tokens=20)
    for e in [ev.RunStarted(7, kind="generate", total=2),
              ev.TaskStarted(7, task_id=1, function="f", file="a.py"),
              ev.RolloutStarted(7, rollout_id=10, task_id=1, stage="T1"),
              ev.MessageAdded(7, rollout_id=10, task_id=1, stage="T1", index=0, message=msg),
              ev.RolloutFinished(7, rollout_id=10, task_id=1, stage="T1", steps=1, cost=0.25),
              ev.PRWritten(7, task_id=1, attempt=1, judge_verdict=True, pr_text="PR"),
              ev.PairScored(7, task_id=1, recall=0.5, recall_per_file=0.75),
              ev.TaskStateChanged(7, task_id=1, state="kept")]:
        inbox(e)
    changed = set()
    for e in inbox.drain():
        changed |= run.apply(e)
    t = run.tasks[1]
    assert changed == {1} and len(inbox) == 0
    assert (t.state, t.stage, t.steps, t.recall, t.pr_text, t.rollouts) == ("kept", "T1", 1, 0.5, "PR", {"T1": 10})
    assert (run.total, run.done, run.kept, run.prompt_tokens, run.completion_tokens, run.cost) == (2, 1, 1, 100, 20,
                                                                                                  0.25)
    assert run.eta_s() is not None
    run.apply(ev.RunFinished(7, status="finished"))
    assert run.status == "finished" and run.eta_s() is None


def test_parse_form() -> None:
    base = dict(repo="r", provider="openai", endpoints="http://a/v1, http://b/v1", model="m", pairs="3",
                concurrency="2", threshold="0.5", seed="1", categories="validation, timeouts", sandbox="local")
    kw = parse_form(base)
    assert kw["base_urls"] == ["http://a/v1", "http://b/v1"] and kw["categories"] == ["validation", "timeouts"]
    for field, bad, words in (("threshold", "high", "threshold must be a number"), ("seed", "x", "seed must be"),
                              ("repo", "", "pick a repository")):
        try:
            parse_form({**base, field: bad})
        except ValueError as exc:
            assert words in str(exc)
        else:
            raise AssertionError(field)


async def _to_generate(pilot) -> None:
    await pilot.press("2")
    await quiesce(pilot)


def test_snapshot_generate_80x24(snap_compare, make_app) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_to_generate)  # short: the form starts folded


def test_snapshot_generate_120x40(snap_compare, make_app) -> None:
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=_to_generate)


async def test_palette_demo_command_starts_a_demo(workspace, store) -> None:
    from sera_tui.app import SeraApp

    app = SeraApp(workspace, store=store, demo_pairs=1, demo_concurrency=1)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")  # Generate exists already when the command runs
        await pilot.pause()
        cmd = next(c for c in app.get_system_commands(app.screen) if c.title == "Start a demo generation")
        cmd.callback()
        screen = app.screen
        await _until(pilot, lambda: screen.live.status not in ("idle", "starting", "running"))
        assert screen.live.status == "finished" and screen.live.run_id is not None
        assert "demo" not in app.options
