"""`sera repo add/list`: registration and its error cases, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git


def sera(ws: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sera_tui.cli", "--workspace", str(ws), *args],
                          capture_output=True, text=True, timeout=60)


def test_add_dirty_repo_and_list(tmp_path: Path, make_repo) -> None:
    repo = make_repo({"app/main.py": "def f():\n    return 1\n", "web/x.ts": "export const a = 1;\n"})
    (repo / "app" / "main.py").write_text("def f():\n    return 2\n")  # dirty: fine, HEAD is used
    ws = tmp_path / "ws"
    r = sera(ws, "repo", "add", str(repo), "--name", "demo", "--test-cmd", "pytest -q", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["name"] == "demo" and info["dirty"] is True
    assert info["head_commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert info["languages"] == {"python": 1, "typescript": 1}
    assert "committed HEAD" in info["notice"]
    human = sera(ws, "repo", "add", str(repo), "--name", "demo")
    assert "uncommitted changes" in human.stdout and "committed HEAD" in human.stdout
    listed = [json.loads(line) for line in sera(ws, "repo", "list", "--json").stdout.splitlines()]
    assert [(x["name"], x["test_cmd"]) for x in listed] == [("demo", "pytest -q")]


@pytest.mark.parametrize("kind", ["missing", "file", "not_git", "empty", "bare", "subdir"])
def test_add_errors_are_one_line_and_register_nothing(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "target"
    if kind == "file":
        target.write_text("x")
    elif kind == "not_git":
        target.mkdir()
    elif kind == "empty":
        target.mkdir()
        git(target, "init", "-q")
    elif kind == "bare":
        git(tmp_path, "init", "-q", "--bare", str(target))
    elif kind == "subdir":
        (tmp_path / "outer").mkdir()
        git(tmp_path / "outer", "init", "-q")
        target = tmp_path / "outer" / "pkg"
        target.mkdir()
    ws = tmp_path / "ws"
    r = sera(ws, "repo", "add", str(target))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sera: error:")
    expected = {"missing": "does not exist", "file": "not a directory", "not_git": "not a git repository",
                "empty": "no commits yet", "bare": "bare repository",
                "subdir": "give its top-level folder"}[kind]
    assert expected in lines[0]
    assert "no repositories" in sera(ws, "repo", "list").stdout
