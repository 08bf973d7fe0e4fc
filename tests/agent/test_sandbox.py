"""Sandboxes: isolation under bubblewrap, timeouts kill whole process trees, the user's repo is untouched."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

import pytest

from engine.agent import AgentConfig, run_rollout
from engine.models import make_client
from engine.sandbox import SandboxError, create_sandbox
from engine.sandbox.local import bwrap_works
from tests.agent.conftest import repo_state

needs_bwrap = pytest.mark.skipif(not bwrap_works(), reason="bubblewrap is missing or cannot create namespaces here")


@needs_bwrap
async def test_writing_outside_the_worktree_fails(py_repo: Path, sandboxes, tmp_path: Path) -> None:
    sb = sandboxes(py_repo)
    victim = tmp_path / "victim.txt"
    victim.write_text("original")
    home_file = Path.home() / f".sera-sandbox-probe-{os.getpid()}"
    r = await sb.run(f"echo pwned > {victim}; echo pwned > {home_file}; echo pwned > {py_repo}/README.md; "
                     "echo inside > /testbed/ok.txt; echo tmp > /tmp/scratch && cat /tmp/scratch", 30)
    assert "Read-only file system" in r.output or "No such file" in r.output
    assert victim.read_text() == "original"
    assert not home_file.exists()
    assert (py_repo / "README.md").read_text() == "demo repo\n"
    assert (sb.root / "ok.txt").read_text() == "inside\n"  # the worktree itself is writable
    assert "tmp" in r.output  # and so is a private /tmp
    assert sb.display_root == "/testbed"


@needs_bwrap
async def test_network_is_unreachable_under_bwrap(py_repo: Path, sandboxes) -> None:
    sb = sandboxes(py_repo)
    # Try a real socket to a loopback server the host can reach: the sandbox has its own empty netns.
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        r = await sb.run(f"python -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3); "
                         f"print('CONNECTED')\"; python -c \"import socket; "
                         f"socket.create_connection(('1.1.1.1', 80), timeout=3); print('CONNECTED')\"", 30)
    finally:
        listener.close()
    assert "CONNECTED" not in r.output
    assert "refused" in r.output.lower() or "unreachable" in r.output.lower()


@needs_bwrap
async def test_host_unix_sockets_are_out_of_reach(py_repo: Path, sandboxes) -> None:
    """A read-only bind does not stop connect() on a Unix socket: /run (docker.sock…) must be hidden."""
    import socket

    path = Path("/run") / f"sera-probe-{os.getpid()}.sock"
    try:
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(str(path))
    except OSError as exc:
        pytest.skip(f"cannot create a socket in /run here: {exc}")
    srv.listen()
    try:
        sb = sandboxes(py_repo)
        r = await sb.run(f"python -c \"import socket; s = socket.socket(socket.AF_UNIX); s.connect('{path}'); "
                         f"print('CONNECTED')\"", 30)
    finally:
        srv.close()
        path.unlink(missing_ok=True)
    assert "CONNECTED" not in r.output and "No such file" in r.output


@pytest.mark.parametrize("isolate", [pytest.param(True, marks=needs_bwrap), False])
async def test_timeout_kills_the_command_and_its_children(py_repo: Path, sandboxes, isolate: bool) -> None:
    sb = sandboxes(py_repo, isolate=isolate)
    marker = f"sera-timeout-probe-{os.getpid()}-{int(isolate)}"
    t0 = time.monotonic()
    # a child in the background, a grandchild, and a foreground sleep: all must die at the timeout
    r = await sb.run(f"(exec -a {marker} sleep 1000) & bash -c 'exec -a {marker} sleep 1000' & "
                     f"echo started; exec -a {marker} sleep 1000", 1.5)
    elapsed = time.monotonic() - t0
    assert r.timed_out and r.exit_code == -9
    assert "started" in r.output
    assert elapsed < 8
    await asyncio.sleep(0.2)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert marker not in ps, "a child of the timed-out command survived"


@pytest.mark.parametrize("isolate", [pytest.param(True, marks=needs_bwrap), False])
async def test_background_jobs_die_when_the_sandbox_closes(py_repo: Path, workspace, isolate: bool) -> None:
    sb = create_sandbox(py_repo, "HEAD", workspace.runs_dir, isolate=isolate)
    marker = f"sera-bg-probe-{os.getpid()}-{int(isolate)}"
    r = await sb.run(f"nohup bash -c 'exec -a {marker} sleep 1000' >/dev/null 2>&1 & echo started", 10)
    assert "started" in r.output and not r.timed_out
    if not isolate:  # outside bubblewrap the job survives the command...
        assert marker in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    sb.close()
    await asyncio.sleep(0.2)
    assert marker not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout


async def _prewarmed(sb):
    """Prewarm `sb` and wait until its shell is up; returns that shell's process."""
    sb.prewarm()
    proc = await sb._spare
    assert proc is not None and proc.returncode is None
    return proc


