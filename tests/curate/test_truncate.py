"""Truncation with a real (locally trained) tokenizer and its Qwen-style tool template."""

from __future__ import annotations

import json
import random

import pytest

from engine.curate.truncate import (
    SERA_PRESET,
    TokenizerError,
    load_tokenizer,
    truncate,
    truncate_estimated,
    truncate_with_tokenizer,
)
from engine.tools.schema import openai_tools

TOOLS = openai_tools()


def chat(n_steps: int, output_chars: int = 300, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    msgs = [{"role": "system", "content": "You are a coding agent."},
            {"role": "user", "content": "parse() crashes on None; fix it."}]
    for i in range(n_steps):
        call_id = f"call_{i}"
        msgs.append({"role": "assistant", "content": f"Step {i}.", "reasoning_content": f"I should look at part {i}.",
                     "tool_calls": [{"id": call_id, "type": "function",
                                     "function": {"name": "bash", "arguments": json.dumps({"command": f"cat f{i}.py"})}}]})
        msgs.append({"role": "tool", "tool_call_id": call_id, "name": "bash",
                     "content": "".join(rng.choice("abcdef \n") for _ in range(rng.randint(1, output_chars)))})
    return msgs


def n_tokens(tokenizer, msgs: list[dict]) -> int:
    text = tokenizer.apply_chat_template(msgs, tools=TOOLS, tokenize=False)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def naive(tokenizer, msgs: list[dict], max_len: int) -> int | None:
    """The rule spelled out: all of a chat that fits; else the longest prefix ending with an assistant turn
    that fits."""
    if n_tokens(tokenizer, msgs) <= max_len:
        return len(msgs)
    best = None
    for k in range(1, len(msgs) + 1):
        if msgs[k - 1]["role"] == "assistant" and n_tokens(tokenizer, msgs[:k]) <= max_len:
            best = k
    return best


def test_long_chat_is_cut_at_the_last_assistant_turn_that_fits(tokenizer):
    msgs = chat(12)
    full = n_tokens(tokenizer, msgs)
    # a limit between the end of the 7th assistant turn and the end of the 8th
    seventh = 2 + 2 * 6 + 1
    limit = (n_tokens(tokenizer, msgs[:seventh]) + n_tokens(tokenizer, msgs[:seventh + 2])) // 2
    assert limit < full
    t = truncate(msgs, limit, tokenizer, TOOLS)
    assert t.dropped is None
    assert t.kept == seventh and msgs[t.kept - 1]["role"] == "assistant"
    assert t.total == len(msgs) == 26
    assert t.ratio == pytest.approx(15 / 26)
    assert t.n_tokens == n_tokens(tokenizer, msgs[:t.kept]) <= limit
    assert n_tokens(tokenizer, msgs[:t.kept + 2]) > limit  # the next assistant turn does not fit


def test_a_chat_that_fits_is_kept_whole(tokenizer):
    msgs = chat(3)
    t = truncate(msgs, 10_000, tokenizer, TOOLS)
    assert (t.kept, t.ratio, t.dropped) == (len(msgs), 1.0, None)
    assert t.n_tokens == n_tokens(tokenizer, msgs)


def test_no_assistant_turn_that_fits_is_dropped_with_a_reason(tokenizer):
    msgs = chat(4)
    first = n_tokens(tokenizer, msgs[:3])
    t = truncate(msgs, first - 1, tokenizer, TOOLS)
    assert t.kept == 0 and t.ratio == 0.0
    assert t.dropped == f"no complete assistant turn fits in {first - 1} tokens"
    assert truncate(msgs, first, tokenizer, TOOLS).kept == 3  # exactly at the limit fits


def test_a_chat_without_assistant_turns_is_dropped(tokenizer):
    t = truncate(chat(0), 10_000, tokenizer, TOOLS)
    assert t.dropped == "the chat has no assistant turn"


def test_agrees_with_the_rule_spelled_out(tokenizer):
    for seed in range(6):
        msgs = chat(9, seed=seed)
        full = n_tokens(tokenizer, msgs)
        for limit in (full // 3, full // 2, full - 5, full):
            t = truncate_with_tokenizer(msgs, tokenizer, limit, TOOLS)
            assert (t.kept or None) == naive(tokenizer, msgs, limit), (seed, limit)


def test_estimated_truncation_without_a_tokenizer():
    msgs = chat(10)
    t = truncate_estimated(msgs, 400)
    assert t.dropped is None and msgs[t.kept - 1]["role"] == "assistant"
    assert 0 < t.ratio < 1 and t.n_tokens <= 400
    assert truncate(msgs, 1_000_000).ratio == 1.0
    assert truncate(msgs, 5).dropped == "no complete assistant turn fits in 5 tokens"


def test_sera_preset():
    assert (SERA_PRESET.max_len, SERA_PRESET.min_ratio) == (32768, 0.95)


def test_bad_limit_and_tokenizer():
    with pytest.raises(ValueError, match="positive"):
        truncate(chat(1), 0)
    with pytest.raises(TokenizerError, match="no tokenizer at ./nowhere"):
        load_tokenizer("./nowhere")
