"""`sera recall`: files, stdin, --json, --mode, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sera_tui.cli import app

TARGET = "--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n-x = 1\n-y = 2\n+x = 10\n+y = 20\n"
PRODUCED = "--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n-x = 1\n-y = 2\n+x = 10\n+y = 21\n"


@pytest.fixture
def patches(tmp_path: Path) -> tuple[Path, Path]:
    t, p = tmp_path / "p1.diff", tmp_path / "p2.diff"
    t.write_text(TARGET)
    p.write_text(PRODUCED)
    return t, p


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(app, ["recall", *args], input=stdin)


def test_json_output_is_exactly_the_four_fields(patches) -> None:
    t, p = patches
    r = run(str(t), str(p), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {"mode": "sera", "recall": 0.75, "matched": 3, "total": 4}


def test_per_file_mode_and_undefined_recall_is_null(patches, tmp_path: Path) -> None:
    t, p = patches
    crlf = tmp_path / "crlf.diff"
    crlf.write_bytes(PRODUCED.replace("\n", "\r\n").encode())
    # CRLF is kept when reading: exact in sera mode, normalized per file
    assert json.loads(run(str(t), str(crlf), "--json").stdout)["matched"] == 0
    out = json.loads(run(str(t), str(crlf), "--mode", "per-file", "--json").stdout)
    assert out == {"mode": "per-file", "recall": 0.75, "matched": 3, "total": 4}
    empty = tmp_path / "empty.diff"
    empty.write_text("")
    assert json.loads(run(str(empty), str(p), "--json").stdout)["recall"] is None


@pytest.mark.parametrize("side", ["target", "produced"])
def test_stdin_for_either_side(patches, side: str) -> None:
    t, p = patches
    args = ("-", str(p)) if side == "target" else (str(t), "-")
    stdin = TARGET if side == "target" else PRODUCED
    r = run(*args, "--json", stdin=stdin)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["recall"] == 0.75


def test_human_output_marks_each_target_line(patches) -> None:
    t, p = patches
    r = run(str(t), str(p))
    assert r.exit_code == 0
    assert "0.750" in r.stdout and "3/4" in r.stdout
    marked = [line.split() for line in r.stdout.splitlines() if line.strip().startswith(("✓", "✗"))]
    assert [(m[0], " ".join(m[2:])) for m in marked] == [
        ("✓", "-x = 1"), ("✓", "-y = 2"), ("✓", "+x = 10"), ("✗", "+y = 20")]


def _one_line_error(r, *needles: str) -> None:
    assert r.exit_code == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("sera: error:"), r.stderr
    for n in needles:
        assert n in lines[0]


def test_both_stdin_is_an_error() -> None:
    _one_line_error(run("-", "-", stdin=TARGET), "stdin")


def test_unreadable_files_are_one_line_errors(patches, tmp_path: Path) -> None:
    t, _ = patches
    _one_line_error(run(str(t), str(tmp_path / "missing.diff")), "cannot read", "missing.diff")
    _one_line_error(run(str(tmp_path), str(t)), "cannot read")


def test_non_diff_input_is_a_one_line_error(patches, tmp_path: Path) -> None:
    t, _ = patches
    notes = tmp_path / "notes.txt"
    notes.write_text("I fixed the bug in m.py by changing y.\nThanks!\n")
    _one_line_error(run(str(t), str(notes)), "produced patch is not a unified diff")
    _one_line_error(run(str(notes), str(t), "--mode", "per-file"), "target patch is not a unified diff")


def test_installed_console_script_reads_stdin(patches) -> None:
    t, _ = patches
    r = subprocess.run([sys.executable, "-m", "sera_tui.cli", "recall", str(t), "-", "--json"],
                       input=PRODUCED, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["matched"] == 3
