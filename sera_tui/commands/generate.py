"""`sera generate`: Soft-Verified Generation from the command line (live display or JSON lines)."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import sys
import time
from typing import Any

import typer

from sera_tui.commands.common import fail, open_store, print_json, workspace


def _split(values: list[str] | None) -> list[str]:
    """`--categories a,b --categories c` -> [a, b, c]."""
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def event_to_json(event: Any) -> dict[str, Any]:
    data = dataclasses.asdict(event)
    return {"event": type(event).__name__, **data}


class LiveBoard:
    """Aggregates pipeline events into the figures the live display and the JSON stream show."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.in_flight = 0
        self.kept = 0
        self.recalls: list[float] = []
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cost = 0.0
        self.started = time.monotonic()
        self.run_id: int | None = None
        self.states: dict[int, str] = {}
        self.last: list[str] = []

    def on_event(self, ev: Any) -> None:
        name = type(ev).__name__
        if name == "RunStarted":
            self.total, self.run_id = ev.total, ev.run_id
        elif name == "TaskStateChanged":
            self.states[ev.task_id] = ev.state
            self.in_flight = sum(1 for s in self.states.values() if s == "running")
            if ev.state not in ("running", "pending"):
                self.last = (self.last + [f"task {ev.task_id}: {ev.state}"])[-5:]
        elif name == "PairScored" and ev.recall is not None:
            self.recalls.append(ev.recall)
        elif name == "RolloutFinished":
            self.prompt_tokens += ev.prompt_tokens
            self.completion_tokens += ev.completion_tokens
            self.cost += ev.cost
        self.done = sum(1 for s in self.states.values() if s not in ("running", "pending"))
        self.kept = sum(1 for s in self.states.values() if s == "kept")

    def render(self):
        from rich.table import Table

        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed * 60 if elapsed > 0 else 0.0
        remaining = max(self.total - self.done, 0)
        eta = f"{remaining / (self.done / elapsed):.0f}s" if self.done and elapsed > 0 else "—"
        mean = f"{sum(self.recalls) / len(self.recalls):.2f}" if self.recalls else "—"
        t = Table(title=f"sera generate · run {self.run_id}", show_header=False, box=None)
        t.add_row("done", f"{self.done}/{self.total}", "in flight", str(self.in_flight), "kept", str(self.kept))
        t.add_row("mean recall", mean, "tokens", f"{self.prompt_tokens + self.completion_tokens:,}",
                  "cost", f"${self.cost:.4f}")
        t.add_row("throughput", f"{rate:.1f} pairs/min", "elapsed", f"{elapsed:.0f}s", "ETA", eta)
        for line in self.last:
            t.add_row("", line, "", "", "", "")
        return t


def run_pipeline(make_coro, *, json_out: bool, quiet: bool = False):
    """Run a pipeline coroutine factory `make_coro(bus, cancel)` with Ctrl-C -> cancel, showing progress.

    json_out: one JSON event per line on stdout. On a TTY: a rich live board. Otherwise: a line per
    finished task. Returns the RunSummary.
    """
    from engine.events import EventBus

    bus = EventBus()
    board = LiveBoard()
    bus.subscribe(board.on_event)
    if json_out:
        bus.subscribe(lambda ev: print_json(event_to_json(ev)))
    elif not quiet and not sys.stdout.isatty():
        def line(ev: Any) -> None:
            if type(ev).__name__ == "TaskStateChanged" and ev.state not in ("running", "pending"):
                typer.echo(f"task {ev.task_id}: {ev.state}" + (f" ({ev.reason})" if ev.reason else ""))
        bus.subscribe(line)

    async def main():
        cancel = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, cancel.set)
            except (NotImplementedError, RuntimeError):
                pass
        if json_out or quiet or not sys.stdout.isatty():
            return await make_coro(bus, cancel)
        from rich.console import Console
        from rich.live import Live

        with Live(board.render(), console=Console(), refresh_per_second=4, transient=False) as live:
            async def refresh() -> None:
                while True:
                    live.update(board.render())
                    await asyncio.sleep(0.25)

            ticker = asyncio.create_task(refresh())
            try:
                return await make_coro(bus, cancel)
            finally:
                ticker.cancel()
                live.update(board.render())

    return asyncio.run(main())


