"""The `sera` command line. With no sub-command it opens the TUI.

Each sub-command lives in sera_tui/commands/<name>.py and is registered here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sera_tui.commands import common

app = typer.Typer(
    name="sera",
    help="SERA Workbench: turn a git repository into soft-verified agent training data and a specialized model.",
    no_args_is_help=False,
    add_completion=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    workspace: Optional[Path] = typer.Option(
        None, "--workspace", "-w", envvar="SERA_WORKSPACE",
        help="Workspace directory (database, worktrees, exports). Default: ./.sera"),
    read_only: bool = typer.Option(
        False, "--read-only", help="Open the TUI without writing to the database (a snapshot if it is locked)."),
) -> None:
    from engine.workspace import Workspace

    common.State.workspace = Workspace.default(workspace)
    if ctx.invoked_subcommand is None:
        from sera_tui.commands import tui

        tui.open_tui(**({"read_only": True} if read_only else {}))


def _register() -> None:
    from sera_tui.commands import (
        budget, demo, evaluate, export, generate, import_cmd, proxy, recall, repo, rollout, serve, stats, train,
    )

    app.command("demo", help="Run the whole pipeline on a bundled sample repo with the demo teacher.")(demo.demo)
    app.add_typer(repo.app, name="repo", help="Register and list repositories.")
    app.command("generate", help="Soft-Verified Generation: paired rollouts scored by recall.")(generate.generate)
    app.command("rollout", help="One agent rollout on a repo, streamed (for debugging prompts and endpoints).")(
        rollout.rollout)
    app.command("recall", help="Line-level recall of a produced patch against a target patch.")(recall.recall)
    app.command("import", help="Import trajectories from SWE-agent, mini-swe-agent or OpenHands.")(
        import_cmd.import_)
    app.command("stats", help="Counts, recall histogram and distributions over the store.")(stats.stats)
    app.command("export", help="Export a filtered, truncated SFT dataset (JSONL).")(export.export)
    app.command("train", help="Single-GPU supervised fine-tuning (LoRA/QLoRA/full).")(train.train)
    app.command("serve", help="Serve a model behind an OpenAI-compatible endpoint.")(serve.serve)
    app.command("eval", help="Evaluate models over several seeds on held-out tasks.")(evaluate.eval_)
    app.command("proxy", help="Anthropic-Messages proxy in front of an OpenAI-compatible model.")(proxy.proxy)
    app.command("budget", help="Fit score ≈ a − b·cost^(−c) and predict the cost of a target score.")(
        budget.budget)


_register()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
