"""Each FilterSpec field selects exactly the rollouts it should; pairs, histogram, stats, freshness.

The store: repo A (run 1) has tasks
  t1 kept, recall 1.0, validation, reviewed accept;          T1, T2
  t2 below_threshold, recall 0.3, naming, accept then reject;  T1, T2 (T2 hit the step limit)
  t3 kept, recall 0.6 (per-file 0.9), validation, unreviewed;  T1 (50-line patch), T2 (3 steps, 800-token outputs)
  t4 judged_invalid, recall undefined, edge-cases;            T1 only
  t6 kept, recall 1.0, validation, held out for evaluation;  T1, T2
and one imported SWE-agent rollout; repo B (run 2, January 2024) has t5 kept, recall 0.8, security, skip.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from store import Store
from store.curation import (
    count_pairs,
    count_rollouts,
    recall_histogram,
    refresh_rollout_stats,
    select_pairs,
    select_rollouts,
    stats,
)
from store.filters import FilterSpec
from tests.curate.builder import Step, StoreBuilder


def build_world(store: Store) -> dict:
    b = StoreBuilder(store, repo="repo-a")
    ids: dict = {"run_a": b.run_id}
    ids["t1"] = b.task(recall=1.0, category="validation", verdicts=["accept"])
    ids["t1a"], ids["t1b"] = b.rollout(ids["t1"], "T1"), b.rollout(ids["t1"], "T2")
    ids["t2"] = b.task(state="below_threshold", recall=0.3, category="naming", verdicts=["accept", "reject"])
    ids["t2a"] = b.rollout(ids["t2"], "T1")
    ids["t2b"] = b.rollout(ids["t2"], "T2", exit_reason="step_limit")
    ids["t3"] = b.task(recall=0.6, recall_per_file=0.9, category="validation")
    ids["t3a"] = b.rollout(ids["t3"], "T1", patch_lines=50)
    ids["t3b"] = b.rollout(ids["t3"], "T2", steps=[Step(output="x" * 100, output_tokens=800)] * 3)
    ids["t4"] = b.task(state="judged_invalid", recall=None, category="edge-cases")
    ids["t4a"] = b.rollout(ids["t4"], "T1")
    ids["t6"] = b.task(recall=1.0, category="validation")
    store.execute("UPDATE tasks SET heldout = true WHERE id = ?", [ids["t6"]])
    ids["t6a"], ids["t6b"] = b.rollout(ids["t6"], "T1"), b.rollout(ids["t6"], "T2")
    ids["imp"] = b.rollout(None, "imported", source="swe-agent")
    ids["run_b"] = b.new_run("repo-b")
    ids["t5"] = b.task(recall=0.8, category="security", verdicts=["skip"])
    old = datetime(2024, 1, 1, 12, 0)
    ids["t5a"], ids["t5b"] = b.rollout(ids["t5"], "T1", started_at=old), b.rollout(ids["t5"], "T2", started_at=old)
    return ids


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One store for the read-only tests of this module (building it is the slow part)."""
    s = Store.open(tmp_path_factory.mktemp("curate-world") / "sera.duckdb")
    ids = build_world(s)
    yield s, ids
    s.close()


@pytest.fixture
def store(shared) -> Store:
    return shared[0]


@pytest.fixture
def world(shared) -> dict:
    return shared[1]


TRAINABLE = ["t1a", "t1b", "t2a", "t2b", "t3a", "t3b", "t4a", "imp", "t5a", "t5b"]  # t6 is held out


def selected(store: Store, spec: FilterSpec) -> set[int]:
    rows = select_rollouts(store, spec)
    assert count_rollouts(store, spec) == len(rows)
    return {r["rollout_id"] for r in rows}


def ids_of(world: dict, *names: str) -> set[int]:
    return {world[n] for n in names}


