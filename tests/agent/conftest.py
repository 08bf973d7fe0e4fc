"""Fixtures for the agent runtime tests: a small Python repo, sandboxes that clean up, a scripted server."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from engine.loopback import ScriptedOpenAIServer
from engine.sandbox import create_sandbox

MOD = '''import os


def parse_config(path, strict=False):
    data = open(path).read()
    return data.split("\\n")


class Loader:
    def load(self, name):
        """Load a thing."""
        return name.upper()


def total(values):
    return sum(values)
'''

FILES = {"pkg/__init__.py": "", "pkg/mod.py": MOD, "README.md": "demo repo\n"}


@pytest.fixture
def py_repo(make_repo) -> Path:
    return make_repo(dict(FILES))


@pytest.fixture
def sandboxes(workspace):
    """sandboxes(repo, **kw) -> a local Sandbox at HEAD; all closed at teardown."""
    made = []

    def _make(repo: Path, base: str = "HEAD", **kw):
        sb = create_sandbox(repo, base, workspace.runs_dir, kw.pop("backend", "local"), kw.pop("name", None), **kw)
        made.append(sb)
        return sb

    yield _make
    for sb in made:
        sb.close()


@pytest.fixture
def server():
    """server(script_or_responder) -> a started ScriptedOpenAIServer, stopped at teardown."""
    started = []

    def _start(script, **kw):
        s = ScriptedOpenAIServer(script, **kw).start()
        started.append(s)
        return s

    yield _start
    for s in started:
        s.stop()


def repo_state(repo: Path) -> str:
    """A hash of everything a user would notice: HEAD, refs, index, stash, status, worktree list, files."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True).stdout

    h = hashlib.sha256()
    for part in (git("rev-parse", "HEAD"), git("symbolic-ref", "-q", "HEAD"), git("for-each-ref"),
                 git("ls-files", "--stage"), git("stash", "list"), git("status", "--porcelain", "--ignored"),
                 git("worktree", "list", "--porcelain")):
        h.update(part.encode())
    index = repo / ".git" / "index"
    h.update(index.read_bytes() if index.exists() else b"")
    for p in sorted(repo.rglob("*")):
        parts = p.relative_to(repo).parts
        if not p.is_file() or (".git" in parts and parts[1:2] != ("objects",)):
            continue  # working-tree files and every object file, byte for byte
        h.update(str(p.relative_to(repo)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()
