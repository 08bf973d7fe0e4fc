"""What `sera serve` was asked to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ServeConfig:
    model: str                          # HF model id or local path
    backend: str = "transformers"       # transformers | vllm
    adapter: str | None = None          # LoRA adapter dir (peft)
    host: str = "127.0.0.1"
    port: int = 8000
    served_name: str | None = None
    max_model_len: int | None = None
    tool_call_parser: str = "hermes"
    reasoning_parser: str | None = None
    dtype: str = "auto"
    extra_args: list[str] = field(default_factory=list)  # passed to `vllm serve` verbatim

    @property
    def name(self) -> str:
        """The name clients request: --served-name, else the adapter's or model's directory name."""
        if self.served_name:
            return self.served_name
        return Path((self.adapter or self.model).rstrip("/")).name

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}/v1"
