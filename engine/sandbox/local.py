"""The `local` backend: commands run as subprocesses in their own process group, inside bubblewrap
when it is available (no network; only the checkout, mounted at /testbed, and a private /tmp are
writable; the rest of the filesystem is read-only)."""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from engine.sandbox.base import CommandResult, Sandbox, SandboxError

DISPLAY_ROOT = "/testbed"
MAX_OUTPUT_BYTES = 8 * 1024 * 1024  # beyond this we keep reading but drop the middle
_SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
# A sandboxed shell that waits for its command on stdin (NUL-terminated), then runs it in a fresh
# `bash -c`, exactly as a newly started one would. Starting bubblewrap (namespaces, a few dozen
# mounts: ~8 ms of CPU, several times that on a loaded machine) ahead of time takes it off the
# critical path of every bash call. Nothing carries over between commands.
_AWAIT_COMMAND = 'IFS= read -r -d "" c || exit 97; exec bash -c "$c"'


def sandbox_env() -> dict[str, str]:
    """The parent's environment minus secrets, plus settings that keep output plain and the patch clean."""
    env = {k: v for k, v in os.environ.items() if not any(w in k.upper() for w in _SECRET_WORDS)}
    env.update({
        "PAGER": "cat", "GIT_PAGER": "cat", "MANPAGER": "cat", "TERM": "dumb", "NO_COLOR": "1",
        "PIP_PROGRESS_BAR": "off", "PYTHONDONTWRITEBYTECODE": "1",  # .pyc files stay out of the worktree
    })
    env.pop("PYTHONPYCACHEPREFIX", None)  # it would make every Python start recompile the stdlib
    return env


