"""A private checkout of the user's repo for one rollout.

The checkout is a fresh repository that borrows the user's objects through `alternates` (what
`git clone --shared` sets up), built with one git process instead of a clone's five: at 16
rollouts in flight every spawned process is time on the critical path. The user's repository gets
no worktree metadata at all, nothing is copied (the sandbox mounts the borrowed object directory
read-only, so no command can alter it; hard links would share inodes a command could write into),
and the checkout has no remote, so nothing run inside can push back.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from engine.sandbox.base import SandboxError, git, remove_tree

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_LITTER = ("__pycache__/", "*.pyc", "*.pyo", ".pytest_cache/", "*.egg-info/", ".mypy_cache/", ".ruff_cache/")
_FULL_SHA = re.compile(r"[0-9a-f]{40}")
_CONFIG = ("[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n"
           "[user]\n\temail = sera@localhost\n\tname = SERA sandbox\n")  # commits made inside need an identity


def resolve_commit(repo_path: Path, ref: str) -> str:
    if _FULL_SHA.fullmatch(ref):
        return _resolve_sha(str(Path(repo_path).resolve()), ref)
    return _resolve(Path(repo_path), ref)


@functools.lru_cache(maxsize=256)
def _resolve_sha(repo_path: str, sha: str) -> str:
    # A commit id names the same commit forever: a run's rollouts ask once, not once per checkout.
    return _resolve(Path(repo_path), sha)


def _resolve(repo_path: Path, ref: str) -> str:
    if not (Path(repo_path) / ".git").exists() and not git(Path(repo_path), "rev-parse", "--git-dir",
                                                          check=False).strip():
        raise SandboxError(f"{repo_path} is not a git repository")
    out = git(Path(repo_path), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).strip()
    if not out:
        raise SandboxError(f"{ref!r} is not a commit in {repo_path}")
    return out


@functools.lru_cache(maxsize=256)
def objects_dir(repo_path: str) -> Path:
    """The object directory of the repo at `repo_path` (shared by all its worktrees)."""
    common = git(Path(repo_path), "rev-parse", "--path-format=absolute", "--git-common-dir").strip()
    return Path(common) / "objects"


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


def reserve_checkout(runs_dir: Path, name: str) -> Path:
    """An empty directory runs_dir/name (name-2, name-3 … when taken), created now so two rollouts
    can never pick the same one."""
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    base = _SAFE.sub("-", name).strip("-") or "rollout"
    dest, n = runs_dir / base, 1
    while True:
        try:
            dest.mkdir()
            return dest
        except FileExistsError:
            n += 1
            dest = runs_dir / f"{base}-{n}"
        except FileNotFoundError:  # another run removed the (empty) runs dir just now
            runs_dir.mkdir(parents=True, exist_ok=True)


def _init_git_dir(dot_git: Path, objects: Path) -> None:
    """What `git init --template=` writes (a git process less per checkout), borrowing `objects`."""
    for d in ("objects/info", "objects/pack", "refs/heads", "refs/tags", "info"):
        (dot_git / d).mkdir(parents=True, exist_ok=True)
    (dot_git / "HEAD").write_text("ref: refs/heads/main\n")
    (dot_git / "config").write_text(_CONFIG)
    (dot_git / "objects" / "info" / "alternates").write_text(f"{objects}\n")
    # Build litter (py_compile, pytest, pip) never belongs in the patch; this file is the clone's own.
    (dot_git / "info" / "exclude").write_text("\n".join(_LITTER) + "\n")


def make_checkout(repo_path: Path, base_commit: str, runs_dir: Path, name: str,
                  dest: Path | None = None) -> tuple[Path, str]:
    """Check `repo_path` out at `base_commit` (detached) into `dest` (an empty directory from
    reserve_checkout) or a new runs_dir/name. Returns (path, full sha)."""
    repo_path = Path(repo_path).resolve()
    try:
        if not repo_path.is_dir():
            raise SandboxError(f"{repo_path} is not a directory")
        sha = resolve_commit(repo_path, base_commit)
    except SandboxError:
        if dest is not None:
            remove_tree(dest)
        raise
    if dest is None:
        dest = reserve_checkout(Path(runs_dir), name)
    try:
        _init_git_dir(dest / ".git", objects_dir(str(repo_path)))
        git(dest, "checkout", "--quiet", "--detach", sha)
    except (SandboxError, OSError) as exc:
        remove_tree(dest)
        if isinstance(exc, OSError):
            raise SandboxError(f"could not set up the checkout {dest}: {exc}") from None
        raise
    return dest, sha
