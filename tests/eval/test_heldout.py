"""Held-out split: drawn reproducibly, recorded, evaluated with the PR as the task and T1's patch as the
reference, and left out of training exports."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from engine.eval import heldout_tasks, mark_heldout
from sera_tui.cli import app
from store import evals as q
from store.repos import add_repo
from store.rollouts import create_rollout, finish_rollout
from store.runs import create_run
from store.tasks import add_pr_attempt, create_task


def make_pairs(store, root, head, refs, n_extra=2):
    """Generated pairs as SVG leaves them: a task, an accepted PR, a T1 rollout with its patch."""
    repo = add_repo(store, "calc", str(root), head, test_cmd="python3 -c 'import calc'")
    run = create_run(store, "generate", repo_id=repo.id, base_commit=head)
    fns = ["add", "mul"] + ["add"] * n_extra
    ids = []
    for seq, fn in enumerate(fns):
        tid = create_task(store, run_id=run, repo_id=repo.id, seq=seq, file="calc.py", function=fn, start_line=1,
                          end_line=2, language="python", category="edge cases", instruction=f"{fn} is odd",
                          seed=seq, base_commit=head)
        add_pr_attempt(store, task_id=tid, attempt=1, judge_verdict=True, judge_text="yes",
                       pr_text=f"calling {fn}(2, 3) gives the wrong answer", demo_source="builtin", accepted=True)
        for stage in ("T1", "T2"):
            rid = create_rollout(store, run_id=run, task_id=tid, stage=stage, model="teacher", task_text="x")
            finish_rollout(store, rid, "submitted", refs[fn], 3, 10, 10, 0.0)
        ids.append(tid)
    return repo, ids


def test_mark_heldout_is_seeded_recorded_and_sticky(store, calc_repo):
    root, head, refs = calc_repo
    _, ids = make_pairs(store, root, head, refs)
    split = mark_heldout(store, "calc", 0.5, seed=7)
    assert split.n_candidates == 4 and len(split.heldout) == 2 and set(split.heldout) <= set(ids)
    again = mark_heldout(store, "calc", 0.5, seed=7)
    assert again.newly_heldout == [] and again.heldout == split.heldout
    more = mark_heldout(store, "calc", 0.75, seed=1)
    assert set(split.heldout) < set(more.heldout) and len(more.heldout) == 3
    assert [s["n_heldout"] for s in q.heldout_splits(store, 1)] == [2, 2, 3]
    with pytest.raises(Exception, match="between 0 and 1"):
        mark_heldout(store, "calc", 1.5)


def test_heldout_tasks_are_not_exported(store, calc_repo):
    from store.curation import select_rollouts
    from store.filters import FilterSpec

    root, head, refs = calc_repo
    _, ids = make_pairs(store, root, head, refs, n_extra=0)
    before = {r["task_id"] for r in select_rollouts(store, FilterSpec())}
    split = mark_heldout(store, "calc", 0.5, seed=0)
    after = {r["task_id"] for r in select_rollouts(store, FilterSpec())}
    assert before == set(ids) and after == set(ids) - set(split.heldout)


def test_cli_eval_on_heldout_pairs(workspace, calc_repo, model_server):
    root, head, refs = calc_repo
    with workspace.open_store() as s:
        make_pairs(s, root, head, refs, n_extra=0)
    r = CliRunner().invoke(app, ["--workspace", str(workspace.root), "eval", "--model", "student", "--base-url",
                                 model_server.base_url, "--repo", "calc", "--heldout-fraction", "0.5",
                                 "--split-seed", "3", "--seeds", "2", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    summary = data["models"][0]["summary"]
    assert len(summary["tasks"]) == 1  # half of the two pairs
    assert summary["seed_means"] == {"0": 1.0, "1": 1.0}
    assert summary["tests_mean"] == 1.0  # the repo's test command, run in the sandbox
    with workspace.open_store() as s:
        (task,) = heldout_tasks(s, "calc")
        assert task.reference_patch == refs["add" if "add" in task.task_text else "mul"]
        assert task.task_text.startswith("calling ")