@functools.cache
@functools.lru_cache(maxsize=1)
def bwrap_works() -> bool:
    """bubblewrap is installed and can create namespaces here (it cannot in some containers).
    Asked once per process: every checkout needs the answer, and it does not change."""
    if not shutil.which("bwrap"):
        return False
    try:
        r = subprocess.run([*bwrap_prefix(Path("/")), "true"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def bwrap_prefix(worktree: Path, read_only: list[Path] | tuple[Path, ...] = ()) -> list[str]:
    """Read-only host root (each top-level entry bound on bwrap's own tmpfs root, so /testbed can exist),
    the worktree read-write at /testbed, a private /tmp, no network, its own PID namespace.
    `read_only` paths (the user's object store) are bound again after /tmp is replaced, at their own path."""
    args = ["bwrap", "--die-with-parent", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    for entry in sorted(os.listdir("/")):
        p = Path("/") / entry
        if entry in ("proc", "dev", "tmp", "run", DISPLAY_ROOT.strip("/")):
            continue
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            args += ["--ro-bind", str(p), str(p)]
    # /run holds host service sockets (docker, dbus…): a read-only bind would still let a command
    # connect to them, so it gets an empty tmpfs like /tmp.
    args += ["--tmpfs", "/run"] if Path("/run").is_dir() else []
    if Path("/var/run").is_dir() and not Path("/var/run").is_symlink():
        args += ["--tmpfs", "/var/run"]
    args += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--dir", DISPLAY_ROOT,
             "--bind", str(worktree), DISPLAY_ROOT]
    for p in read_only:
        args += ["--ro-bind", str(p), str(p)]
    return args + ["--remount-ro", "/", "--chdir", DISPLAY_ROOT]


class LocalSandbox(Sandbox):
    backend = "local"

    def __init__(self, root: Path, base_commit: str, name: str, *, isolate: bool | None = None):
        works = bwrap_works()
        self.isolated = works if isolate is None else isolate
        if self.isolated and not works:
            raise SandboxError("bubblewrap (bwrap) is not available or cannot create namespaces here")
        super().__init__(root, base_commit, DISPLAY_ROOT if self.isolated else str(Path(root).resolve()), name)
        self._env = sandbox_env()
        from engine.sandbox.checkout import alternates

        self._read_only = alternates(Path(root))
        self._groups: set[int] = set()  # process groups started here (background jobs may outlive a command)
        self._spare: asyncio.Future[asyncio.subprocess.Process | None] | None = None  # see prewarm()
        self._closing = False

    def prewarm(self) -> None:
        """Start the shell for the next command now, while the model thinks (call on the event loop)."""
        if self.isolated and not self._closing and self._spare is None:
            self._spare = asyncio.ensure_future(self._start_spare())

    async def _start_spare(self) -> asyncio.subprocess.Process | None:
        try:
            proc = await self._spawn([*bwrap_prefix(self.root, self._read_only), "bash", "-c", _AWAIT_COMMAND],
                                     stdin=asyncio.subprocess.PIPE)
        except SandboxError:
            return None  # run() starts a shell of its own and reports the error
        if self._closing:  # closed while bubblewrap was starting (close() may not have seen it)
            _kill_group(proc.pid)
            return None
        return proc

    async def discard_prewarm(self) -> None:
        spare, self._spare = self._spare, None
        proc = await spare if spare is not None else None
        if proc is not None:
            _kill_group(proc.pid)
            self._groups.discard(proc.pid)
            await proc.wait()

    async def _spawn(self, argv: list[str], stdin: int) -> asyncio.subprocess.Process:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=self.root, env=self._env, stdin=stdin,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise SandboxError(f"cannot start a shell in the sandbox: {exc}") from None
        self._groups.add(proc.pid)
        return proc

    async def _take_spare(self, command: str) -> asyncio.subprocess.Process | None:
        """The prewarmed shell, given `command` (its stdin then closes, as /dev/null would be); None
        when there is none or it died."""
        spare, self._spare = self._spare, None
        if spare is None:
            return None
        proc = await spare
        if proc is None or proc.returncode is not None or proc.stdin is None:
            return None
        try:
            proc.stdin.write(os.fsencode(command) + b"\0")
            await proc.stdin.drain()
            proc.stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            _kill_group(proc.pid)
            return None
        return proc

    async def run(self, command: str, timeout_s: float) -> CommandResult:
        if self.closed:
            raise SandboxError("the sandbox is closed")
        t0 = time.perf_counter()
        proc = await self._take_spare(command) if "\0" not in command else None
        if proc is None:
            argv = ["bash", "-c", command]
            if self.isolated:
                argv = [*bwrap_prefix(self.root, self._read_only), *argv]
            proc = await self._spawn(argv, stdin=asyncio.subprocess.DEVNULL)
        chunks: list[bytes] = []
        size = 0

        async def drain() -> None:
            nonlocal size
            assert proc.stdout is not None
            while chunk := await proc.stdout.read(65536):
                chunks.append(chunk)
                size += len(chunk)
                while size > MAX_OUTPUT_BYTES and len(chunks) > 2:  # keep head and tail
                    size -= len(chunks.pop(1))

        reader = asyncio.ensure_future(drain())
        timed_out = False
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            timed_out = True
            _kill_group(proc.pid)
            await proc.wait()
        except BaseException:  # cancelled: never leave the command running
            _kill_group(proc.pid)
            await proc.wait()
            reader.cancel()
            raise
        # The shell exited; a background child may still hold the pipe open: give it a moment.
        try:
            await asyncio.wait_for(asyncio.shield(reader), 0.05 if timed_out else 2.0)
        except TimeoutError:
            _kill_group(proc.pid)
            try:
                await asyncio.wait_for(reader, 1.0)
            except TimeoutError:
                reader.cancel()
        if not _group_alive(proc.pid):  # only groups with live members are worth (and safe) killing later
            self._groups.discard(proc.pid)
        output = b"".join(chunks).decode("utf-8", errors="replace")
        code = proc.returncode if proc.returncode is not None else -9
        return CommandResult(exit_code=-9 if timed_out else code, output=output, timed_out=timed_out,
                             duration_ms=(time.perf_counter() - t0) * 1000)


    def close(self, keep: bool = False) -> None:
        """Kill whatever the rollout left running in the background (and the prewarmed shell), then
        remove the checkout. May run on another thread than the event loop."""
        self._closing = True  # set before reading _groups: a shell started after the copy kills itself
        for pgid in list(self._groups):
            _kill_group(pgid)
        self._groups.clear()
        super().close(keep)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
