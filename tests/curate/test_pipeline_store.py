"""The filters on a store built by the real pipeline (sample repo, demo teacher), checked against what
the pipeline's own store functions say about each rollout."""

from __future__ import annotations

import pytest

from engine.svg.pipeline import GenerateConfig, run_generate
from engine.svg.sample_repo import install_sample_repo
from store import tasks as tq
from store.curation import count_pairs, select_rollouts, stats
from store.filters import FilterSpec
from store.reviews import add_review
from store.rollouts import get_messages, list_rollouts

pytestmark = pytest.mark.slow


def est(m) -> float:
    if m.tokens is not None:
        return m.tokens
    return -(-len(m.content or "") // 4)  # ceil(chars / 4): the store's estimate for tool outputs


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    import asyncio

    from engine.workspace import Workspace

    ws = Workspace(tmp_path_factory.mktemp("pipeline") / "ws").ensure()
    store = ws.open_store()
    install_sample_repo(ws, store)
    config = GenerateConfig(repo="tally", pairs=5, concurrency=2, model="demo", provider="demo", seed=3,
                            step_limit=30, temperature=0.0)
    summary = asyncio.run(run_generate(store, ws, config))
    ids = sorted(t.id for t in tq.tasks_for_run(store, summary.run_id))
    first, second = ids[0], ids[1]
    add_review(store, first, "reject")
    # The demo teacher succeeds on every sample function; give one pair a low score the way a rescoring
    # would, through the pipeline's own store functions, so the recall and state filters have work.
    tq.replace_scores(store, second, [{"mode": "sera", "recall": 0.25, "matched": 1, "total": 4}])
    tq.set_task_state(store, second, "below_threshold", "recall 0.25 < 0.5")
    tasks = {t.id: t for t in tq.tasks_for_run(store, summary.run_id)}
    facts = []
    for r in list_rollouts(store, run_id=summary.run_id):
        msgs = get_messages(store, r.id)
        tools = [est(m) for m in msgs if m.role == "tool"]
        sera = [s.recall for s in tq.scores_for_task(store, r.task_id) if s.mode == "sera"]
        t = tasks[r.task_id]
        facts.append({"id": r.id, "stage": r.stage, "submitted": r.exit_reason == "submitted",
                      "patch_lines": r.patch_lines or 0, "steps": r.steps, "state": t.state,
                      "category": t.category, "recall": sera[-1] if sera else None,
                      "verdict": "reject" if t.id == first else "unreviewed",
                      "mean_tool": sum(tools) / len(tools) if tools else 0.0})
    yield store, facts
    store.close()


def got(store, **kw) -> set[int]:
    return {r["rollout_id"] for r in select_rollouts(store, FilterSpec(**{"submitted_only": False, **kw}))}


def want(facts, pred) -> set[int]:
    return {f["id"] for f in facts if f["stage"] in ("T1", "T2") and pred(f)}


def test_pipeline_store_has_variety(built):
    _store, facts = built
    assert len({f["state"] for f in facts}) >= 2 and any(f["recall"] is not None for f in facts)
    assert {f["stage"] for f in facts} >= {"T1", "T2"}


def test_each_filter_on_the_pipeline_store(built):
    store, facts = built
    mid_patch = sorted(f["patch_lines"] for f in facts)[len(facts) // 2]
    mid_tool = sorted(f["mean_tool"] for f in facts)[len(facts) // 2]
    mid_steps = sorted(f["steps"] for f in facts)[len(facts) // 2]
    category = facts[0]["category"]
    assert got(store) == want(facts, lambda f: True)
    assert got(store, min_recall=0.5) == want(facts, lambda f: f["recall"] is not None and f["recall"] >= 0.5)
    assert got(store, states=["kept"]) == want(facts, lambda f: f["state"] == "kept")
    assert got(store, stage="T1") == want(facts, lambda f: f["stage"] == "T1")
    assert got(store, stage="T2") == want(facts, lambda f: f["stage"] == "T2")
    assert got(store, submitted_only=True) == want(facts, lambda f: f["submitted"])
    assert got(store, max_patch_lines=mid_patch) == want(facts, lambda f: f["patch_lines"] <= mid_patch)
    assert got(store, max_mean_tool_tokens=mid_tool) == want(facts, lambda f: f["mean_tool"] <= mid_tool + 1e-9)
    assert got(store, max_steps=mid_steps) == want(facts, lambda f: f["steps"] <= mid_steps)
    assert got(store, categories=[category]) == want(facts, lambda f: f["category"] == category)
    assert got(store, verdicts=["reject"]) == want(facts, lambda f: f["verdict"] == "reject")
    assert got(store, verdicts=["unreviewed"]) == want(facts, lambda f: f["verdict"] == "unreviewed")
    assert got(store, repo="tally") == want(facts, lambda f: True)
    assert got(store, repo="other") == set()
    assert got(store, sources=["sera"]) == want(facts, lambda f: True)
    kept_pairs = {f["id"] for f in facts if f["state"] == "kept"}
    assert count_pairs(store, FilterSpec(states=["kept"], submitted_only=False)) == len(kept_pairs) // 2
    assert stats(store, FilterSpec(submitted_only=False))["rollouts"] == len(facts)
