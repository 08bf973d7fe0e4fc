"""The filter flags shared by `sera export` and `sera stats`, and their mapping to a FilterSpec.

Commands declare `FilterFlags` parameters with these Annotated types and pass the values to
`spec_from_flags`, so both commands (and the docs) describe a selection the same way.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from sera_tui.commands.common import fail
from store.filters import FilterSpec

_P = "Filters"

MinRecall = Annotated[float | None, typer.Option(
    "--min-recall", help="Keep pairs with recall >= this (0..1); undefined recall never passes.", rich_help_panel=_P)]
RecallMode = Annotated[str, typer.Option(
    "--recall-mode", help="Which recall the threshold reads: sera | per-file.", rich_help_panel=_P)]
States = Annotated[list[str] | None, typer.Option(
    "--state", help="Task state (repeatable), e.g. kept, below_threshold.", rich_help_panel=_P)]
Stage = Annotated[str, typer.Option(
    "--stage", help="T1, T2 or both (both also includes imported rollouts).", rich_help_panel=_P)]
MaxPatchLines = Annotated[int | None, typer.Option(
    "--max-patch-lines", help="Patch changed lines <= N (SERA: 40).", rich_help_panel=_P)]
MaxToolTokens = Annotated[float | None, typer.Option(
    "--max-tool-tokens", help="Mean tool-output tokens per rollout <= N (SERA: 600).", rich_help_panel=_P)]
MaxSteps = Annotated[int | None, typer.Option("--max-steps", help="Steps (assistant turns) <= N.",
                                                 rich_help_panel=_P)]
Categories = Annotated[list[str] | None, typer.Option(
    "--category", help="Instruction category (repeatable).", rich_help_panel=_P)]
Verdicts = Annotated[list[str] | None, typer.Option(
    "--verdict", help="Latest review verdict (repeatable): accept, reject, skip, unreviewed.", rich_help_panel=_P)]
Repo = Annotated[str | None, typer.Option("--repo", help="Repository name.", rich_help_panel=_P)]
RunId = Annotated[int | None, typer.Option("--run", help="Run id.", rich_help_panel=_P)]
Since = Annotated[str | None, typer.Option("--since", help="Rollouts started on/after YYYY-MM-DD.",
                                              rich_help_panel=_P)]
Until = Annotated[str | None, typer.Option("--until", help="Rollouts started on/before YYYY-MM-DD.",
                                              rich_help_panel=_P)]
Sources = Annotated[list[str] | None, typer.Option(
    "--source", help="Producer (repeatable): sera, swe-agent, mini-swe-agent, openhands.", rich_help_panel=_P)]
IncludeHeldout = Annotated[bool, typer.Option(
    "--include-heldout", help="Also select tasks held out for evaluation (never exported by default).",
    rich_help_panel=_P)]
Preset = Annotated[str | None, typer.Option(
    "--preset", help="'sera': SERA's specialization filters (recall >= 0.5, patch <= 40 lines, mean tool "
                     "output <= 600 tokens) for any filter not given explicitly.", rich_help_panel=_P)]

VERDICTS = ("accept", "reject", "skip", "unreviewed")
STAGES = ("T1", "T2", "both")
RECALL_MODES = ("sera", "per-file")


def _date(flag: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{flag} must be a date like 2025-01-31, got {value!r}")


def spec_from_flags(*, min_recall: float | None = None, recall_mode: str = "sera", states: list[str] | None = None,
                    stage: str = "both", submitted_only: bool = True, max_patch_lines: int | None = None,
                    max_tool_tokens: float | None = None, max_steps: int | None = None,
                    categories: list[str] | None = None, verdicts: list[str] | None = None,
                    repo: str | None = None, run: int | None = None, since: str | None = None,
                    until: str | None = None, sources: list[str] | None = None,
                    preset: str | None = None, include_heldout: bool = False) -> FilterSpec:
    """Validate flag values (one-line failure on bad input) and build the FilterSpec."""
    if min_recall is not None and not 0.0 <= min_recall <= 1.0:
        fail(f"--min-recall must be between 0 and 1, got {min_recall}")
    if recall_mode not in RECALL_MODES:
        fail(f"--recall-mode must be one of {', '.join(RECALL_MODES)}, got {recall_mode!r}")
    if stage not in STAGES:
        fail(f"--stage must be one of {', '.join(STAGES)}, got {stage!r}")
    for flag, value in (("--max-patch-lines", max_patch_lines), ("--max-tool-tokens", max_tool_tokens),
                        ("--max-steps", max_steps)):
        if value is not None and value < 0:
            fail(f"{flag} must be >= 0, got {value}")
    bad = [v for v in verdicts or [] if v not in VERDICTS]
    if bad:
        fail(f"--verdict must be one of {', '.join(VERDICTS)}, got {bad[0]!r}")
    since_d, until_d = _date("--since", since), _date("--until", until)
    if since_d and until_d and since_d > until_d:
        fail(f"--since {since} is after --until {until}")
    if preset not in (None, "sera"):
        fail(f"--preset must be 'sera', got {preset!r}")
    base = FilterSpec.sera_specialization() if preset == "sera" else FilterSpec()
    return FilterSpec(
        min_recall=min_recall if min_recall is not None else base.min_recall,
        recall_mode=recall_mode,  # type: ignore[arg-type]
        states=states or None,
        stage=stage,  # type: ignore[arg-type]
        submitted_only=submitted_only,
        max_patch_lines=max_patch_lines if max_patch_lines is not None else base.max_patch_lines,
        max_mean_tool_tokens=max_tool_tokens if max_tool_tokens is not None else base.max_mean_tool_tokens,
        max_steps=max_steps,
        categories=categories or None,
        verdicts=verdicts or None,
        repo=repo,
        run_id=run,
        since=since_d,
        until=until_d,
        sources=sources or None,
        include_heldout=include_heldout,
    )