CASES = [
    ("no filter", {}, TRAINABLE),
    ("min recall", {"min_recall": 0.5}, ["t1a", "t1b", "t3a", "t3b", "t5a", "t5b"]),
    ("min recall per-file", {"min_recall": 0.85, "recall_mode": "per-file"}, ["t3a", "t3b"]),
    ("recall 1.0 is inclusive", {"min_recall": 1.0}, ["t1a", "t1b"]),
    ("states", {"states": ["kept"]}, ["t1a", "t1b", "t3a", "t3b", "t5a", "t5b"]),
    ("states several", {"states": ["below_threshold", "judged_invalid"]}, ["t2a", "t2b", "t4a"]),
    ("stage T1", {"stage": "T1"}, ["t1a", "t2a", "t3a", "t4a", "t5a"]),
    ("stage T2", {"stage": "T2"}, ["t1b", "t2b", "t3b", "t5b"]),
    ("submitted only", {"submitted_only": True}, [n for n in TRAINABLE if n != "t2b"]),
    ("patch lines", {"max_patch_lines": 40}, [n for n in TRAINABLE if n != "t3a"]),
    ("mean tool tokens", {"max_mean_tool_tokens": 600}, [n for n in TRAINABLE if n != "t3b"]),
    ("steps", {"max_steps": 2}, [n for n in TRAINABLE if n != "t3b"]),
    ("category", {"categories": ["validation"]}, ["t1a", "t1b", "t3a", "t3b"]),
    ("latest verdict", {"verdicts": ["accept"]}, ["t1a", "t1b"]),
    ("verdict reject (latest of two)", {"verdicts": ["reject"]}, ["t2a", "t2b"]),
    ("unreviewed", {"verdicts": ["unreviewed"]}, ["t3a", "t3b", "t4a", "imp"]),
    ("repo", {"repo": "repo-b"}, ["t5a", "t5b"]),
    ("repo via the import's run", {"repo": "repo-a", "sources": ["swe-agent"]}, ["imp"]),
    ("since", {"since": date(2025, 1, 1)}, [n for n in TRAINABLE if n not in ("t5a", "t5b")]),
    ("until", {"until": date(2024, 1, 1)}, ["t5a", "t5b"]),
    ("source", {"sources": ["sera"]}, [n for n in TRAINABLE if n != "imp"]),
    ("held out included", {"include_heldout": True, "categories": ["validation"]},
     ["t1a", "t1b", "t3a", "t3b", "t6a", "t6b"]),
    ("SERA preset", {**FilterSpec.sera_specialization().to_dict()}, ["t1a", "t1b", "t5a", "t5b"]),
]


@pytest.mark.parametrize("label,spec,expected", CASES, ids=[c[0] for c in CASES])
def test_each_filter_selects_exactly(store, world, label, spec, expected):
    spec = FilterSpec.from_dict({"submitted_only": False, **spec})
    assert selected(store, spec) == ids_of(world, *expected)


def test_run_filter(store, world):
    assert selected(store, FilterSpec(run_id=world["run_b"], submitted_only=False)) == ids_of(world, "t5a", "t5b")


def test_rows_carry_task_score_and_message_figures(store, world):
    rows = {r["rollout_id"]: r for r in select_rollouts(store, FilterSpec(submitted_only=False))}
    r = rows[world["t3b"]]
    assert (r["state"], r["category"], r["recall"], r["verdict"], r["repo"]) == (
        "kept", "validation", 0.6, None, "repo-a")
    assert (r["steps"], r["n_messages"], r["mean_tool_tokens"]) == (3, 8, 800.0)
    assert rows[world["t2a"]]["verdict"] == "reject"
    # tokens NULL -> chars/4 estimate: "file.py\n" is 8 chars -> 2 tokens
    assert rows[world["t1a"]]["mean_tool_tokens"] == 2.0


def test_limit_offset_and_order(store, world):
    spec = FilterSpec(submitted_only=False)
    all_ids = [r["rollout_id"] for r in select_rollouts(store, spec)]
    assert all_ids == sorted(all_ids)
    page = [r["rollout_id"] for r in select_rollouts(store, spec, limit=3, offset=2)]
    assert page == all_ids[2:5]


