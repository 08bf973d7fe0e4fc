"""The SVG pipeline: sample -> rollout 1 -> judge + PR -> rollout 2 -> score, K tasks in flight.

Every task is created up front (state `pending`) so a run's plan survives a crash; each task then
ends in a recorded state with a reason: kept, below_threshold, judged_invalid, empty_patch,
rollout_failed:<exit reason> or cancelled. `resume_generate(run_id)` reuses every finished step
(rollouts that ended, accepted PRs) and redoes what was in flight.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import logging
import os
import random
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.events import (
    EventBus,
    PairScored,
    PRWritten,
    RunFinished,
    RunStarted,
    TaskStarted,
    TaskStateChanged,
)
from engine.repo import RepoError, open_repo
from engine.sandbox.scratch import PLACEMENTS
from engine.svg.catalog import CatalogError, load_catalog, pick_category, select_categories
from engine.svg.demos import DemoError, load_demonstrations, pick_demonstration
from engine.svg.judge import ask_judge, ask_pr, pr_problem
from engine.svg.prompts import format_trajectory
from engine.svg.sampler import SamplerConfig, SamplerError, sample_repo_functions
from engine.workspace import Workspace
from store import tasks as tq
from store.db import Store, StoreError
from store.repos import get_repo
from store.runs import create_run, finish_run, get_run, mark_running

log = logging.getLogger(__name__)

# Runs executing in this process: a second resume of the same run (say from the TUI) must not run tasks twice.
# Another process cannot get here at all: DuckDB lets one process write the workspace.
_ACTIVE_RUNS: set[int] = set()

# Rollouts that ended this way did not finish their job: a resume runs them again.
_REDO_EXITS = {"interrupted", "cancelled"}


class GenerateError(Exception):
    """Bad input or an unusable setup, with a one-line message; nothing was started."""


@dataclass
class GenerateConfig:
    repo: str
    pairs: int = 8
    concurrency: int = 4
    model: str = "demo"
    base_urls: list[str] = field(default_factory=list)
    provider: str = "openai"            # openai | anthropic | demo
    api_key_env: str | None = None      # name of the env var holding the key (never the key itself)
    threshold: float = 0.5
    seed: int = 0
    categories: list[str] = field(default_factory=list)
    exclude_categories: list[str] = field(default_factory=list)
    categories_file: str | None = None
    sandbox: str = "local"              # local | docker
    checkouts: str = "auto"             # auto | ram | disk: where the local sandboxes' checkouts go
    step_limit: int = 115               # SERA: 115 tool calls
    temperature: float = 0.6            # SERA: 0.6
    agent: dict[str, Any] = field(default_factory=dict)  # further AgentConfig fields
    demonstrations: str = "builtin"     # builtin | git | file:PATH
    judge_attempts: int = 3
    min_lines: int = 3
    max_depth: int = 3
    max_functions: int = 5000
    exclude_paths: list[str] = field(default_factory=list)  # files left out of patches
    kind: str = "generate"              # runs.kind: generate | demo

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GenerateConfig:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def validate(self) -> None:
        if self.pairs < 1:
            raise GenerateError("--pairs must be at least 1")
        if self.concurrency < 1:
            raise GenerateError("--concurrency must be at least 1")
        if not 0.0 <= self.threshold <= 1.0:
            raise GenerateError("--threshold must be between 0 and 1")
        if self.provider not in ("openai", "anthropic", "demo"):
            raise GenerateError(f"unknown provider {self.provider!r} (openai, anthropic or demo)")
        if self.provider != "demo" and not self.base_urls:
            raise GenerateError("give at least one --base-url for the teacher model")
        if self.sandbox not in ("local", "docker"):
            raise GenerateError(f"unknown sandbox backend {self.sandbox!r} (local or docker)")
        if self.checkouts not in PLACEMENTS:
            raise GenerateError(f"unknown --checkouts {self.checkouts!r} (auto, ram or disk)")
        if self.step_limit < 1:
            raise GenerateError("--step-limit must be at least 1")
        if self.judge_attempts < 1:
            raise GenerateError("judge_attempts must be at least 1")


@dataclass
class RunSummary:
    run_id: int
    status: str                          # finished | cancelled | failed
    total: int
    counts: dict[str, int]
    kept: int
    scored: int
    mean_recall: float | None
    prompt_tokens: int
    completion_tokens: int
    cost: float
    wall_s: float
    pairs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class _Outcome:
    """A finished rollout as the pipeline needs it (fresh or reused on resume)."""
    rollout_id: int
    exit_reason: str
    patch: str
    error: str | None = None
    messages: list | None = None  # in memory when the rollout ran in this process


@dataclass
class _RunContext:
    store: Store
    workspace: Workspace
    config: GenerateConfig
    run_id: int
    repo_id: int
    repo_path: str
    base_commit: str
    client: Any
    demos: list
    bus: EventBus | None
    cancel: asyncio.Event
    runs_dir: Path  # where the checkouts go (see engine.sandbox.scratch)
    resuming: bool = False  # False: no task of the run has history yet, so nothing needs reading back
    task_writes: dict[int, list[asyncio.Future]] = field(default_factory=dict)  # queued, not yet awaited
    todo: collections.deque = field(default_factory=collections.deque)  # tasks no worker has taken yet
    prefetched: dict[int, Any] = field(default_factory=dict)  # task id -> its T1 checkout (PendingSandbox)
    extra_usage: dict[str, float] = field(default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0,
                                                                    "cost": 0.0})
    background: set[asyncio.Future] = field(default_factory=set)  # sandbox removals and unused clones

    def write_soon(self, task_id: int, fn: Any, /, *args: Any, then: Any = None, **kw: Any) -> None:
        """Queue a store write for a task and go on; `then()` runs once it is committed (events are
        sent after their rows exist). The writer keeps submission order, so a task's rows land in the
        order it made them; the task's final state waits for all of them (`_finalize`). A crash
        loses at most the last batch, which a resume redoes."""
        fut = asyncio.wrap_future(self.store.write(fn, *args, **kw))
        if then is not None:
            fut.add_done_callback(lambda f: then() if not f.cancelled() and f.exception() is None else None)
        self.task_writes.setdefault(task_id, []).append(fut)

    def prefetch_next(self) -> None:
        """Open the T1 checkout of the next waiting task while this one runs rollout 2, so the worker
        that takes it starts talking to the model at once."""
        for task in self.todo:
            if task.id not in self.prefetched:
                if not self.resuming or task.state == "pending":  # a resumed T1 may be kept as is
                    self.prefetched[task.id] = _open_sandbox(self, task, "T1")
                return

    def close_later(self, sandbox: Any) -> None:
        """Remove a finished rollout's checkout without holding up the task's next step."""
        job = asyncio.ensure_future(_close_sandbox(sandbox))
        # A cancelled run ends before its last removals do: the last one tidies up.
        job.add_done_callback(lambda _job: self.remove_runs_dir() if self.run_id not in _ACTIVE_RUNS else None)
        self.track(job)

    def remove_runs_dir(self) -> None:
        """The run's in-memory runs dir, once empty (never its private parent: it keeps its mode)."""
        if self.runs_dir != self.workspace.runs_dir:
            try:
                self.runs_dir.rmdir()
            except OSError:  # not empty: another run of the workspace uses it, or removals are pending
                pass

    def track(self, fut: asyncio.Future) -> None:
        self.background.add(fut)
        fut.add_done_callback(self.background.discard)

    async def drain(self) -> None:
        while self.background:
            await asyncio.gather(*list(self.background), return_exceptions=True)

    def emit(self, event: Any) -> None:
        if self.bus is not None:
            try:
                self.bus.emit(event)
            except Exception:
                log.exception("event subscriber failed")

    def add_usage(self, comp: Any) -> None:
        self.extra_usage["prompt_tokens"] += getattr(comp, "prompt_tokens", 0) or 0
        self.extra_usage["completion_tokens"] += getattr(comp, "completion_tokens", 0) or 0
        self.extra_usage["cost"] += getattr(comp, "cost", 0.0) or 0.0


