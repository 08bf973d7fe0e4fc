"""Where a run's checkouts go: in memory (tmpfs) when the repository is small enough, else on disk.

Every rollout writes a full checkout, `git add -A`s it for its patch and deletes it. Creating a file
costs several times more CPU on a disk filesystem than on tmpfs (measured on the dev machine:
162 µs against 19 µs a file), and with 16 rollouts starting at once that is the critical path of
their first tool call. Checkouts are throwaway, so RAM is the natural place for them as long as they
fit comfortably: `auto` uses it only when all the run's checkouts together would take at most a
quarter of the tmpfs's free space and a tenth of the available memory. Anything else stays on disk,
in the workspace's runs directory.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from engine.sandbox.base import SandboxError, git

PLACEMENTS = ("auto", "ram", "disk")
RAM_ROOT = Path("/dev/shm")  # tmpfs on Linux distributions and in containers
_PAGE = 4096  # tmpfs gives every file at least a page


def checkout_bytes(repo_path: str | Path, commit: str) -> int:
    """Memory one checkout of `commit` takes on tmpfs: its files rounded up to pages, plus the index."""
    out = git(Path(repo_path), "ls-tree", "-r", "-l", "-z", "--full-tree", commit)
    total = 0
    for entry in out.split("\0"):
        if not entry:
            continue
        meta, _, _path = entry.partition("\t")
        size = meta.split()[-1]
        # blobs have a size; submodules ("-") have none
        total += (-(-int(size) // _PAGE) * _PAGE if size.isdigit() else 0) + 128  # + its index entry
    return total + 64 * 1024  # .git skeleton and index header


def _mem_available() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _private_dir(path: Path) -> bool:
    """`path` exists (made now if missing) as a directory only we can reach; never follow a link
    other user may have planted in a world-writable place."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return False
    st = os.lstat(path)
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


def ram_runs_dir(runs_dir: Path) -> Path:
    """The in-memory counterpart of a workspace's runs directory (one per workspace)."""
    tag = hashlib.sha256(str(Path(runs_dir).resolve()).encode()).hexdigest()[:16]
    return RAM_ROOT / f"sera-{os.getuid()}" / f"runs-{tag}"


def choose_runs_dir(runs_dir: Path, repo_path: str | Path, commit: str, checkouts: int,
                    placement: str = "auto") -> Path:
    """The directory for a run that keeps up to `checkouts` checkouts of `commit` at once.
    placement: auto (RAM when it fits comfortably), ram (RAM when it fits at all), disk."""
    if placement not in PLACEMENTS:
        raise SandboxError(f"unknown checkout placement {placement!r} (auto, ram or disk)")
    if placement == "disk":
        return Path(runs_dir)
    need = checkout_bytes(repo_path, commit) * max(1, checkouts)
    try:
        fs = os.statvfs(RAM_ROOT)
        free, noexec = fs.f_bavail * fs.f_frsize, bool(fs.f_flag & os.ST_NOEXEC)
    except OSError:
        free, noexec = 0, False
    fits = (need <= free // 4 and need <= _mem_available() // 10) if placement == "auto" else need <= free
    ram = ram_runs_dir(runs_dir)
    # noexec (Docker mounts /dev/shm so) would stop `./script.sh` in a checkout from running
    if fits and not noexec and _private_dir(ram.parent) and _private_dir(ram):
        return ram
    if placement == "ram":
        why = (f"{RAM_ROOT} is mounted noexec" if noexec else
               f"checkouts in memory need about {need // 2**20} MiB; {RAM_ROOT} has {free // 2**20} MiB free"
               if not fits else f"cannot make a private directory in {RAM_ROOT}")
        raise SandboxError(f"{why} (use --checkouts disk)")
    return Path(runs_dir)
