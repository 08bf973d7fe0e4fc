"""`sera export`: a filtered, truncated SFT dataset (JSONL), recorded in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sera_tui.commands import filter_options as fo
from sera_tui.commands.common import fail, open_store, print_json


def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output JSONL file.")],
    format: Annotated[str, typer.Option("--format", help="openai (messages + tools) or hermes (<tool_call> text).")]
    = "openai",
    max_len: Annotated[int | None, typer.Option(
        "--max-len", help="Context limit in tokens; longer chats are cut at an assistant turn. Default 32768.")] = None,
    tokenizer: Annotated[str | None, typer.Option(
        "--tokenizer", help="HF tokenizer path or name (its chat template renders the chat). Without it tokens "
                            "are estimated at 4 characters each.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Dataset name in the store (default: file stem).")]
    = None,
    min_ratio: Annotated[float | None, typer.Option(
        "--min-ratio", help="Drop examples whose truncation ratio (kept/all messages) is below this. Default 0; "
                            "--preset sera: 0.95.")] = None,
    mask_failed: Annotated[bool, typer.Option(
        "--mask-failed-tool-calls", help="train=false on assistant turns whose tool call returned an error.")]
    = False,
    limit: Annotated[int | None, typer.Option("--limit", help="Keep at most N examples (highest ratio).")]
    = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    min_recall: fo.MinRecall = None,
    recall_mode: fo.RecallMode = "sera",
    states: fo.States = None,
    stage: fo.Stage = "both",
    submitted_only: Annotated[bool, typer.Option(
        "--submitted-only/--any-exit", help="Only rollouts that called submit (SERA).", rich_help_panel="Filters")]
    = True,
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
    if format not in ("openai", "hermes"):
        fail(f"--format must be openai or hermes, got {format!r}")
    if max_len is not None and max_len < 1:
        fail(f"--max-len must be a positive number of tokens, got {max_len}")
    if min_ratio is not None and not 0.0 <= min_ratio <= 1.0:
        fail(f"--min-ratio must be between 0 and 1, got {min_ratio}")
    if limit is not None and limit < 1:
        fail(f"--limit must be >= 1, got {limit}")
    if out.exists() and out.is_dir():
        fail(f"--out {out} is a directory; give a file name such as {out / 'sft.jsonl'}")
    if out.exists() and not force:
        fail(f"{out} already exists; pass --force to overwrite it")

    from engine.curate.export import ExportOptions, export_dataset
    from engine.curate.truncate import SERA_PRESET, TokenizerError
    from store import StoreError

    default_ratio = SERA_PRESET.min_ratio if preset == "sera" else 0.0
    opts = ExportOptions(format=format, max_len=max_len or SERA_PRESET.max_len, tokenizer=tokenizer,  # type: ignore[arg-type]
                         min_ratio=default_ratio if min_ratio is None else min_ratio,
                         mask_failed_tool_calls=mask_failed, limit=limit)
    store = open_store()
    try:
        summary = export_dataset(store, out, spec, opts, name=name)
    except (StoreError, TokenizerError, ValueError, OSError) as exc:
        fail(str(exc))
    finally:
        store.close()
    if json_out:
        print_json(summary.to_dict())
        return
    typer.echo(f"exported {summary.exported} of {summary.selected} selected rollouts to {summary.path} "
               f"({summary.format}, dataset {summary.name!r}, {summary.tokens} tokens, {summary.seconds:.1f}s)")
    for reason, n in sorted(summary.dropped.items()):
        typer.echo(f"  dropped {n}: {reason}")
    if not summary.selected:
        typer.echo("  no rollout matched the filters (see `sera stats` with the same flags)", err=True)