class _Cancelled(Exception):
    pass


# Threads start on demand and are reused across runs (several runs can share a process: the TUI).
_IO_THREADS = ThreadPoolExecutor(max_workers=64, thread_name_prefix="svg-io")


def _lower_priority() -> None:
    if sys.platform == "linux":  # per thread there (and git inherits it); elsewhere it would be the whole process
        os.nice(10)


# Checkouts and their removal: git is CPU work, and 16 rollouts starting at once would otherwise run
# 16 checkouts at once, starving the event loop and the model server of the cores exactly when the
# first requests go out. As many at a time as there are cores (up to 8), at a lower priority; a
# checkout is needed only at the rollout's first tool call, a model turn later.
_GIT_THREADS = ThreadPoolExecutor(max_workers=min(8, max(2, os.cpu_count() or 2)), thread_name_prefix="svg-git",
                                  initializer=_lower_priority)


async def _db(fn: Any, *args: Any, **kw: Any) -> Any:
    """Blocking work (a store call, git) on the pipeline's own threads, off the event loop: a DuckDB
    commit waits for fsync, the store lock may be held by the writer thread, and a checkout runs git.
    Not the loop's default pool: its cpu+4 threads would queue every store read behind 16 clones."""
    return await asyncio.get_running_loop().run_in_executor(_IO_THREADS, functools.partial(fn, *args, **kw))


