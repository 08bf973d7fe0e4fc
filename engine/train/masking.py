"""Tokenize exported chats and build labels: loss on assistant tokens only.

Each example is rendered once with the chat template and tokenized once with offsets. Every
assistant turn (reasoning, content, tool calls, end-of-turn marker, as the template writes it) is
located as characters of that rendering:
- fast: the turn rendered alone after the opening context must follow the next generation prompt
  (linear time; works for templates that render a turn the same wherever it stands);
- exact, for turns the fast way cannot place: render the prefix before the turn (with the
  generation prompt) and through it; both must be prefixes of the whole chat. A template that
  renders a chat's last turn differently (Qwen3) is handled by aligning the turn's tail.
Turns must start and end on token boundaries. Labels = input ids on tokens of assistant turns
with train != false, -100 everywhere else (system, user, tool, generation prompts, train=false
turns). Examples longer than max_len follow the export's truncation rule (engine.curate.truncate).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

from engine.train.chat import ChatFormat, render, to_template_messages
from engine.train.data import Example
from engine.train.truncate import cut_point

IGNORE = -100


class MaskingError(ValueError):
    """The examples cannot be masked as specified; the message names them."""


class AllMaskedError(MaskingError):
    pass


@dataclass(frozen=True)
class Span:
    message: int  # index in the example's messages
    start: int  # character offsets in the rendered chat
    end: int
    train: bool


@dataclass
class Encoded:
    example: Example
    input_ids: list[int]
    labels: list[int]
    spans: list[Span]
    token_spans: list[tuple[int, int]]  # [start, end) token range of each span
    truncated: bool = False

    @property
    def n_train_tokens(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)


@dataclass
class Prepared:
    examples: list[Encoded]
    n_rows: int
    truncated: list[str] = field(default_factory=list)  # names of examples cut back
    dropped_too_long: list[str] = field(default_factory=list)  # not even one assistant turn fits
    all_masked: list[str] = field(default_factory=list)  # skipped: nothing to learn
    warnings: list[str] = field(default_factory=list)

    @property
    def n_tokens(self) -> int:
        return sum(len(e.input_ids) for e in self.examples)

    @property
    def n_train_tokens(self) -> int:
        return sum(e.n_train_tokens for e in self.examples)

    def stats(self) -> dict[str, Any]:
        return {"rows": self.n_rows, "examples": len(self.examples), "tokens": self.n_tokens,
                "train_tokens": self.n_train_tokens, "truncated": len(self.truncated),
                "dropped_too_long": len(self.dropped_too_long), "all_masked": len(self.all_masked)}


def _names(names: list[str], limit: int = 5) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _expected_texts(message: dict[str, Any]) -> list[str]:
    """What the rendered assistant turn must contain: its content and the names of its tool calls."""
    texts = [(message.get("content") or "").strip()]
    texts += [c["function"]["name"] for c in message.get("tool_calls") or []]
    return [t for t in texts if t]


def _align_end(region_as_last: str, full: str, start: int, must_keep: list[str]) -> int | None:
    """End of an assistant turn in `full` when the template renders a chat's *last* turn differently
    (Qwen3 adds an empty <think></think> to a last turn without reasoning, and drops the reasoning of
    turns before a later user query). The two renderings must differ by one inserted or deleted
    chunk, and the matching tail must still hold the turn's own text (`must_keep`)."""
    r = region_as_last
    a = 0
    limit = min(len(r), len(full) - start)
    while a < limit and r[a] == full[start + a]:
        a += 1
    tail = r[a:]
    if not all(t in tail for t in must_keep):  # differences after the turn's text: not one chunk
        return None
    for d in range(1, len(r) - a + 1):  # the last-turn form has d extra characters at a
        kept = r[a + d:]
        if not all(t in kept for t in must_keep):
            break
        if full.startswith(kept, start + a):
            return start + len(r) - d
    for d in range(1, len(full) - start - a):  # the last-turn form lacks d characters at a
        if full.startswith(tail, start + a + d):
            return start + a + d + len(tail)
    return None


def _exact_region(tokenizer: Any, ex: Example, fmt: ChatFormat, msgs: list[dict[str, Any]], full: str,
                  i: int) -> tuple[int, int, int]:
    """(i, start, end) of assistant message i from renders of the prefixes before and through it,
    each checked to be a prefix of the whole chat. Exact for any template; costs two long renders."""
    before = render(tokenizer, msgs[:i], ex.tools, fmt.template, add_generation_prompt=True)
    through = render(tokenizer, msgs[: i + 1], ex.tools, fmt.template)
    end = len(through) if full.startswith(through) else None
    if end is None and full.startswith(before) and through.startswith(before):
        end = _align_end(through[len(before):], full, len(before), _expected_texts(ex.messages[i]))
    if not full.startswith(before) or end is None or end <= len(before):
        raise MaskingError(
            f"{ex.name}: the chat template does not render message {i} (assistant) as a stable prefix "
            "of the whole chat, so its tokens cannot be located; try --chat-template chatml")
    return i, len(before), end


