"""A tiny 2-layer Llama with a tokenizer trained on the fly (no downloads), and a way to make it say
a fixed text (a logits processor that forces the tokens: the server's parsing path stays real)."""

from __future__ import annotations

import pytest
from pathlib import Path

from engine.serve.tiny import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


class ForceText:
    """Logits processor forcing `text`'s tokens, then end of sequence (test-only)."""

    def __init__(self, tokenizer, text: str, prompt_len: int):
        self.ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        self.prompt_len = prompt_len

    def __call__(self, input_ids, scores):
        import torch

        step = input_ids.shape[1] - self.prompt_len
        forced = torch.full_like(scores, float("-inf"))
        forced[:, self.ids[min(step, len(self.ids) - 1)]] = 0.0
        return forced


@pytest.fixture(scope="session")
def tiny_backend(tiny_model):
    from engine.serve.hf_backend import HFBackend

    return HFBackend.load(str(tiny_model), name="tiny")


@pytest.fixture
def forced_backend(tiny_backend):
    """forced_backend(text) -> the tiny model's HFBackend, made to always write `text`."""

    def make(text: str):
        tiny_backend.logits_processor_factory = lambda n: [ForceText(tiny_backend.tokenizer, text, n)]
        return tiny_backend

    yield make
    tiny_backend.logits_processor_factory = None
