"""OpenAI-compatible chat client (vLLM, SGLang, hosted APIs) through the `openai` SDK."""

from __future__ import annotations

import functools
import json
import os
import time
import uuid
from typing import Any

import openai

from engine.models.base import Completion, ContextExceededError, ModelError, estimate_tokens, message_tokens
from engine.models.endpoints import Endpoint, EndpointPool, RetryableError, retry_after, with_retries
from engine.models.prices import PriceTable
from engine.models.reasoning import split_think
from engine.trajectory import Message, ToolCall

_CONTEXT_MARKERS = ("context length", "context_length", "maximum context", "context window",
                    "prompt is too long", "too many tokens", "reduce the length", "input length",
                    "input is too long", "longer than the maximum model length",
                    "max_tokens must be at least 1")  # vLLM's way of saying the prompt left no room


@functools.cache
def _tls_context() -> Any:
    """The TLS settings the SDK's transport would make for itself (same trust store and env), made
    once: loading the CA bundle costs ~20 ms for every client otherwise, even for plain http."""
    try:
        import httpx2

        return httpx2.create_ssl_context()
    except (ImportError, AttributeError):  # an SDK on another HTTP stack: let it decide
        return True


def _http_client(timeout_s: float) -> Any:
    # The SDK's aiohttp transport (the `openai[aiohttp]` extra) costs a fraction of the default
    # httpx stack's CPU per call, which is what bounds a pipeline with 16+ rollouts in flight.
    try:
        return openai.DefaultAioHttpClient(timeout=timeout_s, verify=_tls_context())
    except (RuntimeError, AttributeError):  # aiohttp (or an SDK that knows it) missing: the default client
        return None


def is_context_error(text: str) -> bool:
    t = text.lower()
    return any(m in t for m in _CONTEXT_MARKERS)


class OpenAIClient:
    def __init__(self, model: str, base_urls: list[str] | None, *, api_key: str | None = None,
                 prices: PriceTable | None = None, timeout_s: float = 600, max_retries: int = 5,
                 backoff_base_s: float = 0.5, cooldown_s: float = 5.0, reasoning_key: str | None = None):
        self.model = model
        urls = base_urls or [os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"]
        self.label = f"{model} @ {', '.join(urls)}"
        key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"  # local servers want any key
        self.pool: EndpointPool[openai.AsyncOpenAI] = EndpointPool(
            [Endpoint(u, openai.AsyncOpenAI(base_url=u, api_key=key, timeout=timeout_s, max_retries=0,
                                            http_client=_http_client(timeout_s)))
             for u in urls], cooldown_s=cooldown_s)
        self.prices = prices or PriceTable()
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.reasoning_key = reasoning_key  # send reasoning back under this key (None: don't)

    async def aclose(self) -> None:
        for ep in self.pool.endpoints:
            await ep.client.close()

    async def complete(self, messages: list[Message], tools: list[dict[str, Any]] | None, *,
                       temperature: float = 0.6, max_tokens: int | None = None,
                       purpose: str = "agent", seed: int | None = None) -> Completion:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [m.to_openai(reasoning_key=self.reasoning_key) for m in messages],
            "temperature": temperature,
        }
        if tools:
            payload["tools"] = tools
        if max_tokens is not None:
            payload["max_tokens"] = max_tokens
        if seed is not None:  # vLLM, SGLang and OpenAI sample reproducibly per request with it
            payload["seed"] = seed

        async def request(ep: Endpoint[openai.AsyncOpenAI]) -> tuple[Any, float]:
            t0 = time.perf_counter()
            try:
                # Our payload is already plain JSON and we read the reply as JSON: the SDK's
                # transform of every message and its pydantic models cost more CPU than the rest
                # of the call, which bounds a pipeline with 16 rollouts in flight.
                resp = await ep.client.post("/chat/completions", body=payload, cast_to=dict)
            except openai.BadRequestError as exc:
                if is_context_error(str(exc)):
                    raise ContextExceededError(_short(exc)) from None
                raise ModelError(f"{ep.url}: {_short(exc)}") from None
            except (openai.RateLimitError, openai.InternalServerError) as exc:
                raise RetryableError(f"{ep.url}: {_short(exc)}", retry_after(exc.response.headers)) from None
            except openai.APIStatusError as exc:
                if exc.status_code in (408, 409) or exc.status_code >= 500:
                    raise RetryableError(f"{ep.url}: {_short(exc)}") from None
                if is_context_error(str(exc)):
                    raise ContextExceededError(_short(exc)) from None
                raise ModelError(f"{ep.url}: {_short(exc)}") from None
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                raise RetryableError(f"{ep.url}: {type(exc).__name__}: {exc}") from None
            return resp, (time.perf_counter() - t0) * 1000

        resp, latency_ms = await with_retries(self.pool, request, max_retries=self.max_retries,
                                              backoff_base_s=self.backoff_base_s)
        choices = resp.get("choices") if isinstance(resp, dict) else None
        if not choices or not isinstance(choices[0], dict) or not isinstance(choices[0].get("message"), dict):
            raise ModelError("the server returned no choices" if not choices else
                             "the server's reply has no message in its first choice")
        message = parse_message(choices[0]["message"])
        usage = resp.get("usage") if isinstance(resp.get("usage"), dict) else {}
        pt = usage.get("prompt_tokens")
        pt = pt if isinstance(pt, int) else sum(message_tokens(m) for m in messages)
        ct = usage.get("completion_tokens")
        ct = ct if isinstance(ct, int) else message_tokens(message)
        message.prompt_tokens, message.completion_tokens, message.tokens = pt, ct, ct
        message.model_latency_ms = latency_ms
        return Completion(message, pt, ct, latency_ms, self.prices.cost(self.model, pt, ct))


def parse_message(d: dict[str, Any]) -> Message:
    """An OpenAI chat message dict -> Message, reasoning separated from content."""
    content = d.get("content")
    reasoning = d.get("reasoning") or d.get("reasoning_content")
    think, content = split_think(content)
    if think:
        reasoning = f"{reasoning}\n{think}" if reasoning else think
    calls = []
    for c in d.get("tool_calls") or []:
        fn = c.get("function") or {}
        args = fn.get("arguments") or ""
        if not isinstance(args, str):  # some servers send the arguments as an object
            args = json.dumps(args)
        calls.append(ToolCall(id=c.get("id") or f"call_{uuid.uuid4().hex[:12]}", name=fn.get("name") or "",
                              arguments=args))
    return Message(role="assistant", content=content, reasoning=reasoning or None, tool_calls=calls)


def _short(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        msg = err.get("message") if isinstance(err, dict) else None
        if msg:
            return f"{getattr(exc, 'status_code', '')} {msg}".strip()
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = ["OpenAIClient", "estimate_tokens", "is_context_error", "parse_message"]
