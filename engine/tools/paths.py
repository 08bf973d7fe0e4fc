"""Mapping the paths a model writes (under the sandbox's display root) onto the worktree on disk.

Anything that resolves outside the worktree (`..`, other absolute paths, symlinks that escape) is
refused, and so is the repository's .git directory.
"""

from __future__ import annotations

import posixpath
from pathlib import Path


class ToolError(Exception):
    """A tool call that could not be carried out; the message goes back to the model."""


class PathMapper:
    def __init__(self, root: Path, display_root: str):
        self.root = Path(root)
        self.real_root = self.root.resolve()
        self.display_root = display_root.rstrip("/") or "/"

    def to_host(self, path: str) -> Path:
        if not isinstance(path, str) or not path.strip():
            raise ToolError("`path` must be a non-empty string")
        p = path.strip()
        rel: str | None
        if p.startswith("/"):
            norm = posixpath.normpath(p)
            rel = None
            for base in (self.display_root, str(self.root), str(self.real_root)):
                if norm == base:
                    rel = ""
                    break
                if norm.startswith(base.rstrip("/") + "/"):
                    rel = norm[len(base.rstrip("/")) + 1:]
                    break
            if rel is None:
                raise ToolError(f"The path {path} is outside the repository ({self.display_root}); "
                                f"only paths inside it can be viewed or edited.")
        else:
            rel = p
        host = (self.real_root / rel).resolve()
        if host != self.real_root and not host.is_relative_to(self.real_root):
            raise ToolError(f"The path {path} resolves outside the repository ({self.display_root}); "
                            f"only paths inside it can be viewed or edited.")
        inner = host.relative_to(self.real_root).parts
        if inner and inner[0] == ".git":
            raise ToolError(f"The path {path} is inside .git; edit the repository's files, not its metadata.")
        return host

    def to_display(self, host: Path) -> str:
        rel = Path(host).resolve().relative_to(self.real_root).as_posix()
        if rel in ("", "."):
            return self.display_root
        return posixpath.join(self.display_root, rel)
