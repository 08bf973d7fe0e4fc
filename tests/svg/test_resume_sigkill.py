"""Resume after SIGKILL: `sera generate` is killed mid-run, `sera generate --resume` finishes the run
with no duplicate task or rollout and every rollout completed before the kill kept as it was."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.loopback import ScriptedOpenAIServer
from engine.workspace import Workspace
from store import tasks as tq
from store.rollouts import count_messages, list_rollouts
from tests.svg.teacher import Scenario, ScriptedTeacher

N = 6


def sera(ws: Path, *args: str, **kw) -> list[str]:
    return [sys.executable, "-m", "sera_tui.cli", "--workspace", str(ws), *args]


@pytest.mark.slow
def test_sigkill_then_resume(tmp_path: Path, make_repo) -> None:
    files = {"ops.py": "".join(f"def op{i}(x):\n    value = x + {i}\n    return value\n\n\n" for i in range(N))}
    repo = make_repo(files, name="ops")
    scenarios = {f"op{i}": Scenario("ops.py", f"    value = x + {i}", f"    value = x + {i} + 0") for i in range(N)}
    ws = tmp_path / "ws"
    subprocess.run(sera(ws, "repo", "add", str(repo), "--name", "ops"), check=True, capture_output=True)
    teacher = ScriptedTeacher(scenarios, delay_s=0.12)
    with ScriptedOpenAIServer(teacher, model="m") as server:
        args = ["generate", "--repo", "ops", "--pairs", str(N), "--concurrency", "2", "--model", "m",
                "--base-url", server.base_url, "--step-limit", "8", "--json"]
        proc = subprocess.Popen(sera(ws, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        run_id, finished, started_after = None, 0, False
        assert proc.stdout is not None
        for line in proc.stdout:
            ev = json.loads(line)
            if ev["event"] == "RunStarted":
                run_id = ev["run_id"]
            elif ev["event"] == "TaskStateChanged" and ev["state"] not in ("running", "pending"):
                finished += 1
            elif ev["event"] == "MessageAdded" and finished >= 2:
                started_after = True  # something is in flight right now
                break
        assert run_id is not None and started_after, proc.stderr.read() if proc.stderr else ""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

        store = Workspace(ws).open_store()
        try:
            before = {t.id: t.state for t in tq.tasks_for_run(store, run_id)}
            done_before = {tid for tid, s in before.items() if tq.is_final(s)}
            rollouts_before = {r.id: (r.task_id, r.stage, r.exit_reason, count_messages(store, r.id))
                               for r in list_rollouts(store, run_id=run_id) if r.status == "finished"}
            running_before = [r.id for r in list_rollouts(store, run_id=run_id) if r.status == "running"]
        finally:
            store.close()
        assert len(before) == N and 2 <= len(done_before) < N
        assert running_before, "the kill should have left a rollout in flight"

        r = subprocess.run(sera(ws, "generate", "--resume", str(run_id), "--json"), capture_output=True,
                           text=True, timeout=180)
        assert r.returncode == 0, r.stderr

    store = Workspace(ws).open_store()
    try:
        tasks = tq.tasks_for_run(store, run_id)
        assert len(tasks) == N  # no task planned twice
        assert all(t.state == "kept" for t in tasks)
        assert store.fetchone("SELECT status FROM runs WHERE id=?", [run_id])[0] == "finished"
        rollouts = list_rollouts(store, run_id=run_id)
        # Completed rollouts survive unchanged, messages included.
        now = {r.id: (r.task_id, r.stage, r.exit_reason, count_messages(store, r.id)) for r in rollouts}
        assert all(now[rid] == before_row for rid, before_row in rollouts_before.items())
        # The rollouts caught in flight are marked, not reused; each task has exactly one live T1 and T2.
        assert {r.exit_reason for r in rollouts if r.id in running_before} == {"interrupted"}
        for t in tasks:
            live = [r.stage for r in rollouts if r.task_id == t.id and r.exit_reason != "interrupted"]
            assert sorted(live) == ["T1", "T2"], (t.function, live)
        # Tasks finished before the kill were not run again.
        for tid in done_before:
            assert len([r for r in rollouts if r.task_id == tid]) == 2
    finally:
        store.close()
    assert not any((ws / "runs").iterdir())  # no checkout left behind, the dead process's ones included
