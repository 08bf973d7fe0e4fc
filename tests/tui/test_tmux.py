"""`sera demo` in a real terminal (tmux): the TUI opens, the demo rollouts stream on screen, q quits."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


SOCKET = f"sera-test-{os.getpid()}"  # a private tmux server per test: no one else's config or sessions


def _tmux(*args: str, session: str | None = None) -> str:
    sock = f"{SOCKET}-{(session or args[args.index('-t') + 1]).split(':')[0]}" if session or "-t" in args else SOCKET
    return subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", *args], check=True, capture_output=True,
                          text=True).stdout


def _kill(session: str) -> None:
    subprocess.run(["tmux", "-L", f"{SOCKET}-{session}", "kill-server"], capture_output=True)


def _capture(session: str) -> str:
    return _tmux("capture-pane", "-p", "-t", session)


def _wait_for(session: str, cond, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    screen = ""
    while time.monotonic() < deadline:
        screen = _capture(session)
        if cond(screen):
            return screen
        time.sleep(0.3)
    raise AssertionError(f"not on screen within {timeout_s}s; last screen:\n{screen}")


@pytest.mark.slow
def test_sera_demo_in_a_real_terminal(tmp_path: Path) -> None:
    session = f"sera-demo-{os.getpid()}"
    done = tmp_path / "exit-code"
    # the short sleep lets tmux settle the window size before the app measures the terminal
    cmd = (f"sleep 1; cd {shlex.quote(str(ROOT))} && SERA_WORKSPACE={shlex.quote(str(tmp_path / 'ws'))} "
           f"{shlex.quote(sys.executable)} -m sera_tui.cli demo --pairs 3 --concurrency 3; "
           f"echo $? > {shlex.quote(str(done))}; sleep 30")
    _tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", "-e", "TERM=xterm-256color", cmd,
          session=session)
    try:
        # the Generate screen comes up and messages of the demo rollouts stream into the panes
        _wait_for(session, lambda s: "T1 · " in s and "T2 · " in s and "Synthetic PR" in s, 60)
        # rollout content in the panes: messages, tool calls or the submitted patch
        screen = _wait_for(session, lambda s: any(k in s for k in ("assistant", "tool ←", "→ ", "@@ -")), 60)
        assert "Function" in screen and "State" in screen and "demo te" in screen
        # all three rollout pairs finish and are shown with their states
        screen = _wait_for(session, lambda s: "finished · 3/3 done" in s, 120)
        assert sum(screen.count(state) for state in ("kept", "below_threshold", "judged_invalid",
                                                     "empty_patch", "rollout_failed")) >= 3
        _quit_and_expect_exit_0(session, done)
    finally:
        _kill(session)


def _quit_and_expect_exit_0(session: str, done: Path) -> None:
    """Press q; the app must exit with status 0 (the shell writes it to `done`)."""
    _tmux("send-keys", "-t", session, "q")
    deadline = time.monotonic() + 15
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert done.exists() and done.read_text().strip() == "0"


def test_plain_sera_opens_the_repos_screen(tmp_path: Path) -> None:
    session = f"sera-{os.getpid()}"
    done = tmp_path / "exit-code"
    cmd = (f"sleep 1; cd {shlex.quote(str(ROOT))} && SERA_WORKSPACE={shlex.quote(str(tmp_path / 'ws'))} "
           f"{shlex.quote(sys.executable)} -m sera_tui.cli; echo $? > {shlex.quote(str(done))}; sleep 30")
    _tmux("new-session", "-d", "-s", session, "-x", "100", "-y", "30", "-e", "TERM=xterm-256color", cmd,
          session=session)
    try:
        screen = _wait_for(session, lambda s: "Repositories" in s and "No repositories yet" in s, 60)
        assert "Add repo" in screen and "Generate" in screen
        _tmux("send-keys", "-t", session, "2")  # number keys switch screens
        _wait_for(session, lambda s: "Settings" in s and "no run yet" in s, 30)
        _quit_and_expect_exit_0(session, done)
    finally:
        _kill(session)