_FOLLOWER = {"role": "tool", "tool_call_id": "sera_probe", "name": "sera_probe", "content": "sera probe result"}
_REFERENCE = {"role": "assistant", "content": "sera probe", "reasoning_content": "sera probe"}


class _FastLocator:
    """Linear-time placement for templates that render an assistant turn the same wherever it
    stands: render the turn alone after the opening context (followed by a probe tool result when
    it is not the chat's last message, so "last turn" quirks do not apply) and require the whole
    chat's next generation prompt after the previous turn to be followed by exactly that text."""

    def __init__(self, tokenizer: Any, ex: Example, fmt: ChatFormat, msgs: list[dict[str, Any]]):
        self.tokenizer, self.ex, self.fmt = tokenizer, ex, fmt
        first = next(i for i, m in enumerate(ex.messages) if m["role"] == "assistant")
        self.ctx = msgs[:first]
        self.opening = self._render(self.ctx, add_generation_prompt=True)
        closed = self._render(self.ctx)
        self.prompt = self.opening[len(closed):] if self.opening.startswith(closed) else ""
        with_follower = self._render([*self.ctx, _REFERENCE, _FOLLOWER])
        alone = self._render([*self.ctx, _REFERENCE])
        self.follower = with_follower[len(alone):] if with_follower.startswith(alone) else None

    def _render(self, msgs: list[dict[str, Any]], add_generation_prompt: bool = False) -> str:
        return render(self.tokenizer, msgs, self.ex.tools, self.fmt.template, add_generation_prompt=add_generation_prompt)

    def region(self, msgs: list[dict[str, Any]], full: str, i: int, cursor: int) -> tuple[int, int, int] | None:
        if not self.prompt:
            return None
        last = i == len(msgs) - 1
        if last or self.follower is None:
            text = self._render([*self.ctx, msgs[i]])
            suffix = ""
        else:
            text = self._render([*self.ctx, msgs[i], _FOLLOWER])
            suffix = self.follower
        if not text.startswith(self.opening) or not text.endswith(suffix):
            return None
        turn = text[len(self.opening):len(text) - len(suffix)]
        pos = full.find(self.prompt, cursor)
        if not turn or pos < 0 or not full.startswith(turn, pos + len(self.prompt)):
            return None
        start = pos + len(self.prompt)
        return i, start, start + len(turn)


def assistant_spans(tokenizer: Any, ex: Example, fmt: ChatFormat,
                    method: str = "auto") -> tuple[str, list[Span], int]:
    """(rendered chat, one span per assistant message, assistant turns whose reasoning the template dropped).

    method: "exact" (prefix renders), "fast" (turns rendered alone, found in order) or "auto" (fast,
    exact for any turn the fast method cannot place)."""
    msgs = to_template_messages(ex.messages, fmt.arguments)
    try:
        full = render(tokenizer, msgs, ex.tools, fmt.template)
        assistants = [i for i, m in enumerate(ex.messages) if m["role"] == "assistant"]
        fast = _FastLocator(tokenizer, ex, fmt, msgs) if assistants and method != "exact" else None
        regions, cursor = [], 0
        for i in assistants:
            found = fast.region(msgs, full, i, cursor) if fast else None
            if found is None:
                if method == "fast":
                    raise MaskingError(f"{ex.name}: assistant message {i} cannot be placed by the fast method")
                found = _exact_region(tokenizer, ex, fmt, msgs, full, i)
            regions.append(found)
            cursor = found[2]
    except MaskingError:
        raise
    except Exception as exc:  # noqa: BLE001 - a template that raises on this chat: name the example
        raise MaskingError(f"{ex.name}: the chat template cannot render this chat: {exc}") from None
    spans: list[Span] = []
    dropped_reasoning = 0
    for i, start, end in regions:
        m = ex.messages[i]
        text = full[start:end]
        missing = [x for x in _expected_texts(m) if x not in text]
        if missing:
            raise MaskingError(f"{ex.name}: assistant message {i} does not render its own text "
                               f"({missing[0][:40]!r} missing); the template drops it")
        if m.get("reasoning_content") and m["reasoning_content"].strip() not in text:
            dropped_reasoning += 1
        spans.append(Span(i, start, end, m.get("train", True) is not False))
    return full, spans, dropped_reasoning


def _tokens(tokenizer: Any, ex: Example, fmt: ChatFormat) -> tuple[list[int], list[int], list[Span],
                                                                     list[tuple[int, int]], int]:
    full, spans, dropped_reasoning = assistant_spans(tokenizer, ex, fmt)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:  # the Rust tokenizer directly: same ids, no per-token Python conversion
        encoding = backend.encode(full, add_special_tokens=False)
        ids, offsets = list(encoding.ids), list(encoding.offsets)
    else:
        enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
        ids, offsets = list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
    starts = [o[0] for o in offsets]
    labels = [IGNORE] * len(ids)
    token_spans: list[tuple[int, int]] = []
    for span in spans:
        inside = range(bisect_left(starts, span.start), bisect_left(starts, span.end))
        if not inside or offsets[inside[0]][0] != span.start or offsets[inside[-1]][1] != span.end:
            raise MaskingError(f"{ex.name}: assistant message {span.message} does not start and end on token "
                               "boundaries with this tokenizer; its tokens would mix with the prompt")
        token_spans.append((inside[0], inside[-1] + 1))
        if span.train:
            for t in inside:
                labels[t] = ids[t]
    return ids, labels, spans, token_spans, dropped_reasoning


