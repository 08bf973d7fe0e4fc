"""Fixtures for curation tests: a locally trained tokenizer with a Qwen-style tool template, stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.curate.builder import StoreBuilder

HERE = Path(__file__).parent
SPECIALS = ["<|im_start|>", "<|im_end|>", "<think>", "</think>", "<tool_call>", "</tool_call>",
            "<tool_response>", "</tool_response>", "<|endoftext|>"]


def build_tokenizer(out_dir: Path) -> Path:
    """Train a small byte-level BPE tokenizer, wrap it for transformers and save it with the template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = [
        "def fn(x):\n    return x + 1\n", "Let me look at the file and reproduce the bug.",
        '{"command": "ls -la", "path": "/repo/pkg/mod.py"}', "str_replace_editor bash submit view create",
        "The function does not validate its input; I will add a check.", "Traceback (most recent call last):",
    ] * 50
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = (HERE / "qwen_tool_template.jinja").read_text()
    fast.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory) -> Path:
    return build_tokenizer(tmp_path_factory.mktemp("tok"))


@pytest.fixture(scope="session")
def tokenizer(tokenizer_dir):
    from engine.curate.truncate import load_tokenizer

    return load_tokenizer(str(tokenizer_dir))


@pytest.fixture
def builder(store) -> StoreBuilder:
    return StoreBuilder(store)
