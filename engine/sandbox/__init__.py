"""Sandboxes: one private checkout per rollout, commands isolated (bubblewrap locally, or docker)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from engine.sandbox.base import CommandResult, Sandbox, SandboxError, remove_tree
from engine.sandbox.checkout import make_checkout, reserve_checkout, resolve_commit
from engine.sandbox.pending import PendingSandbox


def create_sandbox(repo_path: str | Path, base_commit: str, runs_dir: str | Path, backend: str = "local",
                   name: str | None = None, *, image: str | None = None,
                   isolate: bool | None = None, root: Path | None = None) -> Sandbox:
    """A fresh checkout of `repo_path` at `base_commit` under `runs_dir`, with the chosen backend.

    local: bubblewrap when it works here (isolate=None: auto; True: required; False: plain subprocess).
    docker: `image` (default python:3.11-slim), network disabled.
    root: an empty directory from reserve_checkout to check out into (default: a new one).
    """
    if backend not in ("local", "docker"):
        raise SandboxError(f"unknown sandbox backend {backend!r} (use local or docker)")
    name = name or f"rollout-{uuid.uuid4().hex[:8]}"
    if backend == "docker":
        from engine.sandbox.docker import DEFAULT_IMAGE, DockerSandbox, docker_client

        try:
            docker_client()  # fail before cloning when there is no daemon
        except BaseException:
            if root is not None:
                remove_tree(root)
            raise
    root, sha = make_checkout(Path(repo_path), base_commit, Path(runs_dir), name, dest=root)
    try:
        if backend == "docker":
            return DockerSandbox(root, sha, root.name, image=image or DEFAULT_IMAGE)
        from engine.sandbox.local import LocalSandbox

        return LocalSandbox(root, sha, root.name, isolate=isolate)
    except BaseException:
        remove_tree(root)
        raise


def start_sandbox(repo_path: str | Path, base_commit: str, runs_dir: str | Path, backend: str = "local",
                  name: str | None = None, *, run: Callable[..., Awaitable[Sandbox]]) -> PendingSandbox:
    """Reserve the checkout's directory and return at once; `run(create_sandbox, **kwargs)` makes
    it in the background (e.g. on a thread pool). Call from a running event loop."""
    if backend not in ("local", "docker"):
        raise SandboxError(f"unknown sandbox backend {backend!r} (use local or docker)")
    name = name or f"rollout-{uuid.uuid4().hex[:8]}"
    root = reserve_checkout(Path(runs_dir), name)
    if backend == "docker":
        display = "/testbed"
    else:
        from engine.sandbox.local import DISPLAY_ROOT, bwrap_works

        display = DISPLAY_ROOT if bwrap_works() else str(root.resolve())  # what LocalSandbox will pick
    job = asyncio.ensure_future(run(create_sandbox, repo_path, base_commit, runs_dir, backend, name, root=root))
    return PendingSandbox(root, base_commit, display, root.name, backend, job)


__all__ = ["CommandResult", "PendingSandbox", "Sandbox", "SandboxError", "create_sandbox", "remove_tree",
           "resolve_commit", "start_sandbox"]