async def _git(fn: Any, *args: Any, **kw: Any) -> Any:
    """Checkout work on the few git threads (see _GIT_THREADS)."""
    return await asyncio.get_running_loop().run_in_executor(_GIT_THREADS, functools.partial(fn, *args, **kw))


# -- setup --------------------------------------------------------------------------------------
def _api_key(config: GenerateConfig) -> str | None:
    if config.api_key_env:
        return os.environ.get(config.api_key_env)
    if config.provider == "anthropic":
        return os.environ.get("ANTHROPIC_API_KEY")
    if config.provider == "openai":
        return os.environ.get("OPENAI_API_KEY") or os.environ.get("SERA_API_KEY")
    return None


def make_teacher(config: GenerateConfig, workspace: Workspace | None = None):
    from engine.models import make_client
    from engine.models.prices import PriceTable

    prices = PriceTable.from_config(workspace.config_path if workspace else None)
    return make_client(config.model, list(config.base_urls), provider=config.provider, api_key=_api_key(config),
                       prices=prices)


def check_endpoints(config: GenerateConfig, timeout_s: float = 3.0) -> None:
    """Fail early when no teacher endpoint answers at all (one line, nothing started)."""
    if config.provider == "demo":
        return
    import urllib.error
    import urllib.request

    problems = []
    for url in config.base_urls:
        # A liveness probe (no key is sent). urllib, not httpx: an httpx client loads the CA bundle
        # even for plain http, ~0.15 s before a run can start.
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/models", timeout=timeout_s):
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer (even 401/404) means someone is there
        except (urllib.error.URLError, OSError, ValueError) as exc:
            problems.append(f"{url}: {type(getattr(exc, 'reason', exc)).__name__}")
    raise GenerateError(f"no teacher server answering ({'; '.join(problems)})")


def _agent_config(config: GenerateConfig):
    from engine.agent import AgentConfig

    fields = {f.name for f in dataclasses.fields(AgentConfig)} if dataclasses.is_dataclass(AgentConfig) else set(
        getattr(AgentConfig, "model_fields", {}))
    wanted = {"step_limit": config.step_limit, "temperature": config.temperature, **config.agent}
    return AgentConfig(**{k: v for k, v in wanted.items() if k in fields})


def _plan_tasks(config: GenerateConfig, repo_path: str, base_commit: str) -> list[dict[str, Any]]:
    catalog = load_catalog(config.categories_file)
    cats = select_categories(catalog, config.categories, config.exclude_categories)
    fns = sample_repo_functions(repo_path, config.pairs, config.seed, base_commit,
                                SamplerConfig(min_lines=config.min_lines, max_depth=config.max_depth,
                                              max_functions=config.max_functions))
    rng = random.Random(f"{config.seed}:categories")
    rows = []
    for seq, fn in enumerate(fns):
        cat = pick_category(cats, rng)
        rows.append(dict(seq=seq, file=fn.file, function=fn.name, start_line=fn.start_line, end_line=fn.end_line,
                         language=fn.language, category=cat.id,
                         instruction=cat.instruction(function=fn.name, file=fn.file, language=fn.language),
                         seed=config.seed, base_commit=base_commit))
    return rows


def _prepare(store: Store, config: GenerateConfig) -> tuple[Any, str, str, list]:
    """Validate everything a run needs; raise GenerateError with one line on bad input."""
    config.validate()
    repo = get_repo(store, config.repo)
    if repo is None:
        raise GenerateError(f"no repo named {config.repo!r}; add it with `sera repo add PATH`")
    try:
        git_repo = open_repo(repo.path)
        base_commit = git_repo.head.commit.hexsha
        demos = load_demonstrations(config.demonstrations, repo.path)
        load_catalog(config.categories_file)
    except (RepoError, DemoError, CatalogError) as exc:
        raise GenerateError(str(exc)) from None
    return repo, repo.path, base_commit, demos


