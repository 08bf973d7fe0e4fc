"""A tiny random 2-layer Llama with a byte-level BPE tokenizer trained on the fly.

No download: tests, benches and offline demos of `sera serve` use it. Its output is noise unless
generation is constrained; the tool/think tags are single tokens, as in Qwen's tokenizer.
"""

from __future__ import annotations

from pathlib import Path

SPECIAL = ["<|im_start|>", "<|im_end|>", "<|endoftext|>"]
ADDED = ["<tool_call>", "</tool_call>", "<think>", "</think>", "<tool_response>", "</tool_response>",
         "<tools>", "</tools>"]
CORPUS = [
    'system user assistant tool You are a helpful coding agent. {"name": "bash", "arguments": {"command": "ls"}}',
    "The quick brown fox jumps over the lazy dog. def main(): return 0 # Tools functions json",
    "str_replace_editor view create str_replace insert undo_edit path file_text old_str new_str submit",
    "Let me look at the files first. I will run the tests. Hello world 0123456789 ()[]{}<>:;,.'\"=+-*/_",
]


def build_tiny_model(out: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS * 20, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   clean_up_tokenization_spaces=False)
    fast.add_tokens(ADDED)  # like Qwen: tool/think tags are single, non-special tokens
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096,
                      eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id, bos_token_id=None)
    LlamaForCausalLM(cfg).save_pretrained(out)
    fast.save_pretrained(out)
    return out
