"""`sera eval`: several models side by side, over seeds, on held-out pairs or a task file."""

from __future__ import annotations

from typing import Any

import typer

from sera_tui.commands.common import fail, open_store, print_json, workspace


def _pm(mean: float | None, std: float | None) -> str:
    return "-" if mean is None else f"{mean:.3f} ± {std or 0:.3f}"


def _per_model(entry: dict[str, Any], seeds: int) -> list[str]:
    s = entry["summary"]
    lines = [f"{entry['model']} (eval run {entry['eval_run_id']}): recall {_pm(s['mean'], s['std'])} over "
             f"{len(s['seed_means'])} seed(s)" + (f"; tests pass {_pm(s['tests_mean'], s['tests_std'])}"
                                                   if s["tests_mean"] is not None else "")]
    width = max([4] + [len(t["task_ref"]) for t in s["tasks"]])
    lines.append("  " + "task".ljust(width) + "".join(f"  seed{i:<2}" for i in range(seeds)) + "  mean ± std      tests")
    for t in s["tasks"]:
        cells = "".join(f"  {'-' if t['recall'].get(i) is None else format(t['recall'][i], '.2f'):<6}"
                        for i in range(seeds))
        passed = [v for v in t["tests_passed"].values() if v is not None]
        tests = f"{sum(passed)}/{len(passed)}" if passed else "-"
        lines.append(f"  {t['task_ref'].ljust(width)}{cells}  {_pm(t['mean'], t['std']):<15} {tests}")
    if s["seed_means"]:
        lines.append("  per-seed mean: " + ", ".join(f"seed {k}: {v:.3f}" for k, v in s["seed_means"].items()))
    return lines


def eval_(
    model: list[str] = typer.Option(..., "--model", help="Model name (repeat for several, side by side)."),
    base_url: list[str] | None = typer.Option(None, "--base-url", help="Endpoint of each --model, in order "
                                                                          "(one for all, or one per model; "
                                                                          "URL1,URL2 load-balances one model)."),
    provider: list[str] | None = typer.Option(None, "--provider", help="openai | anthropic | demo (one for all, "
                                                                          "or one per model; default openai)."),
    api_key: str | None = typer.Option(None, "--api-key", envvar="SERA_EVAL_API_KEY", help="API key for the endpoints."),
    tasks: str = typer.Option("heldout", "--tasks", help="`heldout` (the repo's held-out pairs) or a JSONL task file."),
    seeds: int = typer.Option(3, "--seeds", help="Independent runs per task (report mean ± std over them)."),
    repo: str | None = typer.Option(None, "--repo", help="Registered repo name (required for --tasks heldout)."),
    heldout_fraction: float | None = typer.Option(None, "--heldout-fraction",
                                                     help="First hold out this fraction of the repo's pairs "
                                                          "(recorded; never exported for training)."),
    split_seed: int = typer.Option(0, "--split-seed", help="Seed of the held-out draw."),
    budget_cost: list[float] | None = typer.Option(None, "--budget-cost",
                                                      help="What it cost to make each model (for `sera budget`)."),
    step_limit: int = typer.Option(115, "--step-limit", help="Agent step limit (SERA: 115)."),
    temperature: float = typer.Option(0.6, "--temperature", help="Sampling temperature (SERA: 0.6)."),
    concurrency: int = typer.Option(1, "--concurrency", help="Rollouts in flight."),
    sandbox: str = typer.Option("local", "--sandbox", help="local | docker"),
    json_out: bool = typer.Option(False, "--json", help="Print results as JSON."),
) -> None:
    from engine.agent import AgentConfig
    from engine.eval import EvalConfig, EvalTaskError, ModelSpec, heldout_tasks, load_task_file, mark_heldout
    from engine.models import PROVIDERS
    from store import StoreError

    n = len(model)
    base_urls = list(base_url or [])
    providers = list(provider or ["openai"])
    costs = list(budget_cost or [])
    for label, values in (("--base-url", base_urls), ("--provider", providers), ("--budget-cost", costs)):
        if len(values) not in (0, 1, n):
            fail(f"give {label} once for all models or once per --model ({n}), got {len(values)}")
    for p in providers:
        if p not in PROVIDERS:
            fail(f"unknown --provider {p!r} (use one of {', '.join(PROVIDERS)})")
    if seeds < 1:
        fail("--seeds must be at least 1")
    if sandbox not in ("local", "docker"):
        fail(f"--sandbox must be local or docker, got {sandbox!r}")

    def pick(values: list, i: int, default: Any = None) -> Any:
        return values[i] if len(values) == n else (values[0] if values else default)

    specs = []
    for i, name in enumerate(model):
        prov = pick(providers, i, "openai")
        url = pick(base_urls, i)
        if prov == "openai" and not url:
            fail(f"--model {name} needs a --base-url (an OpenAI-compatible endpoint, e.g. from `sera serve`)")
        # "URL1,URL2": several servers of one model, load-balanced by the client
        urls = [u.strip() for u in (url or "").split(",") if u.strip()]
        specs.append(ModelSpec(name=name, base_urls=urls, provider=prov, api_key=api_key,
                               budget_cost=pick(costs, i)))

    store = open_store()
    try:
        try:
            if heldout_fraction is not None:
                if not repo:
                    fail("--heldout-fraction needs --repo")
                split = mark_heldout(store, repo, heldout_fraction, split_seed)
                typer.echo(f"held out {len(split.heldout)} of {split.n_candidates} pairs of {repo} "
                           f"({len(split.newly_heldout)} new)", err=True)
            if tasks == "heldout":
                if not repo:
                    fail("--tasks heldout needs --repo NAME (or give --tasks FILE)")
                task_list = heldout_tasks(store, repo)
            else:
                task_list = load_task_file(tasks, store)
        except (EvalTaskError, StoreError) as exc:
            fail(str(exc))
        config = EvalConfig(models=specs, tasks=task_list, tasks_spec=tasks, seeds=seeds,
                            agent=AgentConfig(step_limit=step_limit, temperature=temperature),
                            sandbox_backend=sandbox, concurrency=concurrency)
        from engine.eval import run_eval
        from engine.events import EvalProgress, EventBus

        bus = EventBus()
        if not json_out:
            bus.subscribe(lambda e: typer.echo(f"[{e.done}/{e.total}] {e.log_line}", err=True)
                          if isinstance(e, EvalProgress) else None)
        try:
            report = run_eval(store, workspace(), config, bus=bus)
        except KeyboardInterrupt:
            fail("interrupted; finished results are stored", code=130)
    finally:
        store.close()
    if json_out:
        print_json({"group": report.group, "run_id": report.run_id, "status": report.status, "seeds": seeds,
                    "models": report.models})
        return
    for entry in report.models:
        typer.echo("\n".join(_per_model(entry, seeds)))
        typer.echo("")
    if len(report.models) > 1:
        width = max(len(e["model"]) for e in report.models)
        typer.echo("model".ljust(width) + "  recall (mean ± std)  tests pass (mean ± std)  cost")
        for e in report.models:
            s = e["summary"]
            typer.echo(f"{e['model'].ljust(width)}  {_pm(s['mean'], s['std']):<19}  "
                       f"{_pm(s['tests_mean'], s['tests_std']):<23}  ${s['cost']:.4f}")