@needs_bwrap
async def test_a_prewarmed_shell_runs_the_command_as_a_fresh_one_would(py_repo: Path, sandboxes) -> None:
    sb = sandboxes(py_repo)
    fresh = await sb.run('x=1; export y=2; echo "$0 [$(cat)] $PWD"; printf "%s|" "a  b" "$(printf "\\tq")"; exit 3', 30)
    spare = await _prewarmed(sb)
    # Same command: output, stdin at end of file, exit code; spaces, tabs and quotes arrive verbatim.
    warm = await sb.run('x=1; export y=2; echo "$0 [$(cat)] $PWD"; printf "%s|" "a  b" "$(printf "\\tq")"; exit 3', 30)
    assert spare.returncode is not None, "the command did not run in the prewarmed shell"
    assert (warm.exit_code, warm.output) == (fresh.exit_code, fresh.output) == (3, "bash [] /testbed\na  b|\tq|")
    await _prewarmed(sb)
    r = await sb.run('echo "${x:-unset} ${y:-unset} ${c:-unset}"', 30)  # nothing carries over, not even ours
    assert r.output == "unset unset unset\n"


@needs_bwrap
async def test_a_prewarmed_shell_obeys_the_timeout_and_dies_with_the_sandbox(py_repo: Path, workspace) -> None:
    sb = create_sandbox(py_repo, "HEAD", workspace.runs_dir)
    await _prewarmed(sb)
    t0 = time.monotonic()
    r = await sb.run("echo started; sleep 1000", 1.0)
    assert r.timed_out and "started" in r.output and time.monotonic() - t0 < 8
    idle = await _prewarmed(sb)  # waiting for a command that never comes
    sb.close()
    await asyncio.wait_for(idle.wait(), 5)  # killed with the sandbox, not left behind


@needs_bwrap
async def test_a_dead_prewarmed_shell_is_replaced(py_repo: Path, sandboxes) -> None:
    sb = sandboxes(py_repo)
    spare = await _prewarmed(sb)
    os.killpg(spare.pid, 9)
    await spare.wait()
    r = await sb.run("echo still works", 30)
    assert (r.exit_code, r.output) == (0, "still works\n")


async def test_plain_command_result_and_exit_code(py_repo: Path, sandboxes) -> None:
    sb = sandboxes(py_repo)
    r = await sb.run("ls pkg; echo err >&2; exit 3", 30)
    assert r.exit_code == 3 and not r.timed_out
    assert "mod.py" in r.output and "err" in r.output
    assert r.duration_ms > 0


async def test_patch_includes_new_files_and_honours_excludes(py_repo: Path, sandboxes) -> None:
    sb = sandboxes(py_repo)
    r = await sb.run("echo 'x = 1' > pkg/new.py && echo junk > notes.txt && "
                 "sed -i 's/return sum(values)/return sum(values or [])/' pkg/mod.py && git commit -qam wip && "
                 "python -m py_compile pkg/mod.py && ls pkg/__pycache__", 30)
    assert "mod.cpython" in r.output
    patch = sb.patch(["notes.txt"])
    assert "+++ b/pkg/new.py" in patch and "+x = 1" in patch
    assert "+    return sum(values or [])" in patch  # committed inside the sandbox: still against base
    assert "notes.txt" not in patch
    assert "__pycache__" not in patch


async def test_patch_ignores_git_config_planted_by_a_command(py_repo: Path, sandboxes, tmp_path: Path) -> None:
    """The patch is computed by git outside the sandbox: a filter or fsmonitor planted in .git/config
    must not run there."""
    sb = sandboxes(py_repo)
    canary = tmp_path / "canary"
    await sb.run(f"git config filter.evil.clean 'touch {canary}; cat' && "
                 f"git config core.fsmonitor 'touch {canary}; true' && "
                 "echo '* filter=evil' > .gitattributes && echo 'x = 2' > pkg/new.py", 30)
    patch = sb.patch()
    assert "+x = 2" in patch and "filter=evil" in patch  # the change itself is still reported
    assert not canary.exists()
    await sb.run("rm -rf .git && ln -s /etc .git", 30)
    with pytest.raises(SandboxError, match=".git directory was replaced"):
        sb.patch()


