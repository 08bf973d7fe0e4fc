"""Fixtures shared by every test area. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.workspace import Workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws").ensure()


@pytest.fixture
def store(workspace: Workspace):
    s = workspace.open_store()
    yield s
    s.close()


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def make_repo(tmp_path: Path):
    """make_repo({"pkg/mod.py": "..."}) -> path of a git repo with one commit holding those files."""

    def _make(files: dict[str, str], name: str = "repo") -> Path:
        root = tmp_path / name
        root.mkdir(parents=True)
        git(root, "init", "-q", "-b", "main")
        git(root, "config", "user.email", "t@example.com")
        git(root, "config", "user.name", "Test")
        for rel, text in files.items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "initial")
        return root

    return _make
