"""A sandbox whose checkout is still being made.

Its path and the root the model sees are known before git has finished, so a rollout can send its
first model call (which only needs the prompt) while the checkout is made; every command, file
edit and patch waits for it. On a big repository that takes the checkout off the critical path
of every rollout, and with many rollouts starting at once it spreads their git work out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from engine.sandbox.base import CommandResult, Sandbox, SandboxError


class PendingSandbox(Sandbox):
    def __init__(self, root: Path, base_commit: str, display_root: str, name: str, backend: str,
                 job: asyncio.Future[Sandbox]):
        # Not Sandbox.__init__: it reads the checkout's .git, which does not exist yet.
        self.root, self.base_commit, self.display_root, self.name = Path(root), base_commit, display_root, name
        self.backend = backend
        self.closed = False
        self._job = job

    async def ready(self) -> Sandbox:
        try:
            return await asyncio.shield(self._job)
        except SandboxError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to make the checkout is a sandbox error
            raise SandboxError(f"{type(exc).__name__}: {' '.join(str(exc).split())}") from None

    def when_ready(self, callback: Callable[[], None]) -> None:
        """Call `callback()` once the checkout is made (or failed)."""
        self._job.add_done_callback(lambda _job: callback())

    def prewarm(self) -> None:
        if (made := self._made()) is not None:
            made.prewarm()

    async def discard_prewarm(self) -> None:
        if (made := self._made()) is not None:
            await made.discard_prewarm()

    async def run(self, command: str, timeout_s: float) -> CommandResult:
        return await (await self.ready()).run(command, timeout_s)

    async def apatch(self, exclude: list[str] | tuple[str, ...] = ()) -> str:
        return await (await self.ready()).apatch(exclude)

    def patch(self, exclude: list[str] | tuple[str, ...] = ()) -> str:
        return self._done().patch(exclude)

    def close(self, keep: bool = False) -> None:
        """Blocking, like Sandbox.close: call it once `ready()` has returned or raised."""
        self.closed = True
        if (made := self._made()) is not None:
            made.close(keep)

    def _made(self) -> Sandbox | None:
        """The sandbox if its checkout has been made, else None (still in progress, or failed)."""
        if self._job.done() and not self._job.cancelled() and self._job.exception() is None:
            return self._job.result()
        return None

    def _done(self) -> Sandbox:
        if not self._job.done():
            raise SandboxError("the checkout is still being made")
        return self._job.result()
