"""The internal message model: a trajectory is exactly its list of messages (as in mini-swe-agent).

Model clients map provider formats (OpenAI, Anthropic) into these; the store persists them one by
one; exporters render them to training formats.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text as the model wrote it (may be malformed: that is data too)

    def parsed_arguments(self) -> dict[str, Any]:
        """Arguments as a dict; raises ValueError with a message fit to send back to the model."""
        try:
            value = json.loads(self.arguments) if self.arguments.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"arguments of {self.name} are not valid JSON: {exc.msg} at char {exc.pos}") from None
        if not isinstance(value, dict):
            raise ValueError(f"arguments of {self.name} must be a JSON object, got {type(value).__name__}")
        return value

    def to_openai(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


@dataclass
class Message:
    role: Role
    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None  # tool name on role=tool messages
    # accounting (R2E-Gym style: per step)
    tokens: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model_latency_ms: float | None = None
    tool_time_ms: float | None = None
    tool_error: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Message":
        d = dict(d)
        d["tool_calls"] = [c if isinstance(c, ToolCall) else ToolCall(**c) for c in d.get("tool_calls") or []]
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def to_openai(self, *, reasoning_key: str | None = None) -> dict[str, Any]:
        """The chat-completions form of this message (what we send back to the model)."""
        out: dict[str, Any] = {"role": self.role, "content": self.content or ""}
        if self.role == "assistant" and self.tool_calls:
            out["tool_calls"] = [c.to_openai() for c in self.tool_calls]
        if self.role == "assistant" and reasoning_key and self.reasoning:
            out[reasoning_key] = self.reasoning
        if self.role == "tool":
            out["tool_call_id"] = self.tool_call_id
            if self.name:
                out["name"] = self.name
        return out
