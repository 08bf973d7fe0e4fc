"""Reading the exported SFT dataset (JSONL, one chat per line) and checking its shape.

Row format (engine/curate/export.py): {"messages": [{role, content, reasoning_content?, tool_calls?,
tool_call_id?, name?, train: bool}], "tools": [OpenAI tool schemas], "meta": {...}}.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROLES = ("system", "user", "assistant", "tool")


class DatasetError(ValueError):
    """The dataset cannot be read; the message names the file and line."""


@dataclass
class Example:
    index: int  # 0-based position in the file
    line: int  # 1-based line number
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """How errors and warnings name this example: its line and, when known, its rollout/id."""
        ref = next((f"{k} {self.meta[k]}" for k in ("id", "rollout_id", "task_id") if k in self.meta), None)
        return f"line {self.line}" + (f" ({ref})" if ref else "")


def _check_message(m: Any, where: str) -> None:
    if not isinstance(m, dict):
        raise DatasetError(f"{where}: a message must be an object")
    if m.get("role") not in ROLES:
        raise DatasetError(f"{where}: role must be one of {', '.join(ROLES)}, got {m.get('role')!r}")
    content = m.get("content")
    if content is not None and not isinstance(content, str):
        raise DatasetError(f"{where}: content must be a string or null")
    if "train" in m and not isinstance(m["train"], bool):
        raise DatasetError(f"{where}: train must be true or false")
    for call in m.get("tool_calls") or []:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise DatasetError(f"{where}: each tool call needs function.name")


def parse_rows(lines: list[str], source: str = "<dataset>") -> list[Example]:
    examples: list[Example] = []
    for lineno, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        where = f"{source} line {lineno}"
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("messages"), list) or not row["messages"]:
            raise DatasetError(f"{where}: expected an object with a non-empty \"messages\" list")
        for i, m in enumerate(row["messages"]):
            _check_message(m, f"{where} message {i}")
        tools = row.get("tools")
        if tools is not None and not isinstance(tools, list):
            raise DatasetError(f"{where}: \"tools\" must be a list of tool schemas")
        meta = row.get("meta") if isinstance(row.get("meta"), dict) else {}
        examples.append(Example(len(examples), lineno, row["messages"], tools or None, meta))
    if not examples:
        raise DatasetError(f"{source} holds no examples")
    return examples


def load_dataset(path: str | Path) -> list[Example]:
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"no dataset file at {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read {p}: {exc}") from None
    return parse_rows(text.splitlines(), str(p))