def test_pairs(store, world):
    spec = FilterSpec(submitted_only=False)
    pairs = select_pairs(store, spec)
    assert [p["task_id"] for p in pairs] == [world["t1"], world["t2"], world["t3"], world["t5"]]  # t4 has no T2
    p1 = pairs[0]
    assert (p1["t1_id"], p1["t2_id"], p1["recall"], p1["verdict"]) == (world["t1a"], world["t1b"], 1.0, "accept")
    assert count_pairs(store, spec) == 4
    # both stages must pass: t2's T2 did not submit
    assert [p["task_id"] for p in select_pairs(store, FilterSpec())] == [world["t1"], world["t3"], world["t5"]]
    # only the chosen stage must pass: t3's T1 patch is too big
    assert count_pairs(store, FilterSpec(stage="T2", max_patch_lines=40, submitted_only=False)) == 4
    assert count_pairs(store, FilterSpec(stage="T1", max_patch_lines=40, submitted_only=False)) == 3
    assert count_pairs(store, FilterSpec(min_recall=0.7)) == 2
    assert len(select_pairs(store, spec, limit=2, offset=1)) == 2


def test_recall_histogram(store, world):
    h = recall_histogram(store, FilterSpec(submitted_only=False), bins=10)
    counts = [b.count for b in h["bins"]]
    # tasks: t1 1.0 (last bin), t2 0.3, t3 0.6, t5 0.8; t4 undefined
    assert counts == [0, 0, 0, 1, 0, 0, 1, 0, 1, 1]
    assert h["undefined"] == 1
    assert (h["bins"][0].lo, h["bins"][-1].hi) == (0.0, 1.0)
    assert [b.count for b in recall_histogram(store, FilterSpec(min_recall=0.5), bins=2)["bins"]] == [0, 3]


def test_stats(store, world):
    s = stats(store, FilterSpec(submitted_only=False))
    assert s["rollouts"] == 10 and s["tasks"] == 5 and s["pairs"] == 4
    assert s["by_stage"] == {"T1": 5, "T2": 4, "imported": 1}
    assert s["by_state"] == {"kept": 6, "below_threshold": 2, "(none)": 1, "judged_invalid": 1}
    assert s["by_category"]["validation"] == 4 and s["by_source"] == {"sera": 9, "swe-agent": 1}
    assert s["steps"]["max"] == 3.0 and s["steps"]["min"] == 1.0
    assert s["mean_tool_tokens"]["max"] == 800.0
    assert sum(b["count"] for b in s["recall_histogram"]) == 4 and s["recall_undefined"] == 1


def test_aggregates_follow_new_and_growing_rollouts(workspace):
    store = workspace.open_store()
    build_world(store)
    spec = FilterSpec(max_mean_tool_tokens=600, submitted_only=False)
    before = count_rollouts(store, spec)
    b = StoreBuilder(store, repo="repo-c")
    big = b.rollout(None, "imported", steps=[Step(output_tokens=5000)])
    assert count_rollouts(store, spec) == before  # the new rollout's mean is computed, and it fails
    # a running rollout is re-aggregated each time, so messages added later count
    store.execute("UPDATE rollouts SET status = 'running', finished_at = NULL WHERE id = ?", [big])
    store.execute("UPDATE messages SET tokens = 10 WHERE rollout_id = ?", [big])
    assert count_rollouts(store, spec) == before + 1
    store.execute("UPDATE rollouts SET status = 'finished', finished_at = current_timestamp WHERE id = ?", [big])
    store.execute("UPDATE messages SET tokens = 900 WHERE rollout_id = ?", [big])
    assert count_rollouts(store, spec) == before  # finished_at changed -> recomputed
    assert refresh_rollout_stats(store) == 0  # everything fresh now
    store.close()


def test_read_only_store_aggregates_inline(workspace):
    s = workspace.open_store()
    b = StoreBuilder(s)
    tid = b.task()
    b.rollout(tid, "T1", steps=[Step(output_tokens=700)])
    b.rollout(tid, "T2")
    s.close()  # nothing computed rollout_stats yet
    ro = Store.open(workspace.db_path, read_only=True)
    try:
        assert count_rollouts(ro, FilterSpec(max_mean_tool_tokens=600)) == 1
        assert count_pairs(ro, FilterSpec()) == 1
        assert count_pairs(ro, FilterSpec(max_mean_tool_tokens=600)) == 0
    finally:
        ro.close()


def test_bad_stage_is_a_clear_error(store):
    from store import StoreError

    with pytest.raises(StoreError, match="unknown stage"):
        count_rollouts(store, FilterSpec(stage="T3"))  # type: ignore[arg-type]
