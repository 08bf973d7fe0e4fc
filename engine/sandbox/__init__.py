"""Sandboxes: one private checkout per rollout, commands isolated (bubblewrap locally, or docker)."""

from __future__ import annotations

import uuid
from pathlib import Path

from engine.sandbox.base import CommandResult, Sandbox, SandboxError, remove_tree
from engine.sandbox.checkout import make_checkout, resolve_commit


def create_sandbox(repo_path: str | Path, base_commit: str, runs_dir: str | Path, backend: str = "local",
                   name: str | None = None, *, image: str | None = None,
                   isolate: bool | None = None) -> Sandbox:
    """A fresh checkout of `repo_path` at `base_commit` under `runs_dir`, with the chosen backend.

    local: bubblewrap when it works here (isolate=None: auto; True: required; False: plain subprocess).
    docker: `image` (default python:3.11-slim), network disabled.
    """
    if backend not in ("local", "docker"):
        raise SandboxError(f"unknown sandbox backend {backend!r} (use local or docker)")
    name = name or f"rollout-{uuid.uuid4().hex[:8]}"
    if backend == "docker":
        from engine.sandbox.docker import DEFAULT_IMAGE, DockerSandbox, docker_client

        docker_client()  # fail before cloning when there is no daemon
    root, sha = make_checkout(Path(repo_path), base_commit, Path(runs_dir), name)
    try:
        if backend == "docker":
            return DockerSandbox(root, sha, root.name, image=image or DEFAULT_IMAGE)
        from engine.sandbox.local import LocalSandbox

        return LocalSandbox(root, sha, root.name, isolate=isolate)
    except BaseException:
        remove_tree(root)
        raise


__all__ = ["CommandResult", "Sandbox", "SandboxError", "create_sandbox", "remove_tree", "resolve_commit"]