# -- public API ---------------------------------------------------------------------------------
async def run_generate(store: Store, workspace: Workspace, config: GenerateConfig, bus: EventBus | None = None,
                       cancel: asyncio.Event | None = None, run_id: int | None = None) -> RunSummary:
    """Plan and run a generation. `run_id` given: continue that run instead (same as resume)."""
    if run_id is not None:
        return await resume_generate(store, workspace, run_id, bus=bus, cancel=cancel)
    # Blocking work (git, tree-sitter, DuckDB) runs in threads: a TUI calling this keeps its loop free.
    repo, repo_path, base_commit, demos = await _db(_prepare, store, config)
    try:
        rows = await _db(_plan_tasks, config, repo_path, base_commit)
    except (SamplerError, CatalogError) as exc:
        raise GenerateError(str(exc)) from None
    await _db(check_endpoints, config)
    runs_dir = await _db(_runs_dir, workspace, config, repo_path, base_commit)
    client = make_teacher(config, workspace)
    new_run = await _db(create_run, store, config.kind, repo_id=repo.id, config=config.to_dict(),
                        base_commit=base_commit)
    await _db(tq.create_tasks, store, [dict(r, run_id=new_run, repo_id=repo.id) for r in rows])
    ctx = _RunContext(store, workspace, config, new_run, repo.id, repo_path, base_commit, client, demos, bus,
                      cancel or asyncio.Event(), runs_dir)
    return await _execute(ctx, await _db(tq.tasks_for_run, store, new_run))


def _prepare_resume(store: Store, run_id: int) -> tuple[Any, GenerateConfig, Any, list]:
    run = get_run(store, run_id)
    if run is None:
        raise GenerateError(f"no run with id {run_id}")
    if run_id in _ACTIVE_RUNS:
        raise GenerateError(f"run {run_id} is already running")
    if run.kind not in ("generate", "demo"):
        raise GenerateError(f"run {run_id} is a {run.kind} run, not a generation")
    config = GenerateConfig.from_dict(run.config)
    repo = get_repo(store, run.repo_id) if run.repo_id is not None else None
    if repo is None:
        raise GenerateError(f"the repo of run {run_id} is no longer registered")
    try:
        open_repo(repo.path)
        demos = load_demonstrations(config.demonstrations, repo.path)
    except (RepoError, DemoError) as exc:
        raise GenerateError(str(exc)) from None
    return run, config, repo, demos


async def resume_generate(store: Store, workspace: Workspace, run_id: int, bus: EventBus | None = None,
                          cancel: asyncio.Event | None = None) -> RunSummary:
    """Continue a run: keep finished work, redo what was in flight, never run a task twice."""
    run, config, repo, demos = await _db(_prepare_resume, store, run_id)
    todo = await _db(tq.unfinished_tasks, store, run_id)
    if todo:
        await _db(check_endpoints, config)
    await _db(mark_running, store, run_id)
    await _db(tq.mark_interrupted_rollouts, store, run_id)
    await _db(_remove_stale_checkouts, workspace, run_id, [t.id for t in todo])
    runs_dir = await _db(_runs_dir, workspace, config, repo.path, run.base_commit or "HEAD")
    client = make_teacher(config, workspace)
    ctx = _RunContext(store, workspace, config, run_id, repo.id, repo.path, run.base_commit or "HEAD", client,
                      demos, bus, cancel or asyncio.Event(), runs_dir, resuming=True)
    return await _execute(ctx, todo)


# -- execution ----------------------------------------------------------------------------------
async def _execute(ctx: _RunContext, todo: list[tq.TaskRow]) -> RunSummary:
    _ACTIVE_RUNS.add(ctx.run_id)
    try:
        return await _execute_tasks(ctx, todo)
    finally:
        _ACTIVE_RUNS.discard(ctx.run_id)
        ctx.remove_runs_dir()
        close = getattr(ctx.client, "aclose", None)
        if close is not None:
            try:
                await asyncio.shield(close())  # its connections belong to this event loop
            except Exception:  # noqa: BLE001 - closing is best effort; the run's outcome stands
                log.debug("closing the teacher client failed", exc_info=True)


