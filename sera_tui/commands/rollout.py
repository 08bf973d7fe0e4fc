"""`sera rollout`: one agent rollout on a repo, streamed to the terminal and stored in the workspace DB."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sera_tui.commands.common import fail, open_store, print_json, workspace

_OBS_CHARS = 2000  # terminal clipping of observations (the store keeps them whole)


def rollout(
    repo: Path = typer.Option(..., "--repo", help="Path of a git repository (its committed state is used)."),
    task: Optional[str] = typer.Option(None, "--task", help="The task / issue text."),
    task_file: Optional[Path] = typer.Option(None, "--task-file", help="Read the task text from this file."),
    model: str = typer.Option("", "--model", help="Model name as the server knows it."),
    base_url: Optional[list[str]] = typer.Option(
        None, "--base-url", help="OpenAI-compatible (or Anthropic) base URL; repeat to load-balance."),
    provider: str = typer.Option("openai", "--provider", help="openai | anthropic | demo"),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="SERA_API_KEY",
                                          help="API key (default: OPENAI_API_KEY / ANTHROPIC_API_KEY)."),
    base_commit: str = typer.Option("HEAD", "--base-commit", help="Commit to check out in the sandbox."),
    sandbox: str = typer.Option("local", "--sandbox", help="local | docker"),
    image: Optional[str] = typer.Option(None, "--image", help="Docker image for --sandbox docker."),
    step_limit: int = typer.Option(115, "--step-limit", help="Maximum model turns."),
    temperature: float = typer.Option(0.6, "--temperature"),
    max_context_tokens: int = typer.Option(32768, "--max-context-tokens"),
    bash_timeout: float = typer.Option(300.0, "--bash-timeout", help="Seconds before a bash command is killed."),
    max_retries: int = typer.Option(5, "--max-retries", help="Retries per model call on 429/5xx/timeouts."),
    keep_worktree: bool = typer.Option(False, "--keep-worktree", help="Keep the sandbox checkout afterwards."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON instead of streaming."),
) -> None:
    import asyncio

    from engine.models import PROVIDERS

    if (task is None) == (task_file is None):
        fail("give exactly one of --task TEXT or --task-file FILE")
    if task_file is not None:
        try:
            task = task_file.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read --task-file {task_file}: {exc}")
    assert task is not None
    if not task.strip():
        fail("the task text is empty")
    if provider not in PROVIDERS:
        fail(f"unknown --provider {provider!r}; use one of {', '.join(PROVIDERS)}")
    if sandbox not in ("local", "docker"):
        fail(f"unknown --sandbox {sandbox!r}; use local or docker")
    if provider != "demo" and not model:
        fail("--model is required (the model name the server serves)")
    if step_limit < 1:
        fail("--step-limit must be at least 1")
    if not repo.is_dir():
        fail(f"--repo {repo} is not a directory")
    code = asyncio.run(_run(repo=repo.resolve(), task=task, model=model or "demo", base_urls=base_url or None,
                            provider=provider, api_key=api_key, base_commit=base_commit, backend=sandbox,
                            image=image, step_limit=step_limit, temperature=temperature,
                            max_context_tokens=max_context_tokens, bash_timeout=bash_timeout,
                            max_retries=max_retries, keep=keep_worktree, as_json=as_json))
    raise typer.Exit(code)


async def _run(*, repo: Path, task: str, model: str, base_urls: list[str] | None, provider: str,
               api_key: str | None, base_commit: str, backend: str, image: str | None, step_limit: int,
               temperature: float, max_context_tokens: int, bash_timeout: float, max_retries: int, keep: bool,
               as_json: bool) -> int:
    import asyncio

    from rich.console import Console

    from engine.agent import AgentConfig, run_rollout
    from engine.events import EventBus, MessageAdded
    from engine.models import make_client
    from engine.models.prices import PriceTable
    from engine.sandbox import SandboxError, create_sandbox
    from store import runs

    ws = workspace()
    try:
        prices = PriceTable.from_config(ws.config_path)
    except Exception as exc:  # a broken config is the user's to fix
        fail(f"cannot read prices from {ws.config_path}: {exc}")
    client = make_client(model, base_urls, provider=provider, api_key=api_key, prices=prices,  # type: ignore[arg-type]
                         max_retries=max_retries)
    store = open_store()
    try:
        sb = await asyncio.to_thread(create_sandbox, repo, base_commit, ws.runs_dir, backend,
                                     f"rollout-{repo.name}", image=image)
    except SandboxError as exc:
        store.close()
        fail(str(exc))
    console = Console(stderr=as_json, highlight=False, soft_wrap=False)
    config = {"repo": str(repo), "model": model, "provider": provider, "base_urls": base_urls or [],
              "base_commit": sb.base_commit, "sandbox": backend, "step_limit": step_limit,
              "temperature": temperature, "max_context_tokens": max_context_tokens}
    run_id = runs.create_run(store, "rollout", config=config, base_commit=sb.base_commit)
    bus = EventBus()
    if not as_json:
        console.print(f"[bold]rollout[/] run {run_id} · model [cyan]{client.label}[/] · sandbox {backend} "
                      f"({sb.display_root} → {sb.root})")
        bus.subscribe(lambda ev: _print_message(console, ev.index, ev.message)
                      if isinstance(ev, MessageAdded) else None)
    agent_config = AgentConfig(step_limit=step_limit, temperature=temperature,
                               max_context_tokens=max_context_tokens, bash_timeout_s=bash_timeout)
    status = "failed"
    try:
        result = await run_rollout(client=client, sandbox=sb, task_text=task, config=agent_config, store=store,
                                   bus=bus, run_id=run_id, stage="single")
        status = {"model_error": "failed", "sandbox_error": "failed", "cancelled": "cancelled"}.get(
            result.exit_reason, "finished")
    except (asyncio.CancelledError, KeyboardInterrupt):  # Ctrl-C: the rollout recorded `cancelled`
        status = "cancelled"
        raise
    finally:
        await asyncio.to_thread(sb.close, keep)
        runs.finish_run(store, run_id, status, None if status != "failed" else "rollout failed")
        store.close()
        aclose = getattr(client, "aclose", None)
        if aclose is not None:
            await aclose()
    summary = {"run_id": run_id, "rollout_id": result.rollout_id, "exit_reason": result.exit_reason,
               "steps": result.steps, "prompt_tokens": result.prompt_tokens,
               "completion_tokens": result.completion_tokens, "cost": round(result.cost, 6), "error": result.error,
               "model": model, "label": client.label, "worktree": str(sb.root) if keep else None,
               "patch": result.patch}
    if as_json:
        print_json(summary)
    else:
        style = "green" if result.exit_reason == "submitted" else "yellow"
        console.rule(f"[{style}]{result.exit_reason}[/] · {result.steps} steps · "
                     f"{result.prompt_tokens}+{result.completion_tokens} tokens · ${result.cost:.4f}")
        if result.error:
            console.print(f"[red]error:[/] {result.error}")
        if result.patch:
            from rich.syntax import Syntax

            console.print(Syntax(result.patch, "diff", theme="ansi_dark", background_color="default"))
        else:
            console.print("[dim](empty patch)[/]")
        if keep:
            console.print(f"worktree kept at {sb.root}")
    return 1 if result.exit_reason in ("model_error", "sandbox_error") else 0


def _print_message(console, index: int, m) -> None:
    from rich.markup import escape
    from rich.text import Text

    if m.role == "system":
        console.print(Text(f"[{index}] system", style="bold magenta"))
        console.print(Text(m.content or "", style="dim"))
        return
    if m.role == "user":
        console.print(Text(f"[{index}] user", style="bold blue"))
        console.print(Text(m.content or ""))
        return
    if m.role == "assistant":
        meta = []
        if m.completion_tokens is not None:
            meta.append(f"{m.completion_tokens} tok")
        if m.model_latency_ms is not None:
            meta.append(f"{m.model_latency_ms:.0f} ms")
        console.print(Text(f"[{index}] assistant" + (f" ({', '.join(meta)})" if meta else ""), style="bold green"))
        if m.reasoning:
            console.print(Text(m.reasoning, style="dim italic"))
        if m.content:
            console.print(Text(m.content))
        for c in m.tool_calls:
            console.print(f"  [bold yellow]→ {escape(c.name)}[/] {escape(c.arguments)}")
        return
    head = f"[{index}] {m.name or 'tool'}"
    if m.tool_time_ms:
        head += f" ({m.tool_time_ms:.0f} ms)"
    console.print(Text(head + (" error" if m.tool_error else ""), style="bold red" if m.tool_error else "bold"))
    text = m.content or ""
    if len(text) > _OBS_CHARS:
        text = text[: _OBS_CHARS // 2] + f"\n… {len(text) - _OBS_CHARS} characters not shown …\n" + \
            text[-_OBS_CHARS // 2:]
    console.print(Text(text))