async def test_close_removes_the_checkout_unless_kept(py_repo: Path, workspace) -> None:
    a = create_sandbox(py_repo, "HEAD", workspace.runs_dir, name="a")
    b = create_sandbox(py_repo, "HEAD", workspace.runs_dir, name="a")  # same name: a fresh directory
    assert a.root != b.root
    a.close()
    b.close(keep=True)
    assert not a.root.exists()
    assert (b.root / "pkg" / "mod.py").exists()
    b.close()  # idempotent


def test_bad_repo_or_commit_is_a_clear_error(tmp_path: Path, py_repo: Path, workspace) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(SandboxError, match="not a git repository"):
        create_sandbox(tmp_path / "plain", "HEAD", workspace.runs_dir)
    with pytest.raises(SandboxError, match="not a commit"):
        create_sandbox(py_repo, "no-such-ref", workspace.runs_dir)
    with pytest.raises(SandboxError, match="unknown sandbox backend"):
        create_sandbox(py_repo, "HEAD", workspace.runs_dir, backend="vm")


async def test_user_repo_is_unchanged_after_several_rollouts(make_repo, workspace, store) -> None:
    from tests.agent.conftest import FILES

    repo = make_repo(dict(FILES), name="user")
    # A lived-in repo: a branch, a stash, a staged change, an unstaged edit and an untracked file.
    subprocess.run(["git", "branch", "feature"], cwd=repo, check=True)
    (repo / "README.md").write_text("stashed edit\n")
    subprocess.run(["git", "stash", "-q"], cwd=repo, check=True)
    (repo / "pkg" / "mod.py").write_text((repo / "pkg" / "mod.py").read_text() + "\n# staged\n")
    subprocess.run(["git", "add", "pkg/mod.py"], cwd=repo, check=True)
    (repo / "README.md").write_text("unstaged edit\n")
    (repo / "scratch.txt").write_text("untracked\n")
    before = repo_state(repo)
    client = make_client("demo", provider="demo")
    for fn in ("parse_config", "Loader.load", "total"):
        sb = create_sandbox(repo, "HEAD", workspace.runs_dir, name=f"t-{fn}")
        try:
            result = await run_rollout(client=client, sandbox=sb, task_text=f"Problem related to `{fn}` in "
                                       f"`pkg/mod.py`.", config=AgentConfig(), store=store)
            # A command that tries to damage the user's repo through git from inside the sandbox.
            await sb.run(f"git -C {repo} checkout -q feature; git -C {repo} stash clear; "
                         f"git push {repo} HEAD:main 2>&1; rm -f {repo}/scratch.txt; "
                         f"for d in $(cat .git/objects/info/alternates) .git/objects; do "
                         f"find $d -type f -exec sh -c 'echo x >> \"$1\"' _ {{}} \\; ; done 2>/dev/null; "
                         f"git status --short >/dev/null && git log --oneline -1", 30)
        finally:
            sb.close()
        assert result.exit_reason == "submitted" and result.patch
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True, text=True).stdout
    assert len(worktrees.strip().splitlines()) == 1  # no leftover worktree metadata
    if not bwrap_works():  # without bubblewrap nothing stops a command from touching other paths
        pytest.skip("without bubblewrap the sandbox cannot protect paths outside the worktree")
    assert repo_state(repo) == before


@pytest.mark.docker
async def test_docker_backend(py_repo: Path, workspace) -> None:
    from engine.sandbox.docker import docker_client

    try:
        docker_client()
    except SandboxError as exc:
        pytest.skip(str(exc))
    sb = create_sandbox(py_repo, "HEAD", workspace.runs_dir, backend="docker")
    try:
        r = await sb.run("ls /testbed/pkg && (python -c \"import socket; socket.create_connection(('1.1.1.1', 80), "
                         "timeout=3)\" || echo NO-NET)", 60)
        assert "mod.py" in r.output and "NO-NET" in r.output
        r = await sb.run("sleep 100", 1)
        assert r.timed_out
    finally:
        sb.close()
