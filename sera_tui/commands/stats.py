"""`sera stats`: counts by state/stage/category, recall histogram, token and step distributions."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sera_tui.commands import filter_options as fo
from sera_tui.commands.common import fail, print_json, workspace


def stats(
    json_out: Annotated[bool, typer.Option("--json", help="Print the figures as one JSON object.")] = False,
    bins: Annotated[int, typer.Option("--bins", help="Recall histogram bins.")] = 10,
    min_recall: fo.MinRecall = None,
    recall_mode: fo.RecallMode = "sera",
    states: fo.States = None,
    stage: fo.Stage = "both",
    submitted_only: Annotated[bool, typer.Option(
        "--submitted-only/--any-exit", help="Only rollouts that called submit.", rich_help_panel="Filters")]
    = False,
    max_patch_lines: fo.MaxPatchLines = None,
    max_tool_tokens: fo.MaxToolTokens = None,
    max_steps: fo.MaxSteps = None,
    categories: fo.Categories = None,
    verdicts: fo.Verdicts = None,
    repo: fo.Repo = None,
    run: fo.RunId = None,
    since: fo.Since = None,
    until: fo.Until = None,
    sources: fo.Sources = None,
    preset: fo.Preset = None,
    include_heldout: fo.IncludeHeldout = False,
) -> None:
    spec = fo.spec_from_flags(
        min_recall=min_recall, recall_mode=recall_mode, states=states, stage=stage, submitted_only=submitted_only,
        max_patch_lines=max_patch_lines, max_tool_tokens=max_tool_tokens, max_steps=max_steps,
        categories=categories, verdicts=verdicts, repo=repo, run=run, since=since, until=until, sources=sources,
        preset=preset, include_heldout=include_heldout)
    if not 1 <= bins <= 100:
        fail(f"--bins must be between 1 and 100, got {bins}")
    from store import StoreError
    from store.curation import stats as compute

    try:  # a running pipeline holds the write lock: read a snapshot rather than fail
        store = workspace().open_store(snapshot_if_locked=True)
    except StoreError as exc:
        fail(str(exc))
    try:
        data = compute(store, spec, bins)
    except StoreError as exc:
        fail(str(exc))
    finally:
        store.close()
    if json_out:
        print_json(data)
    else:
        _print(data)


def _print(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    console.print(f"{data['rollouts']} rollouts · {data['tasks']} tasks · {data['pairs']} pairs")
    for title, key in (("state", "by_state"), ("stage", "by_stage"), ("category", "by_category"),
                       ("source", "by_source"), ("exit reason", "by_exit_reason")):
        t = Table(title=f"by {title}", title_justify="left", show_edge=False)
        t.add_column(title)
        t.add_column("rollouts", justify="right")
        for k, n in data[key].items():
            t.add_row(str(k), str(n))
        console.print(t)
    peak = max([b["count"] for b in data["recall_histogram"]] + [1])
    t = Table(title="recall (tasks)", title_justify="left", show_edge=False)
    t.add_column("bin")
    t.add_column("tasks", justify="right")
    t.add_column("")
    for b in data["recall_histogram"]:
        t.add_row(f"{b['lo']:.2f}–{b['hi']:.2f}", str(b["count"]), "█" * round(30 * b["count"] / peak))
    t.add_row("undefined", str(data["recall_undefined"]), "")
    console.print(t)
    t = Table(title="distributions (per rollout)", title_justify="left", show_edge=False)
    t.add_column("")
    for k in ("min", "p25", "median", "p75", "p90", "max", "mean"):
        t.add_column(k, justify="right")
    for label, key in (("total tokens", "total_tokens"), ("mean tool-output tokens", "mean_tool_tokens"),
                       ("steps", "steps"), ("patch lines", "patch_lines")):
        d = data[key]
        t.add_row(label, *("-" if d[k] is None else f"{d[k]:,.0f}" for k in
                           ("min", "p25", "median", "p75", "p90", "max", "mean")))
    console.print(t)
