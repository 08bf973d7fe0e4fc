"""End to end: a real git repo, a scripted teacher over HTTP, real sandboxes and a real DuckDB store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.events import EventBus, PairScored, PRWritten, RunFinished, RunStarted, TaskStateChanged
from engine.repo import describe_repo
from engine.sandbox.scratch import ram_runs_dir
from engine.svg.pipeline import GenerateConfig, GenerateError, resume_generate, run_generate
from store import tasks as tq
from store.repos import add_repo
from store.rollouts import get_messages, list_rollouts
from store.runs import get_run


def register(store, repo: Path, name: str = "calc") -> None:
    info = describe_repo(repo, name)
    add_repo(store, name, info.path, info.head_commit, None, info.languages)


def checkouts_left(workspace) -> list[Path]:
    """Checkouts still on disk or in memory (see engine.sandbox.scratch) for this workspace."""
    ram = ram_runs_dir(workspace.runs_dir)
    return [*workspace.runs_dir.iterdir(), *(ram.iterdir() if ram.is_dir() else [])]


def config(server, **kw) -> GenerateConfig:
    base = dict(repo="calc", pairs=6, concurrency=4, model="scripted-teacher", base_urls=[server.base_url],
                provider="openai", seed=1, step_limit=6, temperature=0.0)
    return GenerateConfig(**{**base, **kw})


async def test_every_outcome_is_recorded_with_its_rows(workspace, store, calc_repo, teacher_server) -> None:
    register(store, calc_repo)
    bus, events = EventBus(), []
    bus.subscribe(events.append)
    summary = await run_generate(store, workspace, config(teacher_server), bus=bus)

    by_fn = {t.function: t for t in tq.tasks_for_run(store, summary.run_id)}
    assert {fn: t.state for fn, t in by_fn.items()} == {
        "keep_me": "kept", "drift_me": "below_threshold", "reject_me": "judged_invalid",
        "fail_me": "rollout_failed:step_limit", "noop_me": "empty_patch", "picky_me": "kept"}
    assert all(t.reason for t in by_fn.values())  # every state says why
    assert summary.counts == {"below_threshold": 1, "judged_invalid": 1, "kept": 2, "empty_patch": 1,
                              "rollout_failed:step_limit": 1}
    assert summary.kept == 2 and summary.scored == 3 and summary.status == "finished"

    def stages(fn: str) -> list[tuple[str, str]]:
        return [(r.stage, r.exit_reason) for r in list_rollouts(store, task_id=by_fn[fn].id)]

    assert stages("keep_me") == [("T1", "submitted"), ("T2", "submitted")]
    assert stages("drift_me") == [("T1", "submitted"), ("T2", "submitted")]
    assert stages("reject_me") == [("T1", "submitted")]
    assert stages("fail_me") == [("T1", "step_limit")]
    assert stages("noop_me") == [("T1", "submitted")]

    # Scores: both recall modes per scored pair; the kept pair matched every target line.
    keep_scores = {s.mode: s for s in tq.scores_for_task(store, by_fn["keep_me"].id)}
    assert set(keep_scores) == {"sera", "per-file"}
    assert keep_scores["sera"].recall == 1.0 and keep_scores["sera"].total == 2
    assert keep_scores["sera"].matched_lines
    drift = {s.mode: s.recall for s in tq.scores_for_task(store, by_fn["drift_me"].id)}
    assert drift == {"sera": 0.0, "per-file": 0.0}  # rollout 2 changed another line
    assert tq.scores_for_task(store, by_fn["reject_me"].id) == []

    # PR attempts: the accepted PR is rollout 2's task; the rejected task has a recorded NO.
    keep_pr = tq.accepted_pr(store, by_fn["keep_me"].id)
    assert keep_pr is not None and keep_pr.judge_verdict is True and keep_pr.demo_source.startswith("builtin:")
    t2 = [r for r in list_rollouts(store, task_id=by_fn["keep_me"].id) if r.stage == "T2"][0]
    assert t2.task_text == keep_pr.pr_text
    rejected = tq.pr_attempts(store, by_fn["reject_me"].id)
    assert [(a.judge_verdict, a.accepted) for a in rejected] == [(False, False)]
    # A PR that breaks the rules is recorded with why, and written again (the judge is asked once).
    picky = tq.pr_attempts(store, by_fn["picky_me"].id)
    assert [(a.attempt, a.accepted) for a in picky] == [(1, False), (2, True)]
    assert "already fixed" in picky[0].error
    assert teacher_server.teacher.calls.count("judge:picky_me") == 1

    # Every message of the trajectory was persisted: view, edit, bash, submit (+ tool results).
    t1 = [r for r in list_rollouts(store, task_id=by_fn["keep_me"].id) if r.stage == "T1"][0]
    msgs = get_messages(store, t1.id)
    calls = [c.name for m in msgs if m.role == "assistant" for c in m.tool_calls]
    assert calls == ["str_replace_editor", "str_replace_editor", "bash", "submit"]
    assert "+    total = x + 1 if x is not None else 1" in t1.patch
    assert any(m.reasoning == "Change the suspicious line." for m in msgs)

    # The user's repo is untouched: the engine worked in private checkouts, all removed at the end.
    assert "x is not None" not in (calc_repo / "calc.py").read_text()
    assert checkouts_left(workspace) == []

    kinds = [type(e) for e in events]
    assert kinds[0] is RunStarted and kinds[-1] is RunFinished
    assert sum(isinstance(e, PairScored) for e in events) == 3
    assert any(isinstance(e, PRWritten) and e.judge_verdict is False for e in events)
    finals = [e for e in events if isinstance(e, TaskStateChanged) and e.state != "running"]
    assert len(finals) == 6
    assert get_run(store, summary.run_id).status == "finished"


async def test_threshold_decides_and_run_config_is_stored(workspace, store, calc_repo, teacher_server) -> None:
    register(store, calc_repo)
    summary = await run_generate(store, workspace, config(teacher_server, threshold=0.0))
    # SERA's loosest threshold (0.0) keeps any pair whose rollout 2 submitted, even with recall 0.
    states = {t.function: t.state for t in tq.tasks_for_run(store, summary.run_id)}
    assert states["drift_me"] == "kept"
    stored = get_run(store, summary.run_id).config
    assert stored["threshold"] == 0.0 and stored["base_urls"] == [teacher_server.base_url]


async def test_cancel_marks_in_flight_and_pending_tasks_cancelled_then_resume_finishes(
        workspace, store, calc_repo, teacher_server) -> None:
    register(store, calc_repo)
    teacher_server.teacher.delay_s = 0.15
    cancel = asyncio.Event()
    bus = EventBus()
    bus.subscribe(lambda e: cancel.set() if type(e).__name__ == "RolloutStarted" else None)
    summary = await run_generate(store, workspace, config(teacher_server, concurrency=2), bus=bus, cancel=cancel)
    assert summary.status == "cancelled"
    assert set(summary.counts) == {"cancelled"} and summary.counts["cancelled"] == 6
    teacher_server.teacher.delay_s = 0.0
    done = await resume_generate(store, workspace, summary.run_id)
    assert done.status == "finished" and "cancelled" not in done.counts and sum(done.counts.values()) == 6
    for t in tq.tasks_for_run(store, summary.run_id):
        # a cancelled rollout is kept as a record, and redone once
        finished = [r for r in list_rollouts(store, task_id=t.id) if r.exit_reason != "cancelled"]
        assert len([r for r in finished if r.stage == "T1"]) == 1
    assert checkouts_left(workspace) == []  # no checkout leaked by the cancel


async def test_bad_input_is_one_line_and_creates_nothing(workspace, store, calc_repo, teacher_server) -> None:
    with pytest.raises(GenerateError, match="no repo named 'calc'"):
        await run_generate(store, workspace, config(teacher_server))
    register(store, calc_repo)
    with pytest.raises(GenerateError, match="no teacher server answering"):
        await run_generate(store, workspace, config(teacher_server, base_urls=["http://127.0.0.1:9/v1"]))
    with pytest.raises(GenerateError, match="unknown category"):
        await run_generate(store, workspace, config(teacher_server, categories=["nope"]))
    with pytest.raises(GenerateError, match="--pairs"):
        await run_generate(store, workspace, config(teacher_server, pairs=0))
    assert store.fetchone("SELECT count(*) FROM runs")[0] == 0


async def test_a_slow_conversation_does_not_stall_the_others(workspace, store, make_repo) -> None:
    """One task's teacher turns are slow; with 2 in flight, the other tasks flow through the free slot."""
    from engine.loopback import ScriptedOpenAIServer
    from tests.svg.teacher import Scenario, ScriptedTeacher

    repo = make_repo({"ops.py": "".join(f"def {n}(x):\n    value = x + {i}\n    return value\n\n\n"
                                         for i, n in enumerate(["slow_one", "quick_a", "quick_b"]))}, name="ops")
    scen = {n: Scenario("ops.py", f"    value = x + {i}", f"    value = x + {i} + 0",
                        delay_s=1.0 if n == "slow_one" else 0.0)
            for i, n in enumerate(["slow_one", "quick_a", "quick_b"])}
    register(store, repo)
    with ScriptedOpenAIServer(ScriptedTeacher(scen), model="m") as server:
        bus, order = EventBus(), []
        bus.subscribe(lambda e: order.append(e.task_id) if isinstance(e, TaskStateChanged)
                      and e.state != "running" else None)
        cfg = config(server, pairs=3, concurrency=2, categories=["generic"])
        summary = await run_generate(store, workspace, cfg, bus=bus)
    fn_of = {t.id: t.function for t in tq.tasks_for_run(store, summary.run_id)}
    assert [fn_of[i] for i in order][-1] == "slow_one"  # the slow one finishes last...
    assert sorted(fn_of[i] for i in order[:2]) == ["quick_a", "quick_b"]  # ...the others did not wait for it


