"""The `docker` backend: a long-lived container per rollout (network disabled) with the checkout
mounted at /testbed; commands run with `docker exec` under coreutils `timeout`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from engine.sandbox.base import CommandResult, Sandbox, SandboxError
from engine.sandbox.checkout import alternates

DEFAULT_IMAGE = "python:3.11-slim"


def docker_client():
    """A connected docker client, or SandboxError saying why not."""
    try:
        import docker

        client = docker.from_env()
        client.ping()
        return client
    except Exception as exc:  # any failure means "no usable daemon"
        raise SandboxError(f"no Docker daemon answers ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})") \
            from None


class DockerSandbox(Sandbox):
    backend = "docker"

    def __init__(self, root: Path, base_commit: str, name: str, *, image: str = DEFAULT_IMAGE):
        super().__init__(root, base_commit, "/testbed", name)
        self._client = docker_client()
        try:
            self._container = self._client.containers.run(
                image, ["sleep", "infinity"], detach=True, network_disabled=True, working_dir="/testbed",
                volumes={str(Path(root).resolve()): {"bind": "/testbed", "mode": "rw"},
                         **{str(p): {"bind": str(p), "mode": "ro"} for p in alternates(Path(root))}},
                environment={"PYTHONDONTWRITEBYTECODE": "1",
                             "PAGER": "cat", "GIT_PAGER": "cat", "TERM": "dumb"},
                name=f"sera-{name}-{int(time.time())}", auto_remove=False)
        except Exception as exc:
            raise SandboxError(f"cannot start container from {image}: {exc}") from None

    async def run(self, command: str, timeout_s: float) -> CommandResult:
        t0 = time.perf_counter()
        argv = ["timeout", "-s", "KILL", str(max(1, int(timeout_s))), "bash", "-c", command]

        def go():
            return self._container.exec_run(argv, workdir="/testbed", demux=False)

        try:
            res = await asyncio.to_thread(go)
        except Exception as exc:
            raise SandboxError(f"docker exec failed: {exc}") from None
        timed_out = res.exit_code == 137
        return CommandResult(-9 if timed_out else res.exit_code,
                             (res.output or b"").decode("utf-8", errors="replace"), timed_out,
                             (time.perf_counter() - t0) * 1000)

    def close(self, keep: bool = False) -> None:
        try:
            self._container.remove(force=True)
        except Exception:  # already gone
            pass
        super().close(keep)
