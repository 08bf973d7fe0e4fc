"""What every sandbox offers the agent: run a command, map paths, produce the patch, clean up."""

from __future__ import annotations

import asyncio
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path


class SandboxError(Exception):
    """The sandbox itself failed (not the command run in it): the rollout ends as `sandbox_error`."""


@dataclass
class CommandResult:
    exit_code: int  # -9 (SIGKILL) when timed out
    output: str  # stdout and stderr interleaved
    timed_out: bool
    duration_ms: float


_TRUSTED_GIT_FILES = ("config", "objects/info/alternates", "info/exclude")
_UNTRUSTED_GIT_FILES = ("info/attributes", "commondir", "config.worktree")


def git(cwd: Path, *args: str, check: bool = True, input: str | None = None,
        env: dict[str, str] | None = None) -> str:
    r = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, input=input,
                       env=env or _git_env())
    if check and r.returncode != 0:
        raise SandboxError(f"git {' '.join(args[:3])} failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
    return r.stdout


def _git_env() -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


class Sandbox:
    """A private checkout of the repo at `base_commit`, at `root` on disk, seen by the model as `display_root`."""

    backend = "base"

    def __init__(self, root: Path, base_commit: str, display_root: str, name: str):
        self.root = Path(root)
        self.base_commit = base_commit
        self.display_root = display_root
        self.name = name
        self.closed = False
        # Commands can rewrite .git; the host-side git that computes the patch must not obey them
        # (a filter driver or fsmonitor in .git/config would run unsandboxed). Keep the originals;
        # the user's own global config stays trusted.
        self._git_files = {rel: (self.root / ".git" / rel).read_bytes() for rel in _TRUSTED_GIT_FILES
                           if (self.root / ".git" / rel).is_file()}

    async def ready(self) -> Sandbox:
        """The sandbox, once its checkout exists (at once here; see PendingSandbox)."""
        return self

    async def run(self, command: str, timeout_s: float) -> CommandResult:
        raise NotImplementedError

    def prewarm(self) -> None:
        """Get ready for the next command while the model thinks (a backend with a costly start
        overrides it). Call on the event loop; never blocks."""

    async def discard_prewarm(self) -> None:
        """No command is coming (the rollout ended): stop what prewarm() started."""

    def patch(self, exclude: list[str] | tuple[str, ...] = ()) -> str:
        """`git add -A && git diff --cached <base_commit>`: new files included, `exclude` paths left out."""
        if self.closed:
            raise SandboxError("the sandbox is closed")
        self._restore_git_metadata()
        gd = ["--git-dir", str(self.root / ".git"), "--work-tree", str(self.root),
              "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "core.quotepath=off"]
        git(self.root, *gd, "add", "-A")
        specs = ["--", "."] + [f":(exclude){p}" for p in exclude]
        return git(self.root, *gd, "diff", "--cached", "--no-color", "--no-ext-diff", "--no-textconv",
                   self.base_commit, *specs)

    def _restore_git_metadata(self) -> None:
        dot_git = self.root / ".git"
        if dot_git.is_symlink() or not dot_git.is_dir():
            raise SandboxError("the checkout's .git directory was replaced by a command; refusing to use it")
        for rel, data in self._git_files.items():
            target = dot_git / rel
            if target.is_symlink() or target.is_dir():
                remove_tree(target) if target.is_dir() and not target.is_symlink() else target.unlink()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        for rel in _UNTRUSTED_GIT_FILES:
            p = dot_git / rel
            if p.is_symlink() or p.is_file():
                p.unlink()

    async def apatch(self, exclude: list[str] | tuple[str, ...] = ()) -> str:
        return await asyncio.to_thread(self.patch, list(exclude))

    def close(self, keep: bool = False) -> None:
        """Remove the checkout unless `keep` (then it stays for inspection)."""
        if self.closed:
            return
        self.closed = True
        if not keep:
            remove_tree(self.root)


def remove_tree(path: Path) -> None:
    def onerror(func, p, _exc):  # read-only files/dirs (git objects, chmod'ed by a command)
        if Path(p).is_symlink():  # never chmod through a link a command planted
            return
        try:
            Path(p).parent.chmod(Path(p).parent.stat().st_mode | stat.S_IWUSR | stat.S_IXUSR)
            Path(p).chmod(Path(p).stat().st_mode | stat.S_IWUSR)
            func(p)
        except OSError:
            pass

    if path.exists():
        shutil.rmtree(path, onerror=onerror)
