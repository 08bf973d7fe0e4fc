"""Reasoning extraction: `reasoning` (vLLM), `reasoning_content` (older vLLM, DeepSeek) or <think> in content."""

from __future__ import annotations

import re

_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)


def split_think(content: str | None) -> tuple[str | None, str | None]:
    """(reasoning, content) with <think>…</think> blocks moved out of the content.

    A lone `</think>` (chat templates that open the tag in the prompt) ends the reasoning too.
    """
    if not content:
        return None, content
    parts = _THINK.findall(content)
    if parts:
        rest = _THINK.sub("", content)
        return "\n".join(p.strip() for p in parts), rest.strip()
    if "</think>" in content and "<think>" not in content:
        before, _, after = content.partition("</think>")
        return before.strip(), after.strip()
    return None, content
