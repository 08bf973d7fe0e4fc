"""`sera recall TARGET PRODUCED`: line-level recall of one patch in another (soft verification)."""

from __future__ import annotations

import sys
from enum import Enum

import typer

from sera_tui.commands.common import fail, print_json


class RecallMode(str, Enum):
    sera = "sera"
    per_file = "per-file"


def _read(path: str) -> str:
    """Read a patch as text, exactly: CRLF is kept (newline=""), undecodable bytes are replaced."""
    if path == "-":
        return sys.stdin.buffer.read().decode("utf-8", errors="replace")
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            return fh.read()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")


def recall(
    target: str = typer.Argument(
        ..., metavar="TARGET", help="Target patch file (rollout 1's P1), or - for stdin."),
    produced: str = typer.Argument(
        ..., metavar="PRODUCED", help="Produced patch file (rollout 2's P2), or - for stdin."),
    mode: RecallMode = typer.Option(
        RecallMode.sera, "--mode", "-m",
        help="sera: SERA's exact rule, pooled across files. per-file: match within the same file, "
             "ignoring CRLF and trailing whitespace."),
    as_json: bool = typer.Option(False, "--json", help='Print {"mode","recall","matched","total"} only.'),
) -> None:
    """Print the fraction of TARGET's changed lines that PRODUCED also contains."""
    from engine.verify import PatchError
    from engine.verify import recall as line_recall

    if target == "-" and produced == "-":
        fail("only one of TARGET and PRODUCED can be - (stdin)")
    target_text, produced_text = _read(target), _read(produced)
    try:
        result = line_recall(target_text, produced_text, mode=mode.value)
    except PatchError as exc:
        fail(str(exc))
    if as_json:
        print_json(result.to_json())
        return
    _print_human(result, target)


def _print_human(result, target_name: str) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False)
    if result.recall is None:
        console.print(f"recall: undefined — the target patch has no changed lines (mode {result.mode})")
        return
    colour = "green" if result.recall >= 1.0 else "yellow" if result.recall >= 0.5 else "red"
    head = Text("recall: ")
    head.append(f"{result.recall:.3f}", style=f"bold {colour}")
    head.append(f"  ({result.matched}/{result.total} target lines matched, mode {result.mode})")
    console.print(head)
    unused = sum(1 for p in result.produced_lines if not p.matched)
    console.print(f"produced: {len(result.produced_lines)} changed lines, {unused} with no counterpart "
                  "in the target", style="dim")
    current: object = object()
    for line in result.target_lines:
        if line.file != current:
            current = line.file
            console.print(Text(f"{line.file or target_name}:", style="bold"))
        mark = Text("  ✓ " if line.matched else "  ✗ ", style="green" if line.matched else "red")
        mark.append(f"{line.index + 1:>5} ", style="dim")
        mark.append(line.line.rstrip("\r"), style="green" if line.matched else "red")
        console.print(mark, soft_wrap=True)
