"""The agent loop: system + task prompt, tool calls run in order, observations appended, every
message persisted and announced the moment it exists. Small enough to read in one sitting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.events import EventBus, MessageAdded, RolloutFinished, RolloutStarted
from engine.models.base import ContextExceededError, ModelClient, ModelError, estimate_tokens, message_tokens
from engine.prompts import NUDGE, SYSTEM_PROMPT, TASK_TEMPLATE, render_task
from engine.sandbox.base import Sandbox, SandboxError
from engine.tools.clip import clip
from engine.tools.dispatch import ToolRunner
from engine.tools.schema import openai_tools
from engine.trajectory import Message
from store import rollouts as q
from store.db import Store

EXIT_REASONS = ("submitted", "step_limit", "context_exceeded", "model_error", "sandbox_error", "cancelled")


@dataclass
class AgentConfig:
    step_limit: int = 115  # model turns (SERA: 115)
    temperature: float = 0.6
    max_context_tokens: int = 32768
    bash_timeout_s: float = 300.0
    output_limit: int = 16000
    max_tokens: int | None = None
    seed: int | None = None  # sent with every model call (evaluation seeds); None: the server's own
    system_prompt: str = SYSTEM_PROMPT
    task_template: str = TASK_TEMPLATE
    tools: list[dict[str, Any]] = field(default_factory=openai_tools)


@dataclass
class RolloutResult:
    rollout_id: int | None
    exit_reason: str
    patch: str
    messages: list[Message]
    steps: int
    prompt_tokens: int
    completion_tokens: int
    cost: float
    error: str | None
    # durable=False: resolves once the rollout's rows are committed (raises if one was refused)
    committed: asyncio.Future | None = None


class _Cancelled(Exception):
    pass


class _Rollout:
    """State of one running rollout; `run` drives it."""

    def __init__(self, *, client: ModelClient, sandbox: Sandbox, task_text: str, config: AgentConfig,
                 store: Store | None, bus: EventBus | None, run_id: int | None, task_id: int | None,
                 stage: str, cancel: asyncio.Event | None, exclude: Sequence[str]):
        self.client, self.sandbox, self.config = client, sandbox, config
        self.task_text, self.store, self.bus = task_text, store, bus
        self.run_id, self.task_id, self.stage = run_id, task_id, stage
        self.cancel = cancel or asyncio.Event()
        self.exclude = list(exclude)
        self.messages: list[Message] = []
        self.rollout_id: int | None = None
        self.steps = self.prompt_tokens = self.completion_tokens = 0
        self.cost = 0.0
        self.context_tokens = 0  # best estimate of the next request's prompt size
        self.tools = ToolRunner(sandbox, bash_timeout_s=config.bash_timeout_s, output_limit=config.output_limit)
        self._writes: asyncio.Future | None = None  # the last pending message INSERT (they chain in order)
        self._created: Any = None  # the rollout row's INSERT (a concurrent Future of its id)
        self.patch: str | None = None  # set at submit

    # -- persistence & events -----------------------------------------------------------------
    async def add(self, message: Message) -> None:
        """Append a message; its INSERT starts now, in order, off the loop. The loop does not wait for
        the fsync: it overlaps the next model call or command. The event is emitted once the row is
        written, so anything shown from an event is already in the store."""
        if message.tokens is None:
            message.tokens = message_tokens(message)
        idx = len(self.messages)
        self.messages.append(message)
        if message.role != "assistant":
            self.context_tokens += message.tokens
        if self.store is None or self._created is None:
            self._emit_added(idx, message)
            return
        progress = (self.steps, self.prompt_tokens, self.completion_tokens, self.cost) \
            if message.role == "assistant" else None
        # Queued now, so rows land in message order; group-committed by the store's writer thread
        # (concurrent rollouts share one disk sync).
        written = self.store.write_merged(q.add_messages, (self._created, idx, message, progress))
        self._writes = asyncio.ensure_future(self._announce(self._writes, written, idx, message))

    async def _announce(self, previous: asyncio.Future | None, written: Any, idx: int, message: Message) -> None:
        if previous is not None:
            await previous  # events in order; an earlier failed write fails the chain
        await asyncio.wrap_future(written)
        self._emit_added(idx, message)

    def _emit_added(self, idx: int, message: Message) -> None:
        self._emit(MessageAdded(self.run_id, rollout_id=self.rollout_id or 0, task_id=self.task_id,
                                stage=self.stage, index=idx, message=message))

    async def flush(self) -> None:
        """Wait until every message so far is in the store (raises if a write failed)."""
        if self._writes is not None:
            await asyncio.shield(self._writes)

    async def start(self) -> None:
        """Queue the rollout's row and go on: the first model call does not wait for the commit.
        Its messages are queued behind it and take its id on the writer thread."""
        if self.store is None:
            self._emit_started()
            return
        self._created = self.store.write(
            q.create_rollout, run_id=self.run_id, task_id=self.task_id, stage=self.stage,
            model=self.client.model, task_text=self.task_text, worktree=str(self.sandbox.root))
        self._writes = asyncio.ensure_future(self._announce_start(self._created))

    async def _announce_start(self, created: Any) -> None:
        self.rollout_id = await asyncio.wrap_future(created)
        self._emit_started()

    def _emit_started(self) -> None:
        self._emit(RolloutStarted(self.run_id, rollout_id=self.rollout_id or 0, task_id=self.task_id,
                                  stage=self.stage, model=self.client.model))

    # -- the loop -----------------------------------------------------------------------------
    async def run(self) -> tuple[str, str | None]:
        await self.add(Message(role="system", content=self.config.system_prompt))
        await self.add(Message(role="user", content=render_task(self.task_text, self.sandbox.display_root,
                                                                self.config.task_template)))
        while True:
            if self.cancel.is_set():
                return "cancelled", None
            if self._writes is not None and self._writes.done() and self._writes.exception() is not None:
                exc = self._writes.exception()  # no point going on when the trajectory cannot be kept
                return "sandbox_error", f"the store rejected a message: {type(exc).__name__}: {exc}"
            if self.steps >= self.config.step_limit:
                return "step_limit", None
            if self.context_tokens > self.config.max_context_tokens:
                return "context_exceeded", (f"about {self.context_tokens} tokens of context needed, more than "
                                            f"max_context_tokens={self.config.max_context_tokens}")
            self.sandbox.prewarm()  # e.g. start the next bash's sandbox while the model thinks
            try:
                completion = await self._race(self.client.complete(
                    list(self.messages), self.config.tools, temperature=self.config.temperature,
                    max_tokens=self.config.max_tokens, seed=self.config.seed))
            except ContextExceededError as exc:
                return "context_exceeded", str(exc)
            except ModelError as exc:
                return "model_error", str(exc)
            self.steps += 1
            self.prompt_tokens += completion.prompt_tokens
            self.completion_tokens += completion.completion_tokens
            self.cost += completion.cost
            msg = completion.message
            msg.tokens = msg.tokens or completion.completion_tokens or message_tokens(msg)
            # The server's count of the prompt just sent is the best base for the next estimate.
            if completion.prompt_tokens:
                self.context_tokens = completion.prompt_tokens
            self.context_tokens += msg.tokens
            await self.add(msg)
            if not msg.tool_calls:
                await self.add(Message(role="user", content=NUDGE))
                continue
            for call in msg.tool_calls:
                if self.cancel.is_set():
                    return "cancelled", None
                outcome = await self._race(self.tools.execute(call))
                if outcome.submitted:
                    self.patch = await self.sandbox.apatch(self.exclude)
                    outcome.observation = clip(self.patch, self.config.output_limit) or "(empty patch)"
                await self.add(Message(role="tool", content=outcome.observation, tool_call_id=call.id,
                                       name=call.name, tool_time_ms=round(outcome.tool_time_ms, 3),
                                       tool_error=outcome.error, tokens=estimate_tokens(outcome.observation)))
                if outcome.submitted:
                    return "submitted", None

    async def _race(self, coro):
        """Await `coro` unless the cancel event fires first (then the coroutine is cancelled)."""
        if self.cancel.is_set():
            coro.close()
            raise _Cancelled
        task = asyncio.ensure_future(coro)
        waiter = asyncio.ensure_future(self.cancel.wait())
        try:
            done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if task in done:
            return task.result()
        task.cancel()
        try:
            await task
        except BaseException:  # we are abandoning it
            pass
        raise _Cancelled

    async def finish(self, exit_reason: str, error: str | None, durable: bool = True) -> RolloutResult:
        try:
            await self.sandbox.discard_prewarm()  # no command is coming any more
        except Exception:  # noqa: BLE001 - a shell that will not die is killed with the sandbox
            pass
        if durable:
            try:
                await self.flush()
            except Exception as exc:  # keep going: the rollout row still gets its end state
                error = error or f"a message could not be stored: {type(exc).__name__}: {exc}"
        patch = self.patch
        if patch is None:
            try:  # a rollout that did not submit still shows what it changed
                patch = await self.sandbox.apatch(self.exclude)
            except Exception as exc:
                patch = ""
                error = error or f"could not compute the patch: {exc}"
        if self._created is not None:
            try:
                self.rollout_id = await asyncio.wrap_future(self._created)  # committed steps ago
            except Exception as exc:
                error = error or f"the rollout could not be stored: {type(exc).__name__}: {exc}"
        finished = RolloutFinished(self.run_id, rollout_id=self.rollout_id or 0, task_id=self.task_id,
                                   stage=self.stage, exit_reason=exit_reason, patch=patch, steps=self.steps,
                                   prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens,
                                   cost=self.cost)
        committed = None
        if self.store is not None and self.rollout_id is not None:
            # Queued after every message row, so a finished rollout never lacks one.
            written = self.store.write(q.finish_rollout, self.rollout_id, exit_reason, patch, self.steps,
                                       self.prompt_tokens, self.completion_tokens, self.cost, error)
            if durable:
                await asyncio.wrap_future(written)
                self._emit(finished)
            else:
                committed = asyncio.ensure_future(self._committed(written, finished))
        else:
            self._emit(finished)
        return RolloutResult(self.rollout_id, exit_reason, patch, self.messages, self.steps, self.prompt_tokens,
                             self.completion_tokens, self.cost, error, committed)

    async def _committed(self, written: Any, finished: RolloutFinished) -> None:
        await self.flush()
        await asyncio.wrap_future(written)
        self._emit(finished)

    def _emit(self, event: Any) -> None:
        if self.bus is not None:
            self.bus.emit(event)


async def run_rollout(*, client: ModelClient, sandbox: Sandbox, task_text: str, config: AgentConfig,
                      store: Store | None = None, bus: EventBus | None = None, run_id: int | None = None,
                      task_id: int | None = None, stage: str = "single", cancel: asyncio.Event | None = None,
                      exclude: Sequence[str] = (), durable: bool = True) -> RolloutResult:
    """Run one rollout to its end and return what happened. Never raises for model/sandbox failures:
    they become exit reasons. Cancelling the calling task records `cancelled` before re-raising.

    durable=False returns without waiting for the last rows to commit (`result.committed` does):
    a pipeline goes on to its next step while the disk syncs."""
    r = _Rollout(client=client, sandbox=sandbox, task_text=task_text, config=config, store=store, bus=bus,
                 run_id=run_id, task_id=task_id, stage=stage, cancel=cancel, exclude=exclude)
    await r.start()
    try:
        reason, error = await r.run()
    except _Cancelled:
        reason, error = "cancelled", None
    except SandboxError as exc:
        reason, error = "sandbox_error", str(exc)
    except asyncio.CancelledError:
        await asyncio.shield(r.finish("cancelled", "the rollout task was cancelled"))
        raise
    except Exception as exc:  # a bug or an unexpected client failure: record it, don't lose the run
        reason, error = ("sandbox_error" if isinstance(exc, OSError) else "model_error"), \
            f"{type(exc).__name__}: {exc}"
    return await r.finish(reason, error, durable)
