"""Evaluation tasks: held-out SVG pairs of a repo, or a JSONL task file.

Task file lines: {"id", "repo" (a path or a registered repo name), "base_commit", "task_text",
"reference_patch", "test_cmd"?}.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from store import evals as q
from store.db import Store
from store.repos import get_repo


class EvalTaskError(ValueError):
    """A bad task file or an empty task set; the message is fit for the user."""


@dataclass(frozen=True)
class EvalTask:
    ref: str                      # stable id shown in reports (task file id, or "task-<id>")
    repo_path: str
    base_commit: str
    task_text: str
    reference_patch: str
    test_cmd: str | None = None
    task_id: int | None = None    # tasks.id for held-out SVG pairs
    repo_id: int | None = None


def heldout_tasks(store: Store, repo_name: str) -> list[EvalTask]:
    repo = get_repo(store, repo_name)
    if repo is None:
        raise EvalTaskError(f"no repo named {repo_name!r}; add it with `sera repo add PATH`")
    rows = q.heldout_eval_tasks(store, repo.id)
    if not rows:
        raise EvalTaskError(f"repo {repo_name!r} has no held-out tasks; draw a split with --heldout-fraction "
                            "(it needs generated pairs with an accepted PR)")
    return [EvalTask(ref=f"task-{r['task_id']}", repo_path=repo.path,
                     base_commit=r["base_commit"] or repo.head_commit or "HEAD", task_text=r["task_text"] or "",
                     reference_patch=r["reference_patch"] or "", test_cmd=repo.test_cmd, task_id=r["task_id"],
                     repo_id=repo.id) for r in rows]


def load_task_file(path: str | Path, store: Store | None = None) -> list[EvalTask]:
    path = Path(path)
    if not path.is_file():
        raise EvalTaskError(f"no task file at {path}")
    tasks: list[EvalTask] = []
    seen: set[str] = set()
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            d = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalTaskError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(d, dict):
            raise EvalTaskError(f"{where}: each line must be a JSON object")
        missing = [k for k in ("id", "repo", "base_commit", "task_text", "reference_patch") if not d.get(k)]
        if missing:
            raise EvalTaskError(f"{where}: missing {', '.join(missing)}")
        ref = str(d["id"])
        if ref in seen:
            raise EvalTaskError(f"{where}: duplicate task id {ref!r}")
        seen.add(ref)
        repo_path, repo_id, test_cmd = _resolve_repo(str(d["repo"]), path.parent, store, where)
        tasks.append(EvalTask(ref=ref, repo_path=repo_path, base_commit=str(d["base_commit"]),
                              task_text=str(d["task_text"]), reference_patch=str(d["reference_patch"]),
                              test_cmd=d.get("test_cmd") or test_cmd, repo_id=repo_id))
    if not tasks:
        raise EvalTaskError(f"{path} holds no tasks")
    return tasks


def _resolve_repo(repo: str, base: Path, store: Store | None, where: str) -> tuple[str, int | None, str | None]:
    p = Path(repo).expanduser()
    p = p if p.is_absolute() else base / p
    if (p / ".git").exists():
        return str(p.resolve()), None, None
    row = get_repo(store, repo) if store is not None else None
    if row is not None:
        return row.path, row.id, row.test_cmd
    raise EvalTaskError(f"{where}: repo {repo!r} is neither a git checkout nor a registered repo name")