def print_summary(summary: Any, *, label: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 150)  # pipes get the full table
    table = Table(title=f"run {summary.run_id} · {summary.status}" + (f" · {label}" if label else ""))
    for col in ("#", "function", "file", "category", "state", "recall", "per-file"):
        table.add_column(col)
    for p in summary.pairs:
        fmt = (lambda v: "—" if v is None else f"{v:.2f}")
        table.add_row(str(p["seq"]), p["function"] or "", p["file"] or "", p["category"] or "", p["state"],
                      fmt(p["recall"]), fmt(p["recall_per_file"]))
    console.print(table)
    mean = "—" if summary.mean_recall is None else f"{summary.mean_recall:.2f}"
    console.print(f"{summary.scored} scored, {summary.kept} kept of {summary.total}; mean recall {mean}; "
                  f"tokens {summary.prompt_tokens + summary.completion_tokens:,}; cost ${summary.cost:.4f}; "
                  f"{summary.wall_s:.1f}s")


def generate(
    repo: str | None = typer.Option(None, "--repo", help="Registered repo name (see `sera repo list`)."),
    pairs: int = typer.Option(8, "--pairs", "-n", help="Number of pairs (tasks) to generate."),
    concurrency: int = typer.Option(4, "--concurrency", "-k", help="Tasks in flight at once."),
    model: str | None = typer.Option(None, "--model", help="Teacher model name as the server knows it."),
    base_url: list[str] = typer.Option([], "--base-url", help="Teacher endpoint (repeat to load-balance)."),
    provider: str = typer.Option("openai", "--provider", help="openai | anthropic | demo"),
    api_key_env: str | None = typer.Option(None, "--api-key-env", help="Env var holding the API key."),
    threshold: float = typer.Option(0.5, "--threshold", help="Recall needed to keep a pair (SERA: 0.5)."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed (same seed + same commit = same functions)."),
    categories: list[str] = typer.Option([], "--categories", help="Only these category ids (comma-separated)."),
    exclude_categories: list[str] = typer.Option([], "--exclude-categories", help="Category ids to leave out."),
    categories_file: str | None = typer.Option(None, "--categories-file", help="TOML file extending the catalog."),
    demonstrations: str = typer.Option("builtin", "--demonstrations", help="builtin | git | file:PATH"),
    ignore_path: list[str] = typer.Option([], "--ignore-path",
                                          help="Files/globs left out of every patch (repeatable)."),
    sandbox: str = typer.Option("local", "--sandbox", help="local | docker"),
    checkouts: str = typer.Option("auto", "--checkouts",
                                  help="Where local checkouts go: auto (in memory when the repo is small) | ram | disk."),
    step_limit: int = typer.Option(115, "--step-limit", help="Tool calls per rollout (SERA: 115)."),
    temperature: float = typer.Option(0.6, "--temperature", help="Teacher temperature (SERA: 0.6)."),
    resume: int | None = typer.Option(None, "--resume", help="Continue run RUN_ID after a crash or cancel."),
    list_categories: bool = typer.Option(False, "--list-categories", help="Print the category ids and exit."),
    as_json: bool = typer.Option(False, "--json", help="One JSON event per line instead of the live display."),
) -> None:
    """Soft-Verified Generation: paired rollouts scored by recall."""
    from engine.svg.catalog import CatalogError, load_catalog

    if list_categories:
        try:
            cats = load_catalog(categories_file)
        except CatalogError as exc:
            fail(str(exc))
        for c in cats.values():
            print_json({"id": c.id, "name": c.name}) if as_json else typer.echo(f"{c.id:<20} {c.name}")
        return
    from engine.svg.pipeline import GenerateConfig, GenerateError, resume_generate, run_generate

    ws = workspace()
    if resume is None:
        if not repo:
            fail("--repo is required (or --resume RUN_ID)")
        if provider != "demo" and not model:
            fail("--model is required (the teacher's name on the server)")
        config = GenerateConfig(
            repo=repo, pairs=pairs, concurrency=concurrency, model=model or "demo", base_urls=list(base_url),
            provider=provider, api_key_env=api_key_env, threshold=threshold, seed=seed,
            categories=_split(categories), exclude_categories=_split(exclude_categories),
            categories_file=categories_file, demonstrations=demonstrations, sandbox=sandbox, checkouts=checkouts,
            step_limit=step_limit, temperature=temperature, exclude_paths=list(ignore_path))
    store = open_store()
    try:
        def make(bus, cancel):
            if resume is not None:
                return resume_generate(store, ws, resume, bus=bus, cancel=cancel)
            return run_generate(store, ws, config, bus=bus, cancel=cancel)

        try:
            summary = run_pipeline(make, json_out=as_json)
        except GenerateError as exc:
            fail(str(exc))
        if not as_json:
            demo = (resume is None and provider == "demo")
            print_summary(summary, label="teacher: demo — not a language model" if demo else None)
    finally:
        store.close()
    if summary.status == "cancelled":
        raise typer.Exit(130)
