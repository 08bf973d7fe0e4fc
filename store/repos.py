"""Queries for registered repositories."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from store.db import Store, StoreError


@dataclass(frozen=True)
class RepoRow:
    id: int
    name: str
    path: str
    head_commit: str | None
    test_cmd: str | None
    languages: dict[str, int]
    added_at: datetime | None


def _row(d: dict) -> RepoRow:
    langs = d.get("languages")
    return RepoRow(d["id"], d["name"], d["path"], d["head_commit"], d["test_cmd"],
                   json.loads(langs) if isinstance(langs, str) else (langs or {}), d["added_at"])


def add_repo(store: Store, name: str, path: str, head_commit: str | None, test_cmd: str | None = None,
             languages: dict[str, int] | None = None) -> RepoRow:
    """Register a repo, or update path/HEAD/test command of one with the same name."""
    existing = get_repo(store, name)
    if existing:
        store.execute(
            "UPDATE repos SET path=?, head_commit=?, test_cmd=coalesce(?, test_cmd), languages=? WHERE id=?",
            [path, head_commit, test_cmd, json.dumps(languages or {}), existing.id],
        )
    else:
        store.execute(
            "INSERT INTO repos (name, path, head_commit, test_cmd, languages) VALUES (?, ?, ?, ?, ?)",
            [name, path, head_commit, test_cmd, json.dumps(languages or {})],
        )
    repo = get_repo(store, name)
    assert repo is not None
    return repo


def get_repo(store: Store, name_or_id: str | int) -> RepoRow | None:
    if isinstance(name_or_id, int):
        rows = store.fetchdicts("SELECT * FROM repos WHERE id=?", [name_or_id])
    else:
        rows = store.fetchdicts("SELECT * FROM repos WHERE name=?", [name_or_id])
    return _row(rows[0]) if rows else None


def require_repo(store: Store, name_or_id: str | int) -> RepoRow:
    repo = get_repo(store, name_or_id)
    if repo is None:
        raise StoreError(f"no repo named {name_or_id!r}; add it with `sera repo add PATH`")
    return repo


def list_repos(store: Store) -> list[RepoRow]:
    return [_row(d) for d in store.fetchdicts("SELECT * FROM repos ORDER BY name")]