async def _execute_tasks(ctx: _RunContext, todo: list[tq.TaskRow]) -> RunSummary:
    started = time.monotonic()
    total = len(await _db(tq.tasks_for_run, ctx.store, ctx.run_id))
    ctx.emit(RunStarted(ctx.run_id, kind=ctx.config.kind, total=total))
    ctx.todo.extend(todo)
    if ctx.config.sandbox == "local":
        from engine.sandbox.local import bwrap_works

        await _db(bwrap_works)  # asked once (a process); every checkout needs the answer

    async def worker() -> None:
        while not ctx.cancel.is_set() and ctx.todo:
            await _run_task(ctx, ctx.todo.popleft())

    status, error = "finished", None
    try:
        try:
            await asyncio.gather(*(worker() for _ in range(min(ctx.config.concurrency, max(len(todo), 1)))))
        finally:
            for job in ctx.prefetched.values():  # checkouts of tasks a cancelled run never started
                ctx.close_later(job)
            ctx.prefetched.clear()
        if ctx.cancel.is_set():
            status = "cancelled"
            for task_id in await _db(tq.cancel_pending, ctx.store, ctx.run_id,
                                     "run cancelled before the task started"):
                ctx.emit(TaskStateChanged(ctx.run_id, task_id=task_id, state="cancelled",
                                          reason="run cancelled before the task started"))
    except asyncio.CancelledError:  # the caller (e.g. a TUI worker) cancelled us: same as the cancel event
        _record_hard_cancel(ctx)
        raise
    except BaseException as exc:  # a crash of the pipeline itself: record it, then let it propagate
        await asyncio.shield(ctx.drain())
        finish_run(ctx.store, ctx.run_id, "failed", " ".join(str(exc).split()) or type(exc).__name__)
        ctx.emit(RunFinished(ctx.run_id, status="failed", error=str(exc)))
        raise
    await ctx.drain()
    await _db(finish_run, ctx.store, ctx.run_id, status, error)
    summary = await _db(summarize, ctx.store, ctx.run_id, status=status, wall_s=time.monotonic() - started,
                        extra_usage=ctx.extra_usage)
    ctx.emit(RunFinished(ctx.run_id, status=status, summary={k: v for k, v in summary.to_dict().items()
                                                               if k != "pairs"}))
    return summary


def _record_hard_cancel(ctx: _RunContext) -> None:
    """Synchronous on purpose: the task is being torn down, nothing may be awaited reliably."""
    reason = "run cancelled while the task was in flight"
    ctx.store.flush_writes(timeout=30)  # a queued "running" must not land after the "cancelled" below
    for t in tq.tasks_for_run(ctx.store, ctx.run_id):
        if t.state == "running":
            tq.set_task_state(ctx.store, t.id, "cancelled", reason)
    tq.cancel_pending(ctx.store, ctx.run_id, "run cancelled before the task started")
    finish_run(ctx.store, ctx.run_id, "cancelled")
    ctx.emit(RunFinished(ctx.run_id, status="cancelled"))


def summarize(store: Store, run_id: int, *, status: str | None = None, wall_s: float = 0.0,
              extra_usage: dict[str, float] | None = None) -> RunSummary:
    run = get_run(store, run_id)
    pairs = tq.pair_table(store, run_id)
    counts = tq.run_counts(store, run_id)
    recalls = [p["recall"] for p in pairs if p["recall"] is not None]
    usage = tq.run_usage(store, run_id)
    extra = extra_usage or {}
    return RunSummary(
        run_id=run_id, status=status or (run.status if run else "unknown"), total=len(pairs), counts=counts,
        kept=counts.get("kept", 0), scored=counts.get("kept", 0) + counts.get("below_threshold", 0),
        mean_recall=(sum(recalls) / len(recalls)) if recalls else None,
        prompt_tokens=usage["prompt_tokens"] + int(extra.get("prompt_tokens", 0)),
        completion_tokens=usage["completion_tokens"] + int(extra.get("completion_tokens", 0)),
        cost=usage["cost"] + float(extra.get("cost", 0.0)), wall_s=wall_s, pairs=pairs,
    )


async def _run_task(ctx: _RunContext, task: tq.TaskRow) -> None:
    ctx.write_soon(task.id, tq.set_task_state, task.id, "running", None, then=lambda: ctx.emit(
        TaskStateChanged(ctx.run_id, task_id=task.id, state="running", reason=None)))
    ctx.emit(TaskStarted(ctx.run_id, task_id=task.id, function=task.function or "", file=task.file or "",
                         category=task.category or "", instruction=task.instruction or ""))
    try:
        state, reason = await _pair(ctx, task)
    except _Cancelled:
        state, reason = "cancelled", "run cancelled while the task was in flight"
    except Exception as exc:
        log.exception("task %s failed", task.id)
        state, reason = "rollout_failed:error", f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500]
    # The worker takes its next task now; the final state is written once the task's rows are in.
    ctx.track(asyncio.ensure_future(_finalize(ctx, task.id, state, reason)))


async def _finalize(ctx: _RunContext, task_id: int, state: str, reason: str | None) -> None:
    for fut in ctx.task_writes.pop(task_id, []):
        try:
            await fut
        except Exception as exc:  # a row of the task could not be stored: the pair cannot be trusted
            log.error("task %s: a store write failed: %s", task_id, exc)
            if state not in ("cancelled",) and not state.startswith("rollout_failed"):
                state, reason = "rollout_failed:error", (
                    f"the store rejected a write: {type(exc).__name__}: {' '.join(str(exc).split())}"[:500])
    await asyncio.wrap_future(ctx.store.write(tq.set_task_state, task_id, state, reason))
    ctx.emit(TaskStateChanged(ctx.run_id, task_id=task_id, state=state, reason=reason))


