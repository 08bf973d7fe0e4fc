"""Anthropic Messages client through the `anthropic` SDK, mapped to the same Message model.

tool_use blocks <-> ToolCall, tool_result blocks <-> role=tool messages, thinking blocks -> reasoning.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import anthropic

from engine.models.base import Completion, ContextExceededError, ModelError
from engine.models.endpoints import Endpoint, EndpointPool, RetryableError, retry_after, with_retries
from engine.models.openai_client import is_context_error
from engine.models.prices import PriceTable
from engine.trajectory import Message, ToolCall


def to_anthropic_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for t in tools:
        fn = t.get("function", t)
        out.append({"name": fn["name"], "description": fn.get("description", ""),
                    "input_schema": fn.get("parameters") or fn.get("input_schema") or {"type": "object"}})
    return out


def to_anthropic_messages(messages: list[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """(system, messages): tool results become user turns; consecutive same-role turns merge."""
    system_parts: list[str] = []
    out: list[dict[str, Any]] = []

    def push(role: str, blocks: list[dict[str, Any]]) -> None:
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for m in messages:
        if m.role == "system":
            system_parts.append(m.content or "")
        elif m.role == "user":
            push("user", [{"type": "text", "text": m.content or ""}])
        elif m.role == "tool":
            push("user", [{"type": "tool_result", "tool_use_id": m.tool_call_id or "",
                           "content": m.content or "", **({"is_error": True} if m.tool_error else {})}])
        else:
            blocks: list[dict[str, Any]] = []
            if m.content:
                blocks.append({"type": "text", "text": m.content})
            for c in m.tool_calls:
                try:
                    args = c.parsed_arguments()
                except ValueError:
                    args = {"_raw": c.arguments}  # malformed JSON stays visible to the model
                blocks.append({"type": "tool_use", "id": c.id, "name": c.name, "input": args})
            push("assistant", blocks or [{"type": "text", "text": ""}])
    return ("\n\n".join(system_parts) or None), out


def from_anthropic_content(blocks: list[dict[str, Any]]) -> Message:
    texts, thinking, calls = [], [], []
    for b in blocks:
        kind = b.get("type")
        if kind == "text":
            texts.append(b.get("text", ""))
        elif kind == "thinking":
            thinking.append(b.get("thinking", ""))
        elif kind == "redacted_thinking":
            thinking.append("[redacted thinking]")
        elif kind == "tool_use":
            calls.append(ToolCall(id=b["id"], name=b["name"], arguments=json.dumps(b.get("input") or {})))
    return Message(role="assistant", content="".join(texts), reasoning="\n".join(thinking) or None,
                   tool_calls=calls)


class AnthropicClient:
    def __init__(self, model: str, base_urls: list[str] | None, *, api_key: str | None = None,
                 prices: PriceTable | None = None, timeout_s: float = 600, max_retries: int = 5,
                 backoff_base_s: float = 0.5, cooldown_s: float = 5.0, default_max_tokens: int = 8192,
                 thinking_budget: int | None = None):
        self.model = model
        urls = base_urls or [os.environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com"]
        self.label = f"{model} @ {', '.join(urls)}"
        key = api_key or os.environ.get("ANTHROPIC_API_KEY") or "EMPTY"
        self.pool: EndpointPool[anthropic.AsyncAnthropic] = EndpointPool(
            [Endpoint(u, anthropic.AsyncAnthropic(base_url=u, api_key=key, timeout=timeout_s, max_retries=0))
             for u in urls], cooldown_s=cooldown_s)
        self.prices = prices or PriceTable()
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.default_max_tokens = default_max_tokens
        self.thinking_budget = thinking_budget

    async def aclose(self) -> None:
        for ep in self.pool.endpoints:
            await ep.client.close()

    async def complete(self, messages: list[Message], tools: list[dict[str, Any]] | None, *,
                       temperature: float = 0.6, max_tokens: int | None = None,
                       purpose: str = "agent", seed: int | None = None) -> Completion:
        # The Messages API has no sampling seed: `seed` is accepted for the common interface only.
        system, msgs = to_anthropic_messages(messages)
        payload: dict[str, Any] = {"model": self.model, "messages": msgs,
                                   "max_tokens": max_tokens or self.default_max_tokens}
        if system:
            payload["system"] = system
        if tools:
            payload["tools"] = to_anthropic_tools(tools)
        if self.thinking_budget:
            payload["thinking"] = {"type": "enabled", "budget_tokens": self.thinking_budget}
        else:  # newer SDKs dropped the keyword; the API still takes the field
            payload["extra_body"] = {"temperature": temperature}

        async def request(ep: Endpoint[anthropic.AsyncAnthropic]) -> tuple[Any, float]:
            t0 = time.perf_counter()
            try:
                resp = await ep.client.messages.create(**payload)
            except (anthropic.RateLimitError, anthropic.InternalServerError) as exc:
                raise RetryableError(f"{ep.url}: {exc.status_code} {exc.message}",
                                     retry_after(exc.response.headers)) from None
            except anthropic.APIStatusError as exc:
                if exc.status_code in (408, 409) or exc.status_code >= 500:
                    raise RetryableError(f"{ep.url}: {exc.status_code} {exc.message}") from None
                if is_context_error(exc.message):
                    raise ContextExceededError(exc.message) from None
                raise ModelError(f"{ep.url}: {exc.status_code} {exc.message}") from None
            except (anthropic.APITimeoutError, anthropic.APIConnectionError) as exc:
                raise RetryableError(f"{ep.url}: {type(exc).__name__}: {exc}") from None
            return resp, (time.perf_counter() - t0) * 1000

        resp, latency_ms = await with_retries(self.pool, request, max_retries=self.max_retries,
                                              backoff_base_s=self.backoff_base_s)
        message = from_anthropic_content([b.model_dump() for b in resp.content])
        pt, ct = resp.usage.input_tokens, resp.usage.output_tokens
        message.prompt_tokens, message.completion_tokens, message.tokens = pt, ct, ct
        message.model_latency_ms = latency_ms
        return Completion(message, pt, ct, latency_ms, self.prices.cost(self.model, pt, ct))
