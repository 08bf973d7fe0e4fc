"""`sera demo --no-tui` on a fresh workspace: the sample repo, the demo teacher, >= 5 scored pairs."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.workspace import Workspace
from store import tasks as tq
from store.runs import list_runs


@pytest.mark.slow
def test_demo_headless_scores_at_least_five_pairs(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "sera_tui.cli", "--workspace", str(ws), "demo", "--no-tui"],
                       capture_output=True, text=True, timeout=300)
    elapsed = time.monotonic() - t0
    print(f"sera demo --no-tui: {elapsed:.1f}s wall")  # target < 60 s on 2 cores; not asserted
    assert r.returncode == 0, r.stderr
    assert "demo — not a language model" in r.stdout  # never passed off as a real model
    assert "scored" in r.stdout and "tally/" in r.stdout

    store = Workspace(ws).open_store(read_only=True)
    try:
        (run,) = list_runs(store, kind="demo")
        counts = tq.run_counts(store, run.id)
        scored = counts.get("kept", 0) + counts.get("below_threshold", 0)
        assert scored >= 5, counts
        assert sum(counts.values()) == 8 and run.status == "finished"
        repo_row = store.fetchone("SELECT path, test_cmd FROM repos WHERE name='tally'")
    finally:
        store.close()
    # The sample is a fresh one-commit git repo inside the workspace, with its tests.
    sample = Path(repo_row[0])
    assert sample.is_relative_to(ws) and (sample / "tests").is_dir()
    log = subprocess.run(["git", "-C", str(sample), "log", "--oneline"], capture_output=True, text=True).stdout
    assert len(log.splitlines()) == 1


def test_demo_rejects_bad_numbers(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "sera_tui.cli", "--workspace", str(tmp_path / "ws"), "demo",
                        "--no-tui", "--pairs", "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.strip().startswith("sera: error:")
