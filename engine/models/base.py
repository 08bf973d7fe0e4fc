"""The one async interface every model client implements (OpenAI, Anthropic, demo teacher)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from engine.trajectory import Message


class ModelError(Exception):
    """The model could not answer (after retries): the rollout ends as `model_error`."""


class ContextExceededError(ModelError):
    """The prompt does not fit the model's context: the rollout ends as `context_exceeded`."""


@dataclass
class Completion:
    message: Message  # role=assistant: content, reasoning, tool_calls, tokens, latency
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    cost: float


@runtime_checkable
class ModelClient(Protocol):
    model: str
    label: str  # what the UI shows next to its output, e.g. "demo — not a language model"

    async def complete(self, messages: list[Message], tools: list[dict[str, Any]] | None, *,
                       temperature: float = 0.6, max_tokens: int | None = None,
                       purpose: str = "agent", seed: int | None = None) -> Completion: ...


def estimate_tokens(text: str | None) -> int:
    """Cheap token estimate (about 4 characters per token) for budgeting without a tokenizer."""
    return (len(text) + 3) // 4 if text else 0


def message_tokens(m: Message) -> int:
    n = 4 + estimate_tokens(m.content) + estimate_tokens(m.reasoning)
    for c in m.tool_calls:
        n += estimate_tokens(c.name) + estimate_tokens(c.arguments) + 4
    return n
