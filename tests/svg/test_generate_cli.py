"""`sera generate` from the command line: JSON events, bad input as one line, --list-categories."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.svg.teacher import Scenario, ScriptedTeacher


def sera(ws: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sera_tui.cli", "--workspace", str(ws), *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def registered(tmp_path: Path, make_repo) -> Path:
    repo = make_repo({"ops.py": "def op(x):\n    value = x + 1\n    return value\n"}, name="ops")
    ws = tmp_path / "ws"
    assert sera(ws, "repo", "add", str(repo)).returncode == 0
    return ws


def test_json_events_one_per_line(registered: Path) -> None:
    from engine.loopback import ScriptedOpenAIServer

    teacher = ScriptedTeacher({"op": Scenario("ops.py", "    value = x + 1", "    value = x + 2")})
    with ScriptedOpenAIServer(teacher, model="m") as server:
        r = sera(registered, "generate", "--repo", "ops", "--pairs", "1", "--model", "m",
                 "--base-url", server.base_url, "--json")
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunFinished"
    for k in ("TaskStarted", "RolloutStarted", "MessageAdded", "RolloutFinished", "PRWritten", "PairScored"):
        assert k in kinds
    assert events[-1]["summary"]["kept"] == 1


@pytest.mark.parametrize(("args", "message"), [
    (["--repo", "nope", "--model", "m", "--base-url", "http://127.0.0.1:9/v1"], "no repo named 'nope'"),
    (["--repo", "ops", "--model", "m", "--base-url", "http://127.0.0.1:9/v1"], "no teacher server answering"),
    (["--repo", "ops", "--base-url", "http://127.0.0.1:9/v1"], "--model is required"),
    (["--repo", "ops", "--model", "m"], "--base-url"),
    (["--model", "m"], "--repo is required"),
    (["--resume", "42"], "no run with id 42"),
    (["--repo", "ops", "--provider", "demo", "--categories", "bogus"], "unknown category: bogus"),
    (["--repo", "ops", "--provider", "demo", "--threshold", "2"], "--threshold"),
])
def test_bad_input_is_one_line_exit_2(registered: Path, args: list[str], message: str) -> None:
    r = sera(registered, "generate", *args)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_list_categories(tmp_path: Path) -> None:
    r = sera(tmp_path / "ws", "generate", "--list-categories", "--json")
    ids = [json.loads(line)["id"] for line in r.stdout.splitlines()]
    assert len(ids) >= 51 and "generic" in ids
