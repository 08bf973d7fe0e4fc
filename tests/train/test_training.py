"""Real training on CPU with the tiny model: the loss goes down, the adapter (and merged weights)
reload and generate, the exact config is written next to them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.train import trainer
from engine.train.config import build_config
from tests.train.conftest import chat, write_rows


@pytest.fixture(scope="module")
def trained(tiny_model, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trained")
    data = write_rows(tmp / "data.jsonl", [chat(1, ident=i % 2) for i in range(4)])
    config = build_config(data, tiny_model, tmp / "out", lr=5e-3, lora_r=8, lora_alpha=16, max_steps=8,
                          batch=2, save_steps=4, max_len=1024, merge=True, seed=1,
                          gradient_checkpointing=True)
    records: list[dict] = []
    final = trainer.run(config, records.append)
    return config, records, final


@pytest.mark.slow
def test_loss_decreases_over_a_few_steps(trained):
    _, records, final = trained
    progress = [r for r in records if r["event"] == "progress"]
    assert [r["step"] for r in progress] == list(range(1, 9))
    losses = [r["loss"] for r in progress]
    assert sum(losses[-2:]) / 2 < sum(losses[:2]) / 2 - 0.1, losses
    assert final["status"] == "finished" and final["final_loss"] == losses[-1]
    for key in ("max_steps", "epoch", "lr", "tokens_per_s", "eta_s", "gpu_mem_mb"):
        assert key in progress[0]
    assert progress[0]["tokens_per_s"] > 0 and progress[-1]["eta_s"] == 0


@pytest.mark.slow
def test_adapter_reloads_and_generates(trained, tiny_model):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, _, final = trained
    out = Path(final["adapter_dir"])
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    adapter_cfg = json.loads((out / "adapter_config.json").read_text())
    assert adapter_cfg["r"] == 8 and set(adapter_cfg["target_modules"]) >= {"q_proj", "v_proj", "down_proj"}

    tok = AutoTokenizer.from_pretrained(str(out))  # saved with the template it was trained with
    prompt = tok.apply_chat_template([{"role": "user", "content": "Fix the parse bug number 0."}],
                                     tools=chat(0)["tools"], add_generation_prompt=True, return_tensors="pt",
                                     return_dict=True)
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model))
    model = PeftModel.from_pretrained(base, str(out)).eval()
    with torch.no_grad():
        gen = model.generate(**prompt, max_new_tokens=6, do_sample=False)
        tuned_logits = model(**prompt).logits
        with model.disable_adapter():
            base_logits = model(**prompt).logits
    assert gen.shape[1] == prompt["input_ids"].shape[1] + 6
    assert not torch.allclose(tuned_logits, base_logits)  # the adapter changes the model

    merged = AutoModelForCausalLM.from_pretrained(final["merged_dir"]).eval()
    with torch.no_grad():
        assert torch.allclose(merged(**prompt).logits, tuned_logits, atol=1e-4)


@pytest.mark.slow
def test_exact_config_and_data_stats_are_saved(trained):
    config, records, _ = trained
    saved = json.loads((Path(config.out_dir) / "train_config.json").read_text())
    assert saved["lr"] == 5e-3 and saved["lora_r"] == 8 and saved["max_len"] == 1024
    assert saved["resolved"]["precision"] == "fp32" and saved["resolved"]["template_source"] == "model"
    assert saved["resolved"]["data"]["examples"] == 4
    data = next(r for r in records if r["event"] == "data")
    assert data["train_tokens"] > 0 and data["truncated"] == 0


def test_full_fine_tune_saves_loadable_weights(tiny_model, tmp_path):
    from transformers import AutoModelForCausalLM

    data = write_rows(tmp_path / "d.jsonl", [chat(0)])
    config = build_config(data, tiny_model, tmp_path / "out", method="full", max_steps=1, save_steps=10, lr=1e-3,
                          gradient_checkpointing=True)
    final = trainer.run(config, lambda r: None)
    assert final["status"] == "finished" and final["model_dir"] == config.out_dir
    AutoModelForCausalLM.from_pretrained(config.out_dir)
