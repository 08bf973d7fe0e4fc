"""Install the bundled sample repository (engine/sample_repo) into a workspace for `sera demo`."""

from __future__ import annotations

import shutil
import subprocess
from importlib import resources
from pathlib import Path

from engine.repo import RepoError, describe_repo
from engine.workspace import Workspace
from store.db import Store
from store.repos import RepoRow, add_repo, get_repo

SAMPLE_NAME = "tally"
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


def sample_source() -> Path:
    return Path(str(resources.files("engine").joinpath("sample_repo")))


def _git(cwd: Path, *args: str) -> None:
    # A fixed identity and date: the sample's single commit is the same everywhere.
    env = {"GIT_AUTHOR_NAME": "SERA demo", "GIT_AUTHOR_EMAIL": "demo@sera.local",
           "GIT_COMMITTER_NAME": "SERA demo", "GIT_COMMITTER_EMAIL": "demo@sera.local",
           "GIT_AUTHOR_DATE": "2025-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2025-01-01T00:00:00Z",
           "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(cwd)}
    r = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise RepoError(f"git {args[0]} failed in {cwd}: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")


def install_sample_repo(workspace: Workspace, store: Store, name: str = SAMPLE_NAME) -> RepoRow:
    """Copy the sample into <workspace>/repos/<name> as a fresh one-commit git repo and register it.

    An existing, valid copy is reused (so repeated demos accumulate runs on the same commit).
    """
    dest = workspace.repos_dir / name
    existing = get_repo(store, name)
    if existing and Path(existing.path) == dest.resolve():
        try:
            info = describe_repo(dest, name)
            return add_repo(store, name, info.path, info.head_commit, existing.test_cmd, info.languages)
        except RepoError:
            pass  # broken copy: rebuild it below
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(sample_source(), dest, ignore=_IGNORE)
    _git(dest, "init", "-q", "-b", "main")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "tally 0.3.0: inventory, pricing, dates, text and cache helpers")
    info = describe_repo(dest, name)
    return add_repo(store, name, info.path, info.head_commit, "python -m pytest -q", info.languages)