def _kept_messages(tokenizer: Any, ex: Example, fmt: ChatFormat, max_len: int,
                   token_spans: list[tuple[int, int]], n_tokens: int) -> int | None:
    """Messages to keep under the export's truncation rule (cut back to the last complete assistant
    turn that fits); None when even the first does not fit. Reuses engine.curate.truncate."""
    try:
        from engine.curate.truncate import truncate
    except ImportError:  # the exporter's module is absent: the same rule on our token spans
        keep = cut_point([e for _, e in token_spans], n_tokens, max_len)
        if keep is None:
            return None
        ends = [ex_span for ex_span, (_, e) in zip(_assistant_indices(ex), token_spans) if e <= keep]
        return ends[-1] + 1 if ends else None
    previous = tokenizer.chat_template
    tokenizer.chat_template = fmt.template  # truncate() renders with the tokenizer's own template
    try:
        result = truncate(to_template_messages(ex.messages, fmt.arguments), max_len, tokenizer, tools=ex.tools)
    finally:
        tokenizer.chat_template = previous
    return None if result.dropped or result.kept == 0 else result.kept


def _assistant_indices(ex: Example) -> list[int]:
    return [i for i, m in enumerate(ex.messages) if m["role"] == "assistant"]


def encode(tokenizer: Any, ex: Example, fmt: ChatFormat, max_len: int) -> tuple[Encoded | None, int]:
    """(encoded example or None when not even its first assistant turn fits, reasoning-dropped count)."""
    ids, labels, spans, token_spans, dropped = _tokens(tokenizer, ex, fmt)
    if len(ids) <= max_len:
        return Encoded(ex, ids, labels, spans, token_spans), dropped
    kept = _kept_messages(tokenizer, ex, fmt, max_len, token_spans, len(ids))
    if kept is None:
        return None, dropped
    cut = Example(ex.index, ex.line, ex.messages[:kept], ex.tools, ex.meta)
    ids, labels, spans, token_spans, dropped = _tokens(tokenizer, cut, fmt)
    if len(ids) > max_len:  # a token merged across the cut: fall back to the token-level rule
        keep = cut_point([e for _, e in token_spans], len(ids), max_len)
        if keep is None:
            return None, dropped
        n = sum(1 for _, e in token_spans if e <= keep)
        ids, labels, spans, token_spans = ids[:keep], labels[:keep], spans[:n], token_spans[:n]
    return Encoded(ex, ids, labels, spans, token_spans, truncated=True), dropped


def prepare(tokenizer: Any, examples: list[Example], fmt: ChatFormat, max_len: int) -> Prepared:
    if not getattr(tokenizer, "is_fast", False):
        raise MaskingError("the base model's tokenizer is not a fast tokenizer; token offsets are needed to "
                           "mask labels (install `tokenizers` and load it with use_fast=True)")
    out = Prepared([], len(examples))
    reasoning_dropped = 0
    for ex in examples:
        encoded, dropped = encode(tokenizer, ex, fmt, max_len)
        reasoning_dropped += dropped
        if encoded is None:
            out.dropped_too_long.append(ex.name)
            continue
        if encoded.truncated:
            out.truncated.append(ex.name)
        if encoded.n_train_tokens == 0:
            out.all_masked.append(ex.name)
            continue
        out.examples.append(encoded)
    if out.truncated:
        out.warnings.append(f"{len(out.truncated)} example(s) longer than --max-len {max_len} were cut back to "
                            f"their last complete assistant turn: {_names(out.truncated)}")
    if out.dropped_too_long:
        out.warnings.append(f"{len(out.dropped_too_long)} example(s) dropped: their first assistant turn ends "
                            f"after --max-len {max_len}: {_names(out.dropped_too_long)}")
    if out.all_masked and out.examples:
        out.warnings.append(f"{len(out.all_masked)} example(s) skipped: every label is masked (no assistant "
                            f"turn with train=true): {_names(out.all_masked)}")
    if reasoning_dropped:
        out.warnings.append(f"the chat template dropped the reasoning of {reasoning_dropped} assistant turn(s); "
                            "they train without it")
    if not out.examples:
        if out.all_masked:
            raise AllMaskedError(
                f"every label is masked in all {len(out.all_masked)} usable example(s) ({_names(out.all_masked)}): "
                "no assistant turn with train=true survives; training would report a meaningless 0.0 loss")
        raise MaskingError(f"no example fits in --max-len {max_len} ({_names(out.dropped_too_long)})")
    return out


def collate(batch: list[Encoded], pad_id: int) -> dict[str, Any]:
    """Right-pad a batch; refuse a batch with nothing to learn (it would log a silent 0.0 loss)."""
    import torch

    if all(e.n_train_tokens == 0 for e in batch):
        raise AllMaskedError(f"a batch has every label masked: {_names([e.example.name for e in batch])}")
    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, e in enumerate(batch):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}