async def test_cancelling_the_asyncio_task_records_cancelled(workspace, store, calc_repo, teacher_server) -> None:
    """A TUI cancels its worker rather than setting the event: the run still ends recorded, not 'running'."""
    register(store, calc_repo)
    teacher_server.teacher.delay_s = 0.2
    started = asyncio.Event()
    bus = EventBus()
    bus.subscribe(lambda e: started.set() if type(e).__name__ == "RolloutStarted" else None)
    job = asyncio.create_task(run_generate(store, workspace, config(teacher_server, concurrency=2), bus=bus))
    await started.wait()
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    (run_row,) = store.fetchall("SELECT id, status FROM runs")
    assert run_row[1] == "cancelled"
    assert set(tq.run_counts(store, run_row[0])) == {"cancelled"}


async def test_user_prices_from_the_workspace_config_cost_the_run(workspace, store, calc_repo,
                                                                   teacher_server) -> None:
    # $1 per 1M prompt tokens and $2 per 1M completion tokens for the scripted teacher.
    workspace.config_path.write_text('[prices."scripted-teacher"]\ninput = 1.0\noutput = 2.0\n')
    register(store, calc_repo)
    summary = await run_generate(store, workspace, config(teacher_server, pairs=2))
    rollouts = list_rollouts(store, run_id=summary.run_id)
    assert rollouts
    for r in rollouts:
        expected = (r.prompt_tokens * 1.0 + r.completion_tokens * 2.0) / 1e6
        assert r.prompt_tokens > 0 and r.cost == pytest.approx(expected)
