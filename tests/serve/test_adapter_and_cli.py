"""Serving a peft LoRA adapter with the transformers backend, and `sera serve` as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import openai
import pytest

from engine.serve.hf_backend import HFBackend
from engine.serve.openai_app import create_app
from engine.serve.threaded import ServerThread, free_port


@pytest.fixture(scope="module")
def adapter(tiny_model, tmp_path_factory):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():  # a non-zero adapter, so it visibly changes the output
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.fill_(0.5)
    out = tmp_path_factory.mktemp("adapter") / "student"
    peft_model.save_pretrained(out)
    return out


def test_adapter_changes_the_model(tiny_model, adapter):
    base = HFBackend.load(str(tiny_model), name="base")
    tuned = HFBackend.load(str(tiny_model), adapter=str(adapter), name="student")
    assert type(tuned.model).__name__.startswith("PeftModel")
    msgs = [{"role": "user", "content": "hello"}]

    def answer(b):
        with ServerThread(create_app(b)) as srv:
            c = openai.OpenAI(base_url=srv.url + "/v1", api_key="none", max_retries=0)
            return c.chat.completions.create(model=b.name, messages=msgs, max_tokens=12, temperature=0)

    a, b = answer(base), answer(tuned)
    assert a.model == "base" and b.model == "student"
    assert a.choices[0].message.content != b.choices[0].message.content


@pytest.mark.slow
def test_sera_serve_process(tiny_model, adapter, tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sera_tui.cli", "serve", "--model", str(tiny_model), "--adapter",
                             str(adapter), "--port", str(port), "--max-model-len", "2048"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=os.getcwd())
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/models").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.3)
        c = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none", max_retries=0)
        assert [m.id for m in c.models.list().data] == ["student"]
        r = c.chat.completions.create(model="student", messages=[{"role": "user", "content": "hi"}], max_tokens=5)
        assert r.usage.completion_tokens <= 5 and r.choices[0].finish_reason in ("stop", "length")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
