"""Output clipping: keep the head and the tail, say how much was cut in between."""

from __future__ import annotations

DEFAULT_LIMIT = 16_000


def clip(text: str, limit: int = DEFAULT_LIMIT) -> str:
    """`text` unchanged if it fits, else head + marker + tail of at most about `limit` characters."""
    if limit <= 0 or len(text) <= limit:
        return text
    head = limit // 2
    tail = limit - head
    cut = len(text) - head - tail
    return (f"{text[:head]}\n<response clipped: {cut} of {len(text)} characters cut from the middle>\n"
            f"{text[len(text) - tail:]}")
