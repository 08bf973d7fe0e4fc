"""Demonstration issues: the style the synthetic PR imitates.

Sources (a run's `demonstrations` setting):
- "builtin"        the issues in engine/data/demonstrations/ (written by us);
- "file:PATH"      a user file: issues separated by a line holding only `---`, or JSONL with "text";
- "git"            issue-like commit messages mined from the repo's own history.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


class DemoError(Exception):
    pass


@dataclass(frozen=True)
class Demonstration:
    source: str   # "builtin:01-csv-export.md", "file:issues.md#3", "git:<sha>"
    text: str


MIN_WORDS = 25  # a commit message shorter than this says too little to imitate
_TRAILER_RE = re.compile(r"^(signed-off-by|co-authored-by|reviewed-by|change-id|cc):", re.IGNORECASE)
_NOISE_RE = re.compile(r"^(merge (branch|pull request|remote)|revert \"|bump |release |v?\d+\.\d+)", re.IGNORECASE)


def builtin_demonstrations() -> list[Demonstration]:
    folder = resources.files("engine").joinpath("data/demonstrations")
    out = [Demonstration(f"builtin:{f.name}", f.read_text().strip())
           for f in sorted(folder.iterdir(), key=lambda f: f.name) if f.name.endswith((".md", ".txt"))]
    return [d for d in out if d.text]


def file_demonstrations(path: str | Path) -> list[Demonstration]:
    p = Path(path).expanduser()
    if not p.is_file():
        raise DemoError(f"demonstrations file {p} does not exist")
    text = p.read_text(errors="replace")
    if p.suffix == ".jsonl":
        out = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DemoError(f"{p}:{n}: not JSON ({exc.msg})") from None
            body = item.get("text") or item.get("body") if isinstance(item, dict) else None
            if body:
                out.append(Demonstration(f"file:{p.name}#{n}", str(body).strip()))
    else:
        parts = [t.strip() for t in re.split(r"^\s*---\s*$", text, flags=re.MULTILINE)]
        out = [Demonstration(f"file:{p.name}#{i + 1}", t) for i, t in enumerate(parts) if t]
    if not out:
        raise DemoError(f"{p} holds no demonstration text")
    return out


def _clean_commit_message(message: str) -> str:
    lines = [ln for ln in message.strip().splitlines() if not _TRAILER_RE.match(ln.strip())]
    return "\n".join(lines).strip()


def git_demonstrations(repo_path: str | Path, *, max_commits: int = 500,
                       min_words: int = MIN_WORDS) -> list[Demonstration]:
    """Commit messages of the repo's history that read like an issue (enough words, not a merge)."""
    from engine.repo import open_repo

    repo = open_repo(repo_path)
    out = []
    for c in repo.iter_commits("HEAD", max_count=max_commits, no_merges=True):
        msg = _clean_commit_message(str(c.message))
        if _NOISE_RE.match(msg) or len(msg.split()) < min_words:
            continue
        out.append(Demonstration(f"git:{c.hexsha[:12]}", msg))
    return out


def load_demonstrations(spec: str, repo_path: str | Path | None = None) -> list[Demonstration]:
    spec = (spec or "builtin").strip()
    if spec == "builtin":
        return builtin_demonstrations()
    if spec.startswith("file:"):
        return file_demonstrations(spec[5:])
    if spec == "git":
        if repo_path is None:
            raise DemoError("demonstrations 'git' needs a repository")
        found = git_demonstrations(repo_path)
        if not found:
            raise DemoError(f"no commit message in {repo_path} has {MIN_WORDS}+ words to use as a demonstration;"
                            " use 'builtin' or 'file:PATH'")
        return found
    raise DemoError(f"unknown demonstrations source {spec!r} (builtin, git or file:PATH)")


def pick_demonstration(demos: list[Demonstration], rng: random.Random) -> Demonstration:
    return demos[rng.randrange(len(demos))]
