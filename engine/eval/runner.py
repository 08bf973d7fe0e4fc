"""Running an evaluation: models × seeds × tasks, each a fresh sandboxed rollout, scored and stored.

`run_eval` is synchronous (the TUI calls it in a thread worker; `cancel` may be a threading.Event);
`arun_eval` is the same inside a running event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from engine.agent import AgentConfig, run_rollout
from engine.eval.tasks import EvalTask
from engine.events import EvalProgress, EventBus, RunFinished, RunStarted
from engine.verify import PatchError, recall
from engine.workspace import Workspace
from store import evals as q
from store.db import Store
from store.runs import create_run, finish_run

TEST_OUTPUT_CHARS = 4000


@dataclass
class ModelSpec:
    name: str
    base_urls: list[str] = field(default_factory=list)
    provider: str = "openai"
    api_key: str | None = None
    budget_cost: float | None = None  # what it cost to make this model (for `sera budget`)


@dataclass
class EvalConfig:
    models: list[ModelSpec]
    tasks: list[EvalTask]
    tasks_spec: str = "heldout"        # what the tasks came from, for the record
    seeds: int = 3
    agent: AgentConfig = field(default_factory=AgentConfig)
    sandbox_backend: str = "local"
    test_timeout_s: float = 600.0
    concurrency: int = 1
    recall_mode: str = "sera"
    client_options: dict[str, Any] = field(default_factory=dict)  # passed to make_client (timeouts, retries)


@dataclass
class EvalReport:
    group: str
    run_id: int
    status: str                        # finished | cancelled | failed
    models: list[dict[str, Any]]       # per model: name, eval_run_id, summary (store.evals.eval_summary)


def run_eval(store: Store, workspace: Workspace, config: EvalConfig, bus: EventBus | None = None,
             cancel: threading.Event | asyncio.Event | None = None) -> EvalReport:
    return asyncio.run(arun_eval(store, workspace, config, bus=bus, cancel=cancel))


async def arun_eval(store: Store, workspace: Workspace, config: EvalConfig, bus: EventBus | None = None,
                    cancel: threading.Event | asyncio.Event | None = None) -> EvalReport:
    from engine.models import make_client

    if not config.models:
        raise ValueError("no model to evaluate")
    if not config.tasks:
        raise ValueError("no task to evaluate on")
    if config.seeds < 1:
        raise ValueError("seeds must be at least 1")
    workspace.ensure()
    group = uuid.uuid4().hex[:12]
    repo_ids = {t.repo_id for t in config.tasks}
    repo_id = repo_ids.pop() if len(repo_ids) == 1 else None
    run_id = create_run(store, "eval", repo_id=repo_id, config={
        "group": group, "models": [m.name for m in config.models], "tasks": config.tasks_spec,
        "seeds": config.seeds})
    total = len(config.models) * config.seeds * len(config.tasks)
    emit = bus.emit if bus else (lambda e: None)
    emit(RunStarted(run_id, kind="eval", total=total))
    stop = asyncio.Event()
    watcher = asyncio.create_task(_watch(cancel, stop))
    sem = asyncio.Semaphore(max(1, config.concurrency))
    done = 0
    lock = asyncio.Lock()
    reports: list[dict[str, Any]] = []
    status, error = "finished", None
    try:
        for spec in config.models:
            eval_run_id = q.create_eval_run(
                store, model=spec.name, base_url=",".join(spec.base_urls) or None, tasks_spec=config.tasks_spec,
                seeds=config.seeds, repo_id=repo_id,
                config={"group": group, "run_id": run_id, "provider": spec.provider, "budget_cost": spec.budget_cost,
                        "temperature": config.agent.temperature, "step_limit": config.agent.step_limit,
                        "recall_mode": config.recall_mode, "tasks": [t.ref for t in config.tasks]})
            client = make_client(spec.name, spec.base_urls or None, provider=spec.provider,  # type: ignore[arg-type]
                                 api_key=spec.api_key, **config.client_options)

            async def one(seed: int, task: EvalTask, spec: ModelSpec = spec, eval_run_id: int = eval_run_id,
                          client: Any = client) -> None:
                nonlocal done
                async with sem:
                    if stop.is_set():
                        return
                    res = await _evaluate_one(store, workspace, config, client, spec, task, seed, run_id, stop)
                if res["exit_reason"] == "cancelled":
                    return  # an interrupted attempt is no score (its rollout stays stored)
                q.add_eval_result(store, eval_run_id=eval_run_id, seed=seed, task_ref=task.ref, task_id=task.task_id,
                                  **res)
                async with lock:
                    done += 1
                    shown = "-" if res["recall"] is None else f"{res['recall']:.2f}"
                    tests = "" if res["tests_passed"] is None else (" tests pass" if res["tests_passed"]
                                                                     else " tests FAIL")
                    emit(EvalProgress(run_id, eval_run_id=eval_run_id, done=done, total=total, seed=seed,
                                      task_ref=task.ref, recall=res["recall"],
                                      log_line=f"{spec.name} seed {seed} {task.ref}: recall {shown}{tests} "
                                               f"({res['exit_reason']})"))

            jobs = [(seed, task) for seed in range(config.seeds) for task in config.tasks]
            try:
                if config.concurrency <= 1:
                    for seed, task in jobs:  # one at a time, in order: seed 0 on every task, then seed 1 …
                        await one(seed, task)
                else:
                    await asyncio.gather(*(one(seed, task) for seed, task in jobs))
            finally:
                await _close(client)
            status = "cancelled" if stop.is_set() else "finished"
            q.finish_eval_run(store, eval_run_id, status=status)
            reports.append({"model": spec.name, "eval_run_id": eval_run_id,
                            "summary": q.eval_summary(store, eval_run_id)})
            if stop.is_set():
                break
    except BaseException as exc:
        status, error = ("cancelled", None) if isinstance(exc, asyncio.CancelledError) else ("failed", str(exc))
        for row in q.list_eval_runs(store, group=group):
            if row.status == "running":
                q.finish_eval_run(store, row.id, status=status, error=error)
        raise
    finally:
        watcher.cancel()
        finish_run(store, run_id, status, error)
        emit(RunFinished(run_id, status=status, error=error, summary={
            "group": group, "models": {r["model"]: {"mean": r["summary"]["mean"], "std": r["summary"]["std"]}
                                       for r in reports}}))
    return EvalReport(group, run_id, status, reports)


async def _watch(cancel: threading.Event | asyncio.Event | None, stop: asyncio.Event) -> None:
    """Bridge a caller's cancel flag (thread or asyncio event) to the rollouts' asyncio event."""
    if cancel is None:
        return
    while not cancel.is_set():
        await asyncio.sleep(0.1)
    stop.set()


async def _evaluate_one(store: Store, workspace: Workspace, config: EvalConfig, client: Any, spec: ModelSpec,
                        task: EvalTask, seed: int, run_id: int, stop: asyncio.Event) -> dict[str, Any]:
    from engine.sandbox import SandboxError, create_sandbox

    try:
        sandbox = await asyncio.to_thread(create_sandbox, task.repo_path, task.base_commit, workspace.runs_dir,
                                          config.sandbox_backend, f"eval-{run_id}-{seed}-{_slug(task.ref)}")
    except SandboxError as exc:
        # The task's checkout failed (bad commit?): a failed attempt, recorded, not a crash of the whole run.
        return {"rollout_id": None, "recall": 0.0 if task.reference_patch else None, "tests_passed": None,
                "exit_reason": f"sandbox_error: {exc}"[:200], "cost": 0.0}
    try:
        # Eval rollouts are not tied to the task row: they must never look like SVG pairs to curation.
        agent = dataclasses.replace(config.agent, seed=seed)  # the seed reaches the model, not just our records
        result = await run_rollout(client=client, sandbox=sandbox, task_text=task.task_text, config=agent,
                                   store=store, run_id=run_id, task_id=None, stage="eval", cancel=stop)
        try:
            score = recall(task.reference_patch, result.patch, config.recall_mode).recall  # type: ignore[arg-type]
        except PatchError:
            score = None  # a reference that is not a diff: nothing to score against
        tests_passed = None
        if task.test_cmd and result.exit_reason != "cancelled":
            out = await sandbox.run(task.test_cmd, config.test_timeout_s)
            tests_passed = out.exit_code == 0 and not out.timed_out
        return {"rollout_id": result.rollout_id, "recall": score, "tests_passed": tests_passed,
                "exit_reason": result.exit_reason, "cost": result.cost}
    finally:
        await asyncio.to_thread(sandbox.close)


def _slug(ref: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in ref)[:40]


async def _close(client: Any) -> None:
    """Close a model client's connections (they belong to this event loop); best effort."""
    close = getattr(client, "aclose", None)
    if close is not None:
        try:
            await asyncio.shield(close())
        except Exception:  # noqa: BLE001 - the evaluation's outcome stands
            pass
