"""Where a run's checkouts go: in memory for a small repo (the default), on disk when asked or when
they would not fit comfortably, never in a directory another user could have planted."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from engine.sandbox import SandboxError
from engine.sandbox.scratch import RAM_ROOT, checkout_bytes, choose_runs_dir, ram_runs_dir
from engine.svg.pipeline import GenerateConfig, GenerateError, run_generate
from store import tasks as tq
from store.rollouts import list_rollouts
from tests.svg.test_pipeline_e2e import checkouts_left, config, register

def _usable_ram_root() -> bool:
    try:
        return os.access(RAM_ROOT, os.W_OK) and not os.statvfs(RAM_ROOT).f_flag & os.ST_NOEXEC
    except OSError:
        return False


needs_tmpfs = pytest.mark.skipif(not _usable_ram_root(), reason=f"no writable, exec-enabled {RAM_ROOT} here")


def head(repo: Path) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_checkout_size_counts_every_file_in_pages(make_repo) -> None:
    repo = make_repo({"a.py": "x = 1\n", "big.txt": "y" * 10_000, "pkg/b.py": ""})
    pages = (1 + 3) * 4096  # tmpfs rounds each file up to whole pages; the empty file takes none
    assert pages <= checkout_bytes(repo, head(repo)) - 64 * 1024 <= pages + 3 * 256


@needs_tmpfs
def test_small_repo_goes_to_memory_big_one_or_disk_request_to_disk(make_repo, workspace) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    ram = choose_runs_dir(workspace.runs_dir, repo, head(repo), 48)
    assert ram == ram_runs_dir(workspace.runs_dir) and str(ram).startswith(str(RAM_ROOT))
    assert (ram.parent.stat().st_mode & 0o777) == 0o700 and (ram.stat().st_mode & 0o777) == 0o700
    assert choose_runs_dir(workspace.runs_dir, repo, head(repo), 48, "disk") == workspace.runs_dir
    # a billion checkouts fit nowhere: auto stays on disk, ram says why in one line
    assert choose_runs_dir(workspace.runs_dir, repo, head(repo), 10**9) == workspace.runs_dir
    with pytest.raises(SandboxError, match=r"need about \d+ MiB; .* free \(use --checkouts disk\)"):
        choose_runs_dir(workspace.runs_dir, repo, head(repo), 10**9, "ram")
    ram.rmdir()


def test_a_noexec_ram_root_is_not_used(make_repo, workspace, monkeypatch) -> None:
    """Scripts in the checkout must stay runnable (Docker mounts /dev/shm noexec)."""
    import engine.sandbox.scratch as scratch

    real = os.statvfs

    def noexec(path):
        st = real(path)
        return os.statvfs_result((*st[:8], st.f_flag | os.ST_NOEXEC, st.f_namemax))

    monkeypatch.setattr(scratch.os, "statvfs", noexec)
    repo = make_repo({"a.py": "x = 1\n"})
    assert choose_runs_dir(workspace.runs_dir, repo, head(repo), 4) == workspace.runs_dir
    with pytest.raises(SandboxError, match=r"mounted noexec \(use --checkouts disk\)"):
        choose_runs_dir(workspace.runs_dir, repo, head(repo), 4, "ram")


@needs_tmpfs
def test_a_planted_link_is_not_followed(make_repo, workspace, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    ram = ram_runs_dir(workspace.runs_dir)
    elsewhere = tmp_path / "attacker"
    elsewhere.mkdir()
    ram.parent.mkdir(mode=0o700, exist_ok=True)
    ram.symlink_to(elsewhere)
    try:
        assert choose_runs_dir(workspace.runs_dir, repo, head(repo), 4) == workspace.runs_dir
    finally:
        ram.unlink()


@needs_tmpfs
async def test_a_run_checks_out_in_memory_by_default_and_on_disk_when_asked(
        workspace, store, calc_repo, teacher_server) -> None:
    register(store, calc_repo)
    for checkouts, where in (("auto", ram_runs_dir(workspace.runs_dir)), ("disk", workspace.runs_dir)):
        summary = await run_generate(store, workspace, config(teacher_server, checkouts=checkouts))
        rollouts = [r for t in tq.tasks_for_run(store, summary.run_id) for r in list_rollouts(store, task_id=t.id)]
        assert rollouts and all(Path(r.worktree).parent == where for r in rollouts), checkouts
        assert summary.kept == 2  # edits, bash under bubblewrap (if any) and patches work in either place
        assert checkouts_left(workspace) == []
    assert not ram_runs_dir(workspace.runs_dir).exists()  # removed once empty


@needs_tmpfs
def test_resume_removes_checkouts_a_dead_process_left_in_memory(workspace) -> None:
    from engine.svg.pipeline import _remove_stale_checkouts

    ram = ram_runs_dir(workspace.runs_dir)
    ram.mkdir(parents=True)
    (ram / "run3-task7-T1" / "pkg").mkdir(parents=True)
    (ram / "run3-task8-T1").mkdir()
    _remove_stale_checkouts(workspace, 3, [7])
    assert sorted(p.name for p in ram.iterdir()) == ["run3-task8-T1"]  # only the tasks being redone
    (ram / "run3-task8-T1").rmdir()
    ram.rmdir()


@needs_tmpfs
async def test_a_run_clears_what_a_killed_process_left_in_memory(workspace, store, calc_repo, teacher_server) -> None:
    register(store, calc_repo)
    ram = choose_runs_dir(workspace.runs_dir, calc_repo, head(calc_repo), 4)  # made as a run makes it
    assert ram == ram_runs_dir(workspace.runs_dir)
    for name in ("run99-task1-T1/pkg", "run99-task2-T2-2", "notes"):  # two dead checkouts, one not ours
        (ram / name).mkdir(parents=True)
    await run_generate(store, workspace, config(teacher_server))
    assert sorted(p.name for p in ram.iterdir()) == ["notes"]
    (ram / "notes").rmdir()
    ram.rmdir()


async def test_unknown_placement_is_a_clear_error(workspace, store, calc_repo, teacher_server) -> None:
    register(store, calc_repo)
    with pytest.raises(GenerateError, match="unknown --checkouts 'tmp' \\(auto, ram or disk\\)"):
        await run_generate(store, workspace, config(teacher_server, checkouts="tmp"))
    assert GenerateConfig.from_dict({"repo": "x"}).checkouts == "auto"  # runs stored before the option resume
