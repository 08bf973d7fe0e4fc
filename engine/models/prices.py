"""Per-model prices (USD per million tokens) for cost accounting.

Local/self-hosted models cost 0. Users override or add prices in the workspace config:

    [prices]
    "my-model" = { input = 0.5, output = 1.5 }

An unknown model costs 0 (never a crash).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Price:
    input: float  # USD per 1M prompt tokens
    output: float  # USD per 1M completion tokens


# Public list prices at the time of writing; users override them in config.toml.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o": Price(2.5, 10.0),
    "gpt-4o-mini": Price(0.15, 0.6),
    "gpt-4.1": Price(2.0, 8.0),
    "gpt-4.1-mini": Price(0.4, 1.6),
    "claude-sonnet-4": Price(3.0, 15.0),
    "claude-opus-4": Price(15.0, 75.0),
    "claude-3-5-haiku": Price(0.8, 4.0),
    "demo": Price(0.0, 0.0),
}


@dataclass
class PriceTable:
    prices: dict[str, Price] = field(default_factory=lambda: dict(DEFAULT_PRICES))

    def lookup(self, model: str) -> Price | None:
        """Exact name first, then the longest known prefix (dated snapshots: claude-sonnet-4-2025…)."""
        if model in self.prices:
            return self.prices[model]
        name = model.rsplit("/", 1)[-1]
        best = max((k for k in self.prices if name.startswith(k)), key=len, default=None)
        return self.prices[best] if best else None

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        p = self.lookup(model)
        if p is None:
            return 0.0
        return (prompt_tokens * p.input + completion_tokens * p.output) / 1_000_000

    def with_overrides(self, overrides: dict[str, dict[str, float]]) -> PriceTable:
        prices = dict(self.prices)
        for name, v in overrides.items():
            prices[name] = Price(float(v.get("input", 0.0)), float(v.get("output", 0.0)))
        return PriceTable(prices)

    @classmethod
    def from_config(cls, config_path: str | Path | None) -> PriceTable:
        """Defaults plus the `[prices]` table of a workspace config.toml (missing file: defaults)."""
        table = cls()
        if config_path and Path(config_path).is_file():
            with open(config_path, "rb") as f:
                data = tomllib.load(f)
            table = table.with_overrides(data.get("prices") or {})
        return table
