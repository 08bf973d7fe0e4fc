"""Tiny models and tokenizers built locally from a config (no download) for tests, smoke runs and benches.

The tokenizer is a byte-level BPE trained on the fly with `tokenizers`, wrapped in
PreTrainedTokenizerFast, with a Qwen-style chat template that renders tools, Hermes tool calls and
<think> reasoning. Also: synthetic export rows (the exporter's JSONL format) of a chosen length.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from engine.tools.schema import openai_tools

# Qwen2.5/3-style: tools in the system turn, reasoning in <think>, tool results as user turns.
QWEN_STYLE_TEMPLATE = (
    "{%- if tools %}{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0].role == 'system' %}{{- messages[0].content + '\\n\\n' }}{%- endif %}"
    "{{- '# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n"
    "You are provided with function signatures within <tools></tools> XML tags:\\n<tools>' }}"
    "{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}"
    "{{- '\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\\n<tool_call>\\n{\"name\": <function-name>, \"arguments\": "
    "<args-json-object>}\\n</tool_call><|im_end|>\\n' }}"
    "{%- elif messages[0].role == 'system' %}{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'user' %}{{- '<|im_start|>user\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- elif message.role == 'assistant' %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if message.reasoning_content %}"
    "{{- '<think>\\n' + message.reasoning_content.strip('\\n') + '\\n</think>\\n\\n' }}{%- endif %}"
    "{{- message.content }}"
    "{%- for tool_call in message.tool_calls or [] %}"
    "{%- if (loop.first and message.content) or (not loop.first) %}{{- '\\n' }}{%- endif %}"
    "{{- '<tool_call>\\n{\"name\": \"' + tool_call.function.name + '\", \"arguments\": ' }}"
    "{%- if tool_call.function.arguments is string %}{{- tool_call.function.arguments }}"
    "{%- else %}{{- tool_call.function.arguments | tojson }}{%- endif %}"
    "{{- '}\\n</tool_call>' }}{%- endfor %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- elif message.role == 'tool' %}"
    "{%- if loop.index0 == 0 or messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + message.content + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TAGS = ["<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]

_WORDS = ["the", "function", "parse", "config", "returns", "none", "when", "the", "file", "is", "missing", "so", "we", "check", "the", "path", "first", "then", "read", "lines", "and", "split", "on", "equals", "raise", "value", "error", "if", "key", "empty", "test", "passes", "now", "submit", "def", "return", "import", "self", "class", "if", "else", "for", "in", "while", "try", "except", "with", "open", "print", "len", "list", "dict"]


def synthetic_chat(rng: random.Random, turns: int, words_per_turn: int = 12) -> dict[str, Any]:
    """One export row: system, user, then `turns` × (assistant with reasoning + tool call, tool result)."""
    def text(n: int) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(n))

    msgs: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a coding agent. " + text(6), "train": False},
        {"role": "user", "content": "Fix the bug: " + text(words_per_turn), "train": False},
    ]
    for t in range(turns):
        cid = f"call_{t}"
        msgs.append({"role": "assistant", "content": text(words_per_turn // 2),
                     "reasoning_content": text(words_per_turn),
                     "tool_calls": [{"id": cid, "type": "function", "function": {
                         "name": "bash", "arguments": json.dumps({"command": "grep -n " + text(2)})}}],
                     "train": True})
        msgs.append({"role": "tool", "tool_call_id": cid, "name": "bash", "content": text(words_per_turn * 2),
                     "train": False})
    msgs.append({"role": "assistant", "content": "", "reasoning_content": "done " + text(4),
                 "tool_calls": [{"id": "call_submit", "type": "function",
                                 "function": {"name": "submit", "arguments": "{}"}}], "train": True})
    return {"messages": msgs, "tools": openai_tools(), "meta": {"id": rng.randrange(10**6)}}


def synthetic_rows(n: int, turns: int = 2, seed: int = 0, words_per_turn: int = 12) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [synthetic_chat(rng, turns, words_per_turn) for _ in range(n)]


def write_jsonl(rows: list[dict[str, Any]], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def build_tokenizer(out_dir: str | Path | None = None, vocab_size: int = 600,
                    template: str | None = QWEN_STYLE_TEMPLATE, corpus: list[str] | None = None) -> Any:
    """A byte-level BPE tokenizer trained on synthetic chats (+ `corpus`), ChatML special tokens."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = list(corpus or [])
    for row in synthetic_rows(40, turns=2, seed=1):
        texts.extend(json.dumps(row).split("\\n"))
    texts.append(json.dumps(openai_tools()))
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TAGS])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token=None, unk_token=None)
    if template is not None:
        fast.chat_template = template
    if out_dir is not None:
        fast.save_pretrained(str(out_dir))
    return fast


def build_model(out_dir: str | Path, *, arch: str = "llama", layers: int = 2, hidden: int = 64, heads: int = 4,
                kv_heads: int | None = None, intermediate: int | None = None, max_positions: int = 4096,
                vocab_size: int = 600, model_vocab: int | None = None,
                template: str | None = QWEN_STYLE_TEMPLATE, seed: int = 0, save: bool = True) -> Path:
    """Save a randomly initialised causal LM (Llama or Qwen2 architecture) and its tokenizer to out_dir.

    model_vocab: embedding/output rows (≥ the tokenizer's), to give a bench a real model's vocab cost
    (e.g. 151936 for Qwen) while the tokenizer stays small."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    out = Path(out_dir)
    tokenizer = build_tokenizer(out, vocab_size=vocab_size, template=template)
    cls = {"llama": LlamaConfig, "qwen2": Qwen2Config}[arch]
    config = cls(vocab_size=max(len(tokenizer), model_vocab or 0), hidden_size=hidden, intermediate_size=intermediate or hidden * 2,
                 num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads or heads,
                 max_position_embeddings=max_positions, tie_word_embeddings=False,
                 eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                 bos_token_id=None)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    if save:
        model.save_pretrained(str(out))
    return out