async def _reusable(ctx: _RunContext, task_id: int, stage: str) -> _Outcome | None:
    """A rollout of this stage that already ended (kept across a resume)."""
    if not ctx.resuming:
        return None
    done = [r for r in await _db(tq.task_rollouts, ctx.store, task_id)
            if r.stage == stage and r.status == "finished" and (r.exit_reason or "") not in _REDO_EXITS]
    if not done:
        return None
    r = done[-1]
    return _Outcome(r.id, r.exit_reason or "", r.patch or "")


async def _pair(ctx: _RunContext, task: tq.TaskRow) -> tuple[str, str | None]:
    prefetched = ctx.prefetched.pop(task.id, None)
    t1 = await _reusable(ctx, task.id, "T1")
    t2 = await _reusable(ctx, task.id, "T2") if t1 is not None else None
    t2_job: Any = None

    def open_t2() -> None:
        # Rollout 2's checkout is made while rollout 1 runs: the git work is spread over its
        # turns instead of landing, for every task at once, between rollout 1 and the judge.
        nonlocal t2_job
        if t2 is None and t2_job is None:
            t2_job = _open_sandbox(ctx, task, "T2")

    try:
        # Rollout 1: the vague instruction.
        if t1 is None:
            t1 = await _rollout(ctx, task, "T1", task.instruction or "", sandbox=prefetched, on_open=open_t2)
        elif prefetched is not None:
            ctx.close_later(prefetched)
        if t1.exit_reason != "submitted":
            return f"rollout_failed:{t1.exit_reason}", f"rollout 1 ended with {t1.exit_reason}" + (
                f": {t1.error}" if t1.error else "")
        if not t1.patch.strip():
            return "empty_patch", "rollout 1 submitted without changing any file"

        # Judge + synthetic PR.
        open_t2()
        accepted = await _db(tq.accepted_pr, ctx.store, task.id) if ctx.resuming else None
        if accepted is None:
            if ctx.resuming and any(a.judge_verdict is False
                                    for a in await _db(tq.pr_attempts, ctx.store, task.id)):
                return "judged_invalid", "the teacher judged rollout 1 not a valid change for its instruction"
            pr_text, reason = await _judge_and_write(ctx, task, t1)
            if pr_text is None:
                return "judged_invalid", reason
        else:
            pr_text = accepted.pr_text or ""
        # Rollout 2: the PR alone, fresh checkout at the same base commit.
        if t2 is None:
            job, t2_job = t2_job, None
            ctx.prefetch_next()
            t2 = await _rollout(ctx, task, "T2", pr_text, sandbox=job)
    finally:
        if t2_job is not None:
            ctx.close_later(t2_job)
    if t2.exit_reason != "submitted":
        return f"rollout_failed:{t2.exit_reason}", f"rollout 2 ended with {t2.exit_reason}" + (
            f": {t2.error}" if t2.error else "")

    # Soft verification: both recall modes stored; the run's threshold decides.
    from engine.verify import MODES, PatchError, recall

    scores, results = [], {}
    for mode in MODES:
        try:
            res = recall(t1.patch, t2.patch or "", mode)  # type: ignore[arg-type]
        except PatchError:
            res = None
        if res is None and not (t2.patch or "").strip():
            scores.append(dict(mode=mode, recall=0.0, matched=0, total=_count_target(t1.patch), matched_lines=[]))
            results[mode] = (0.0, 0, scores[-1]["total"])
            continue
        if res is None:
            scores.append(dict(mode=mode, recall=None, matched=0, total=0, matched_lines=[]))
            results[mode] = (None, 0, 0)
            continue
        scores.append(dict(mode=mode, recall=res.recall, matched=res.matched, total=res.total,
                           matched_lines=res.matched_indices))
        results[mode] = (res.recall, res.matched, res.total)
    ctx.write_soon(task.id, tq.replace_scores, task.id, scores)
    r_sera, matched, total = results.get("sera", (None, 0, 0))
    kept = r_sera is not None and r_sera >= ctx.config.threshold
    ctx.emit(PairScored(ctx.run_id, task_id=task.id, recall=r_sera, recall_per_file=results.get("per-file", (None,))[0],
                        matched=matched, total=total, kept=kept))
    if kept:
        return "kept", f"recall {r_sera:.2f} >= threshold {ctx.config.threshold:.2f}"
    if r_sera is None:
        return "below_threshold", "recall undefined: rollout 1's patch has no changed lines to match"
    note = " (rollout 2's patch is empty)" if not (t2.patch or "").strip() else ""
    return "below_threshold", f"recall {r_sera:.2f} < threshold {ctx.config.threshold:.2f}{note}"


