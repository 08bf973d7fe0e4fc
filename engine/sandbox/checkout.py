"""A private checkout of the user's repo for one rollout.

We use `git clone --shared` rather than `git worktree add`: the user's repository gets no worktree
metadata at all, nothing is copied (the clone reads the user's objects through `alternates`, which
the sandbox mounts read-only, so no command can alter them; hard links would share inodes a command
could write into), and the clone's `origin` remote is removed so nothing run inside can push back.
"""

from __future__ import annotations

import re
from pathlib import Path

from engine.sandbox.base import SandboxError, git, remove_tree

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_LITTER = ("__pycache__/", "*.pyc", "*.pyo", ".pytest_cache/", "*.egg-info/", ".mypy_cache/", ".ruff_cache/")


def resolve_commit(repo_path: Path, ref: str) -> str:
    if not (Path(repo_path) / ".git").exists() and not git(Path(repo_path), "rev-parse", "--git-dir",
                                                          check=False).strip():
        raise SandboxError(f"{repo_path} is not a git repository")
    out = git(Path(repo_path), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).strip()
    if not out:
        raise SandboxError(f"{ref!r} is not a commit in {repo_path}")
    return out


def alternates(checkout: Path) -> list[Path]:
    """Object directories the checkout borrows from (the sandbox mounts them read-only)."""
    f = checkout / ".git" / "objects" / "info" / "alternates"
    if not f.exists():
        return []
    out = []
    for line in f.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            p = Path(line) if Path(line).is_absolute() else (f.parent.parent / line)
            out.append(p.resolve())
    return out


def make_checkout(repo_path: Path, base_commit: str, runs_dir: Path, name: str) -> tuple[Path, str]:
    """Clone `repo_path` into runs_dir/name at `base_commit` (detached). Returns (path, full sha)."""
    repo_path = Path(repo_path).resolve()
    if not repo_path.is_dir():
        raise SandboxError(f"{repo_path} is not a directory")
    sha = resolve_commit(repo_path, base_commit)
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    base = _SAFE.sub("-", name).strip("-") or "rollout"
    dest, n = runs_dir / base, 1
    while dest.exists():
        n += 1
        dest = runs_dir / f"{base}-{n}"
    try:
        git(runs_dir, "clone", "--quiet", "--no-checkout", "--shared", str(repo_path), str(dest))
        git(dest, "checkout", "--quiet", "--detach", sha)
        git(dest, "remote", "remove", "origin")
        git(dest, "config", "user.email", "sera@localhost")
        git(dest, "config", "user.name", "SERA sandbox")
        # Build litter (py_compile, pytest, pip) never belongs in the patch; this file is the clone's own.
        (dest / ".git" / "info").mkdir(exist_ok=True)
        with open(dest / ".git" / "info" / "exclude", "a") as f:
            f.write("\n".join(_LITTER) + "\n")
    except SandboxError:
        remove_tree(dest)
        raise
    return dest, sha
