"""`sera rollout` end to end in a real process, including a SIGKILL in the middle of a run."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.loopback import tool_call_reply
from engine.workspace import Workspace
from store.rollouts import get_messages, list_rollouts
from store.runs import list_runs


def sera(ws: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sera_tui.cli", "-w", str(ws), *args], capture_output=True,
                          text=True, timeout=120, **kw)


def test_demo_rollout_streams_and_stores(py_repo: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    r = sera(ws, "rollout", "--repo", str(py_repo), "--provider", "demo",
             "--task", "When I call `total` (in `pkg/mod.py`), it misbehaves.")
    assert r.returncode == 0, r.stderr
    assert "demo — not a language model" in r.stdout
    assert "→ str_replace_editor" in r.stdout and "submitted" in r.stdout and "+++ b/pkg/mod.py" in r.stdout
    store = Workspace(ws).open_store(read_only=True)
    try:
        (run,) = list_runs(store, kind="rollout")
        assert run.status == "finished" and run.config["provider"] == "demo"
        (ro,) = list_rollouts(store, run_id=run.id)
        assert ro.exit_reason == "submitted" and ro.stage == "single" and ro.patch_lines >= 1
        assert [m.role for m in get_messages(store, ro.id)][:3] == ["system", "user", "assistant"]
    finally:
        store.close()
    assert not list((ws / "runs").iterdir())  # the checkout is removed


def test_json_output_and_keep_worktree(py_repo: Path, tmp_path: Path) -> None:
    task = tmp_path / "task.md"
    task.write_text("Problem related to `parse_config` in `pkg/mod.py`.")
    r = sera(tmp_path / "ws", "rollout", "--repo", str(py_repo), "--provider", "demo", "--task-file", str(task),
             "--json", "--keep-worktree")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["exit_reason"] == "submitted" and "parse_config" in out["patch"]
    assert Path(out["worktree"], "pkg", "mod.py").read_text() != (py_repo / "pkg" / "mod.py").read_text()


@pytest.mark.parametrize("args, message", [
    ([], "exactly one of --task"),
    (["--task", "x", "--task-file", "f"], "exactly one of --task"),
    (["--task", "x", "--provider", "bedrock"], "unknown --provider"),
    (["--task", "x"], "--model is required"),
    (["--task", "x", "--provider", "demo", "--sandbox", "vm"], "unknown --sandbox"),
    (["--task", "x", "--provider", "demo", "--step-limit", "0"], "--step-limit"),
    (["--task", "   ", "--provider", "demo"], "task text is empty"),
    (["--task-file", "/no/such/file", "--provider", "demo"], "cannot read --task-file"),
])
def test_bad_input_is_a_one_line_error(py_repo: Path, tmp_path: Path, args, message) -> None:
    from typer.testing import CliRunner

    from sera_tui.cli import app

    r = CliRunner().invoke(app, ["-w", str(tmp_path / "ws"), "rollout", "--repo", str(py_repo), *args])
    assert r.exit_code == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_not_a_repo_or_commit(tmp_path: Path, py_repo: Path) -> None:
    from typer.testing import CliRunner

    from sera_tui.cli import app

    (tmp_path / "plain").mkdir()
    base = ["-w", str(tmp_path / "ws"), "rollout", "--provider", "demo", "--task", "x", "--repo"]
    r = CliRunner().invoke(app, [*base, str(tmp_path / "plain")])
    assert r.exit_code == 2 and "not a git repository" in r.stderr
    r = CliRunner().invoke(app, [*base, str(py_repo), "--base-commit", "nope"])
    assert r.exit_code == 2 and "not a commit" in r.stderr


@pytest.mark.slow
def test_sigkill_mid_run_loses_no_persisted_message(py_repo: Path, tmp_path: Path, server) -> None:
    counter = iter(range(10**6))
    srv = server(lambda req: tool_call_reply("bash", {"command": f"echo step-{next(counter)}"}, delay_s=0.15))
    ws = tmp_path / "ws"
    env = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="200")
    proc = subprocess.Popen([sys.executable, "-m", "sera_tui.cli", "-w", str(ws), "rollout", "--repo", str(py_repo),
                             "--model", "m", "--base-url", srv.base_url, "--task", "loop forever"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    printed: list[int] = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        m = re.match(r"\[(\d+)\] ", line)
        if m:
            printed.append(int(m.group(1)))
        if printed and printed[-1] >= 15:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL and printed[-1] >= 15
    store = Workspace(ws).open_store()  # the killed writer's WAL is replayed
    try:
        (ro,) = list_rollouts(store)
        assert ro.status == "running" and ro.exit_reason is None  # it never got to finish
        stored = get_messages(store, ro.id)
        assert len(stored) >= printed[-1] + 1  # every message shown (and so written) is there
        for i, m in enumerate(stored[2:], 2):
            assert m.role == ("assistant" if i % 2 == 0 else "tool")
        assert [m.content for m in stored if m.role == "tool"][:5] == [f"step-{i}\n" for i in range(5)]
        assert ro.steps >= (printed[-1] - 1) // 2  # running totals were kept too
    finally:
        store.close()