def _count_target(patch: str) -> int:
    from engine.verify import changed_line_count

    return changed_line_count(patch)


async def _cancellable(ctx: _RunContext, coro: Any) -> Any:
    """Await `coro` unless the run is cancelled first (then raise _Cancelled)."""
    job = asyncio.ensure_future(coro)
    stop = asyncio.ensure_future(ctx.cancel.wait())
    try:
        done, _ = await asyncio.wait({job, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    if job in done:
        return job.result()
    job.cancel()
    try:
        await job
    except BaseException:  # noqa: BLE001 - we only wait for it to stop
        pass
    raise _Cancelled()


def _record_attempt(ctx: _RunContext, task_id: int, attempt: int, **row: Any) -> None:
    """One judge/PR attempt row; its event (with the PR only when accepted) goes out once the row is committed."""
    written = PRWritten(ctx.run_id, task_id=task_id, attempt=attempt, judge_verdict=row["judge_verdict"],
                        pr_text=(row["pr_text"] or "") if row["accepted"] else "")
    ctx.write_soon(task_id, tq.add_pr_attempt, task_id=task_id, attempt=attempt, then=lambda: ctx.emit(written),
                   **row)


async def _judge_and_write(ctx: _RunContext, task: tq.TaskRow, t1: _Outcome) -> tuple[str | None, str]:
    """Up to N attempts, each recorded in `prs`; (pr_text, "") or (None, reason)."""
    from store.rollouts import get_messages

    steps = format_trajectory(t1.messages if t1.messages is not None
                              else await _db(get_messages, ctx.store, t1.rollout_id))
    previous = await _db(tq.pr_attempts, ctx.store, task.id) if ctx.resuming else []
    verdict: bool | None = True if any(a.judge_verdict for a in previous) else None
    judge_text: str | None = next((a.judge_text for a in previous if a.judge_verdict), None)
    feedback: str | None = None
    last_problem = "no attempt made"
    first = len(previous) + 1
    for attempt in range(first, first + ctx.config.judge_attempts):
        demo = pick_demonstration(ctx.demos, random.Random(f"{ctx.config.seed}:{task.id}:{attempt}"))
        try:
            if verdict is None:
                answer, comp = await _cancellable(ctx, ask_judge(
                    ctx.client, instruction=task.instruction or "", trajectory=steps, patch=t1.patch,
                    temperature=ctx.config.temperature))
                ctx.add_usage(comp)
                judge_text = answer.text
                if answer.verdict is None:
                    last_problem = "the judge's answer did not start with YES or NO"
                    _record_attempt(ctx, task.id, attempt, judge_verdict=None,
                                    judge_text=judge_text, pr_text=None, demo_source=None, accepted=False,
                                    error=last_problem)
                    continue
                if answer.verdict is False:
                    _record_attempt(ctx, task.id, attempt, judge_verdict=False,
                                    judge_text=judge_text, pr_text=None, demo_source=None, accepted=False)
                    return None, "the teacher judged rollout 1 not a valid change for its instruction"
                verdict = True
            pr_text, comp = await _cancellable(ctx, ask_pr(
                ctx.client, trajectory=steps, patch=t1.patch, demonstration=demo.text,
                function=task.function or "", file=task.file or "", temperature=ctx.config.temperature,
                feedback=feedback))
            ctx.add_usage(comp)
        except _Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - a model error costs one attempt, recorded
            last_problem = f"teacher call failed: {type(exc).__name__}: {' '.join(str(exc).split())}"[:300]
            _record_attempt(ctx, task.id, attempt, judge_verdict=verdict,
                            judge_text=judge_text, pr_text=None, demo_source=demo.source, accepted=False,
                            error=last_problem)
            continue
        problem = pr_problem(pr_text)
        _record_attempt(ctx, task.id, attempt, judge_verdict=True, judge_text=judge_text, pr_text=pr_text,
                        demo_source=demo.source, accepted=problem is None, error=problem)
        if problem is None:
            return pr_text, ""
        feedback = last_problem = f"the PR was rejected because {problem}"
    return None, f"no acceptable PR after {ctx.config.judge_attempts} attempts ({last_problem})"


def _open_sandbox(ctx: _RunContext, task: tq.TaskRow, stage: str) -> Any:
    """Start a checkout and return its PendingSandbox at once; git works on the pipeline's threads,
    off the event loop, while the rollout already talks to the model."""
    from engine.sandbox import start_sandbox

    return start_sandbox(ctx.repo_path, ctx.base_commit, ctx.runs_dir, backend=ctx.config.sandbox,
                         name=f"run{ctx.run_id}-task{task.id}-{stage}", run=_git)


async def _rollout(ctx: _RunContext, task: tq.TaskRow, stage: str, task_text: str,
                   sandbox: Any = None, on_open: Any = None) -> _Outcome:
    """One agent rollout in a fresh sandbox at the run's base commit (started here or ahead of
    time); `on_open()` runs once its checkout exists."""
    from engine.agent import run_rollout

    if ctx.cancel.is_set():
        if sandbox is not None:
            ctx.close_later(sandbox)
        raise _Cancelled()
    try:
        sandbox = sandbox if sandbox is not None else _open_sandbox(ctx, task, stage)
    except Exception as exc:  # noqa: BLE001 - no sandbox, no rollout: record why
        return _Outcome(0, "sandbox_error", "", f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300])
    if on_open is not None:
        sandbox.when_ready(on_open)
    try:
        result = await run_rollout(
            client=ctx.client, sandbox=sandbox, task_text=task_text, config=_agent_config(ctx.config),
            store=ctx.store, bus=ctx.bus, run_id=ctx.run_id, task_id=task.id, stage=stage, cancel=ctx.cancel,
            exclude=tuple(ctx.config.exclude_paths), durable=False)
    finally:
        ctx.close_later(sandbox)
    if result.committed is not None:
        ctx.task_writes.setdefault(task.id, []).append(result.committed)
    if result.exit_reason == "cancelled" or ctx.cancel.is_set():
        raise _Cancelled()
    return _Outcome(result.rollout_id, result.exit_reason, result.patch or "", getattr(result, "error", None),
                    result.messages)


async def _close_sandbox(sandbox: Any) -> None:
    try:
        await sandbox.ready()
    except Exception:  # noqa: BLE001 - the checkout never came to be; nothing to remove
        return
    try:
        await _git(sandbox.close)
    except Exception:
        log.exception("closing sandbox failed")


def _runs_dir(workspace: Workspace, config: GenerateConfig, repo_path: str, commit: str) -> Path:
    """Where this run's checkouts go: T1, T2 and a prefetched T1 per task in flight at most."""
    from engine.sandbox import SandboxError
    from engine.sandbox.scratch import choose_runs_dir

    if config.sandbox != "local":  # a docker daemon mounts host paths it may not share with us
        return workspace.runs_dir
    try:
        runs_dir = choose_runs_dir(workspace.runs_dir, repo_path, commit, 3 * config.concurrency, config.checkouts)
    except SandboxError as exc:
        raise GenerateError(str(exc)) from None
    if runs_dir != workspace.runs_dir:
        _sweep_dead_checkouts(runs_dir)
    return runs_dir


_CHECKOUT_NAME = re.compile(r"run(\d+)-task(\d+)-T[12](-\d+)?")  # as _open_sandbox names them


def _remove_checkouts(runs_dir: Path, dead: Any) -> None:
    """Remove the checkouts in `runs_dir` for which `dead(run_id, task_id)` is true (only ours)."""
    from engine.sandbox import remove_tree

    if not runs_dir.is_dir():
        return
    for path in runs_dir.iterdir():
        m = _CHECKOUT_NAME.fullmatch(path.name)
        if m and dead(int(m.group(1)), int(m.group(2))):
            remove_tree(path)


def _sweep_dead_checkouts(runs_dir: Path) -> None:
    """Remove checkouts a killed process left in memory (they would hold RAM until a reboot, and a
    run may never be resumed). Only this process can be running the workspace's runs now (the store
    takes one writing process), so a checkout of a run not active here is dead."""
    _remove_checkouts(runs_dir, lambda run_id, _task_id: run_id not in _ACTIVE_RUNS)


def _remove_stale_checkouts(workspace: Workspace, run_id: int, task_ids: list[int]) -> None:
    """Checkouts left by a dead process for tasks about to be redone (on disk or in memory)."""
    from engine.sandbox.scratch import ram_runs_dir

    redo = set(task_ids)
    for runs in (workspace.runs_dir, ram_runs_dir(workspace.runs_dir)):
        _remove_checkouts(runs, lambda run, task: run == run_id and task in redo)


__all__ = [
    "GenerateConfig",
    "GenerateError",
    "RunSummary",
    "StoreError",
    "check_endpoints",
    "resume_generate",
    "run_generate",
    "summarize",
]
