"""Fixtures for training tests: a tiny Llama + byte-level BPE tokenizer with a Qwen-style tool/reasoning
template, built from a config in a tmp dir (no download), and export-format JSONL writers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.tools.schema import tool_schema

TOOLS = [tool_schema("bash"), tool_schema("submit")]  # short schemas keep sequences (and tests) small


def call(cid: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}


def chat(n_turns: int = 2, *, train: bool | list[bool] = True, ident: int = 0, words: str = "look at it") -> dict:
    """system, user, n_turns × (assistant with reasoning + bash call, tool result), assistant submit."""
    flags = train if isinstance(train, list) else [train] * (n_turns + 1)
    msgs: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a coding agent.", "train": False},
        {"role": "user", "content": f"Fix the parse bug number {ident}.", "train": False},
    ]
    for t in range(n_turns):
        msgs.append({"role": "assistant", "content": f"Step {t}: {words}.", "reasoning_content": f"think {t} {words}",
                     "tool_calls": [call(f"c{t}", "bash", {"command": f"grep -n parse f{t}.py"})],
                     "train": flags[t]})
        msgs.append({"role": "tool", "tool_call_id": f"c{t}", "name": "bash", "content": f"f{t}.py:3: def parse",
                     "train": False})
    msgs.append({"role": "assistant", "content": "", "reasoning_content": "done", "tool_calls": [
        call("cs", "submit", {})], "train": flags[n_turns]})
    return {"messages": msgs, "tools": TOOLS, "meta": {"rollout_id": 100 + ident}}


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from engine.train.tiny import build_model

    return build_model(tmp_path_factory.mktemp("tiny-llama"), layers=2, hidden=64, heads=4)


@pytest.fixture(scope="session")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model))


@pytest.fixture
def dataset(tmp_path) -> Path:
    return write_rows(tmp_path / "data.jsonl", [chat(1, ident=i) for i in range(6)])
