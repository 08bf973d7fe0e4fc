"""Truncation of a chat to a context limit, SERA's way.

Render the chat with the tokenizer's own chat template (tools included), and if it is longer than
the limit cut it back to the last complete assistant turn that fits. truncation ratio = kept
messages / all messages; exports order examples by ratio (highest first) and drop those under a
minimum. A chat whose first assistant turn does not fit is dropped with a reason.

Speed: the full chat is rendered and tokenized once (with offsets); cut points are found by a
binary search over assistant turns, where each probe only re-renders the prefix text (jinja, no
tokenization) and reads its token count off the full chat's offsets. One exact tokenization of the
chosen prefix confirms the count.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TruncationPreset:
    max_len: int = 32768
    min_ratio: float = 0.0


# SERA: 32 768-token context; examples ordered by ratio, preferring nearly-complete ones (≈ 0.95+).
SERA_PRESET = TruncationPreset(max_len=32768, min_ratio=0.95)


@dataclass(frozen=True)
class Truncation:
    kept: int                 # messages kept (a prefix of the chat)
    total: int
    n_tokens: int             # tokens of the kept prefix (estimated when no tokenizer)
    dropped: str | None = None  # why the chat cannot be used, else None

    @property
    def ratio(self) -> float:
        return self.kept / self.total if self.total else 0.0


class TokenizerError(ValueError):
    pass


def load_tokenizer(name_or_path: str):
    """An HF tokenizer by local path or hub name (offline: a name must already be cached)."""
    from pathlib import Path

    from transformers import AutoTokenizer

    if name_or_path.startswith((".", "/", "~")) and not Path(name_or_path).expanduser().exists():
        raise TokenizerError(f"no tokenizer at {name_or_path} (no such directory)")
    try:
        tok = AutoTokenizer.from_pretrained(name_or_path)
    except Exception as exc:  # noqa: BLE001 - OSError, ValueError, hub errors: all mean "cannot use this"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TokenizerError(f"cannot load tokenizer {name_or_path!r}: {first}") from None
    if not getattr(tok, "chat_template", None):
        raise TokenizerError(f"tokenizer {name_or_path!r} has no chat template to render chats with")
    return tok


def _assistant_cuts(messages: Sequence[dict[str, Any]]) -> list[int]:
    """Prefix lengths that end with a complete assistant turn."""
    return [i + 1 for i, m in enumerate(messages) if m.get("role") == "assistant"]


def _largest_fitting(cuts: list[int], fits: Callable[[int], bool]) -> int | None:
    """Largest cut for which fits() holds (fits is monotone: longer prefixes never fit better)."""
    lo, hi, best = 0, len(cuts) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        if fits(cuts[mid]):
            best, lo = cuts[mid], mid + 1
        else:
            hi = mid - 1
    return best


def _no_assistant(total: int, n_tokens: int, max_len: int) -> Truncation:
    return Truncation(0, total, n_tokens, f"no complete assistant turn fits in {max_len} tokens")


def estimate_tokens(message: dict[str, Any]) -> int:
    """~4 characters per token plus a few for the role markers (used when no tokenizer is given)."""
    chars = len(message.get("content") or "") + len(message.get("reasoning_content") or "")
    for c in message.get("tool_calls") or []:
        fn = c.get("function", c)
        chars += len(fn.get("name") or "") + len(fn.get("arguments") or "")
    return 4 + (chars + 3) // 4


def _tools_estimate(tools: list[dict] | None) -> int:
    if not tools:
        return 0
    if _TOOLS_EST[0] is not tools:  # the exporter passes the same list for every example
        _TOOLS_EST[:] = [tools, (len(json.dumps(tools)) + 3) // 4]
    return _TOOLS_EST[1]


_TOOLS_EST: list[Any] = [None, 0]  # (the list last measured, held so its id cannot be reused; tokens)


def truncate_estimated(messages: Sequence[dict[str, Any]], max_len: int,
                       tools: list[dict] | None = None) -> Truncation:
    total = len(messages)
    if not _assistant_cuts(messages):
        return Truncation(0, total, 0, "the chat has no assistant turn")
    prefix = [_tools_estimate(tools)]
    for m in messages:
        prefix.append(prefix[-1] + estimate_tokens(m))
    if prefix[-1] <= max_len:
        return Truncation(total, total, prefix[-1])
    best = _largest_fitting(_assistant_cuts(messages), lambda k: prefix[k] <= max_len)
    return _no_assistant(total, prefix[-1], max_len) if best is None else Truncation(best, total, prefix[best])


def truncate_with_tokenizer(messages: Sequence[dict[str, Any]], tokenizer, max_len: int,
                            tools: list[dict] | None = None) -> Truncation:
    total = len(messages)
    cuts = _assistant_cuts(messages)
    if not cuts:
        return Truncation(0, total, 0, "the chat has no assistant turn")
    msgs = list(messages)

    def render(k: int) -> str:
        return tokenizer.apply_chat_template(msgs[:k], tools=tools, tokenize=False)

    # The Rust tokenizer directly when there is one: transformers' per-call Python wrapping (offsets to
    # lists, BatchEncoding) costs as much as the tokenization itself.
    backend = getattr(tokenizer, "backend_tokenizer", None)

    def count(text: str) -> int:
        if backend is not None:
            return len(backend.encode(text, add_special_tokens=False).ids)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    full = render(total)
    starts: list[int] | None
    if backend is not None:
        enc = backend.encode(full, add_special_tokens=False)
        n_full = len(enc.ids)
        if n_full <= max_len:  # the common case: no offsets needed (turning them into a list is costly)
            return Truncation(total, total, n_full)
        starts = [s for s, _ in enc.offsets]
    else:
        try:
            enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
            starts, n_full = [s for s, _ in enc["offset_mapping"]], len(enc["input_ids"])
        except (NotImplementedError, ValueError):  # slow tokenizers have no offsets
            starts, n_full = None, count(full)
    if n_full <= max_len:
        return Truncation(total, total, n_full)

    def probe(k: int) -> int:
        text = render(k)
        if starts is not None and full.startswith(text):
            return bisect_left(starts, len(text))  # tokens starting inside the prefix
        return count(text)

    best = _largest_fitting(cuts, lambda k: probe(k) <= max_len)
    # Confirm exactly: a token straddling the cut may make the prefix one token longer alone.
    while best is not None:
        n = count(render(best))
        if n <= max_len:
            return Truncation(best, total, n)
        earlier = [k for k in cuts if k < best]
        best = earlier[-1] if earlier else None
    return _no_assistant(total, n_full, max_len)


def truncate(messages: Sequence[dict[str, Any]], max_len: int, tokenizer=None,
             tools: list[dict] | None = None) -> Truncation:
    """Cut `messages` (OpenAI chat form) to `max_len` tokens at an assistant turn."""
    if max_len < 1:
        raise ValueError("max_len must be a positive number of tokens")
    if tokenizer is None:
        return truncate_estimated(messages, max_len, tools)
    return truncate_with_tokenizer(messages, tokenizer, max_len, tools)
