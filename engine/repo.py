"""Validate and describe a local git repository (what `sera repo add` registers).

The engine only ever reads the committed HEAD (never the working tree), so a dirty tree is fine.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# Extension -> language; also decides which files the sampler can parse.
LANGUAGE_BY_EXT: dict[str, str] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".go": "go", ".rs": "rust", ".java": "java",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".hpp": "cpp", ".cs": "csharp",
    ".rb": "ruby", ".php": "php", ".kt": "kotlin", ".swift": "swift", ".scala": "scala",
    ".sh": "bash", ".lua": "lua",
}


class RepoError(Exception):
    """A repository problem with a one-line message fit for the user."""


@dataclass(frozen=True)
class RepoInfo:
    path: str
    name: str
    head_commit: str
    branch: str | None
    dirty: bool
    n_files: int
    languages: dict[str, int] = field(default_factory=dict)

    @property
    def notice(self) -> str | None:
        if self.dirty:
            return ("the working tree has uncommitted changes; SERA works on the committed HEAD "
                    f"({self.head_commit[:12]}) and ignores them")
        return None


def language_of(path: str) -> str | None:
    return LANGUAGE_BY_EXT.get(os.path.splitext(path)[1].lower())


def open_repo(path: str | Path):
    """A gitpython Repo for a non-bare repository with at least one commit, else RepoError."""
    import git

    p = Path(path).expanduser()
    if not p.exists():
        raise RepoError(f"{p} does not exist")
    if not p.is_dir():
        raise RepoError(f"{p} is not a directory")
    try:
        repo = git.Repo(p, search_parent_directories=False)
    except git.InvalidGitRepositoryError:
        try:
            top = git.Repo(p, search_parent_directories=True).working_tree_dir
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            top = None
        if top:
            raise RepoError(f"{p} is inside the git repository {top}; give its top-level folder") from None
        raise RepoError(f"{p} is not a git repository (run `git init` and commit first)") from None
    except git.NoSuchPathError:
        raise RepoError(f"{p} does not exist") from None
    if repo.bare:
        raise RepoError(f"{p} is a bare repository; give the path of a clone with a working tree")
    try:
        repo.head.commit  # noqa: B018 - raises on an unborn branch
    except ValueError:
        raise RepoError(f"{p} has no commits yet; commit something first") from None
    return repo


def head_commit(path: str | Path) -> str:
    return open_repo(path).head.commit.hexsha


def committed_files(path: str | Path, commit: str = "HEAD") -> list[str]:
    """Paths of the files in `commit` (not the working tree), sorted."""
    repo = open_repo(path)
    out = repo.git.ls_tree("-r", "--name-only", "-z", commit)
    return sorted(f for f in out.split("\0") if f)


def describe_repo(path: str | Path, name: str | None = None) -> RepoInfo:
    repo = open_repo(path)
    root = Path(repo.working_tree_dir).resolve()
    files = committed_files(root)
    langs = Counter(lang for f in files if (lang := language_of(f)))
    try:
        branch: str | None = repo.active_branch.name
    except TypeError:  # detached HEAD
        branch = None
    return RepoInfo(
        path=str(root), name=name or root.name, head_commit=repo.head.commit.hexsha, branch=branch,
        dirty=repo.is_dirty(untracked_files=False), n_files=len(files),
        languages=dict(sorted(langs.items(), key=lambda kv: (-kv[1], kv[0]))),
    )
