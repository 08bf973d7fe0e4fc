"""Model clients behind one async interface (base.ModelClient): OpenAI-compatible, Anthropic, demo."""

from __future__ import annotations

from typing import Literal

from engine.models.base import Completion, ContextExceededError, ModelClient, ModelError
from engine.models.prices import PriceTable

Provider = Literal["openai", "anthropic", "demo"]
PROVIDERS = ("openai", "anthropic", "demo")


def make_client(model: str, base_urls: list[str] | None = None, *, provider: Provider = "openai",
                api_key: str | None = None, prices: PriceTable | None = None, timeout_s: float = 600,
                max_retries: int = 5, backoff_base_s: float = 0.5, cooldown_s: float = 5.0,
                seed: int = 0) -> ModelClient:
    """A client for `model`. Several `base_urls` are load-balanced with health tracking.

    provider="demo" is the rule-based demo teacher (never a silent fallback: only when asked for).
    """
    if provider == "demo":
        from engine.models.demo import DemoTeacher

        return DemoTeacher(model or "demo", seed=seed)
    if provider == "openai":
        from engine.models.openai_client import OpenAIClient

        return OpenAIClient(model, base_urls, api_key=api_key, prices=prices, timeout_s=timeout_s,
                            max_retries=max_retries, backoff_base_s=backoff_base_s, cooldown_s=cooldown_s)
    if provider == "anthropic":
        from engine.models.anthropic_client import AnthropicClient

        return AnthropicClient(model, base_urls, api_key=api_key, prices=prices, timeout_s=timeout_s,
                               max_retries=max_retries, backoff_base_s=backoff_base_s, cooldown_s=cooldown_s)
    raise ValueError(f"unknown provider {provider!r} (use one of {', '.join(PROVIDERS)})")


__all__ = [
    "PROVIDERS",
    "Completion",
    "ContextExceededError",
    "ModelClient",
    "ModelError",
    "PriceTable",
    "make_client",
]
