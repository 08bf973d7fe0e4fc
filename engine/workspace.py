"""Where a workspace keeps its files: the database, rollout worktrees, exports, training runs.

Default root is ./.sera (override with --workspace or SERA_WORKSPACE).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from store import Store


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def default(cls, root: str | Path | None = None) -> "Workspace":
        root = root or os.environ.get("SERA_WORKSPACE") or ".sera"
        return cls(Path(root).expanduser().resolve())

    @property
    def db_path(self) -> Path:
        return self.root / "sera.duckdb"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def repos_dir(self) -> Path:
        return self.root / "repos"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def train_dir(self) -> Path:
        return self.root / "train"

    @property
    def config_path(self) -> Path:
        return self.root / "config.toml"

    def ensure(self) -> "Workspace":
        for p in (self.root, self.runs_dir, self.exports_dir):
            p.mkdir(parents=True, exist_ok=True)
        return self

    def open_store(self, *, read_only: bool = False, snapshot_if_locked: bool = False) -> Store:
        if not read_only:
            self.ensure()
        return Store.open(self.db_path, read_only=read_only, snapshot_if_locked=snapshot_if_locked)
