"""`sera demo`: the whole pipeline on the bundled sample repo, driven by the scripted demo teacher."""

from __future__ import annotations

import typer

from sera_tui.commands.common import fail, open_store, workspace

DEMO_LABEL = "teacher: demo — not a language model"


def demo_config(pairs: int = 8, concurrency: int = 4, seed: int = 0):
    from engine.svg.pipeline import GenerateConfig
    from engine.svg.sample_repo import SAMPLE_NAME

    return GenerateConfig(repo=SAMPLE_NAME, pairs=pairs, concurrency=concurrency, model="demo", provider="demo",
                          seed=seed, kind="demo", step_limit=30, temperature=0.0)


def run_demo_headless(pairs: int = 8, concurrency: int = 4, seed: int = 0, *, as_json: bool = False):
    """Install the sample repo, run the pipeline with the demo teacher, print the results. The TUI
    engineer's `sera demo` (without --no-tui) can call this for its headless fallback."""
    from engine.repo import RepoError
    from engine.svg.pipeline import GenerateError, run_generate
    from engine.svg.sample_repo import install_sample_repo
    from sera_tui.commands.generate import print_summary, run_pipeline

    ws = workspace()
    store = open_store()
    try:
        try:
            install_sample_repo(ws, store)
        except RepoError as exc:
            fail(str(exc))
        config = demo_config(pairs, concurrency, seed)
        if not as_json:
            typer.echo(f"sera demo: {pairs} pairs on the bundled sample repo, {concurrency} in flight ({DEMO_LABEL})")
        try:
            summary = run_pipeline(lambda bus, cancel: run_generate(store, ws, config, bus=bus, cancel=cancel),
                                   json_out=as_json)
        except GenerateError as exc:
            fail(str(exc))
        if not as_json:
            print_summary(summary, label=DEMO_LABEL)
        return summary
    finally:
        store.close()


def open_demo_tui(pairs: int, concurrency: int, seed: int) -> None:
    """Open the TUI on the Generate screen with the demo generation running live. Without a
    terminal (scripts, CI) there is nothing to draw on: run headless instead."""
    import sys

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        run_demo_headless(pairs, concurrency, seed)
        return
    from sera_tui.commands.tui import open_tui

    open_tui(demo=True, demo_pairs=pairs, demo_concurrency=concurrency, demo_seed=seed)


def demo(
    pairs: int = typer.Option(8, "--pairs", "-n", help="Number of pairs to generate."),
    concurrency: int = typer.Option(4, "--concurrency", "-k", help="Tasks in flight at once."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
    no_tui: bool = typer.Option(False, "--no-tui", help="Run headless and print the results (no TUI)."),
    as_json: bool = typer.Option(False, "--json", help="Headless, one JSON event per line."),
) -> None:
    """Run the whole pipeline on a bundled sample repo with the demo teacher."""
    if pairs < 1 or concurrency < 1:
        fail("--pairs and --concurrency must be at least 1")
    if no_tui or as_json:
        run_demo_headless(pairs, concurrency, seed, as_json=as_json)
    else:
        open_demo_tui(pairs, concurrency, seed)
