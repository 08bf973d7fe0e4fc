"""Throughput of `sera serve --backend transformers` on CPU with a tiny random 2-layer Llama.

Measures the whole path a client sees (chat template, generate, Hermes parsing, HTTP): completion
tokens per second non-streaming, and time to first token / tokens per second when streaming.
Generation is forced to a fixed 200-token text containing a tool call, so every run parses one.

    python3 bench/serve.py [--requests N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai

from engine.serve.hf_backend import HFBackend
from engine.serve.openai_app import create_app
from engine.serve.threaded import ServerThread
from engine.serve.tiny import build_tiny_model
from engine.tools.schema import openai_tools


class Force:
    def __init__(self, ids: list[int], prompt_len: int):
        self.ids, self.n = ids, prompt_len

    def __call__(self, input_ids, scores):
        import torch

        out = torch.full_like(scores, float("-inf"))
        out[:, self.ids[min(input_ids.shape[1] - self.n, len(self.ids) - 1)]] = 0.0
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=10)
    n = ap.parse_args().requests
    import torch

    torch.set_num_threads(1)  # on a shared 2-core box, 2 intra-op threads were 14x slower under load
    path = build_tiny_model(Path(tempfile.mkdtemp()) / "tiny")
    backend = HFBackend.load(str(path), name="tiny")
    text = "Let me look at the files first. " * 12 + '<tool_call>{"name": "bash", "arguments": {"command": "ls"}}</tool_call>'
    ids = backend.tokenizer(text, add_special_tokens=False)["input_ids"] + [backend.tokenizer.eos_token_id]
    backend.logits_processor_factory = lambda n_prompt: [Force(ids, n_prompt)]
    msgs = [{"role": "user", "content": "list the files"}]
    with ServerThread(create_app(backend)) as srv:
        c = openai.OpenAI(base_url=srv.url + "/v1", api_key="x", max_retries=0)
        c.chat.completions.create(model="tiny", messages=msgs, tools=openai_tools(), max_tokens=400)
        tps, lat = [], []
        for _ in range(n):
            t0 = time.perf_counter()
            r = c.chat.completions.create(model="tiny", messages=msgs, tools=openai_tools(), max_tokens=400)
            dt = time.perf_counter() - t0
            assert r.choices[0].message.tool_calls, "the forced tool call was not parsed"
            tps.append(r.usage.completion_tokens / dt)
            lat.append(dt)
        print(f"non-streaming: {r.usage.completion_tokens} completion tokens, prompt {r.usage.prompt_tokens} tokens; "
              f"median {statistics.median(lat) * 1000:.0f} ms/request, {statistics.median(tps):.0f} tokens/s")
        ttft, stps = [], []
        for _ in range(n):
            t0 = time.perf_counter()
            first = None
            usage = None
            for ch in c.chat.completions.create(model="tiny", messages=msgs, tools=openai_tools(), max_tokens=400,
                                                stream=True, stream_options={"include_usage": True}):
                if first is None and ch.choices and ch.choices[0].delta.content:
                    first = time.perf_counter() - t0
                usage = ch.usage or usage
            dt = time.perf_counter() - t0
            ttft.append(first or dt)
            stps.append(usage.completion_tokens / dt)
        print(f"streaming: time to first token median {statistics.median(ttft) * 1000:.0f} ms, "
              f"{statistics.median(stps):.0f} tokens/s")


if __name__ == "__main__":
    main()
