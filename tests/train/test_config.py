"""Presets, option validation, the device check, the multi-GPU command line and the axolotl YAML."""

from __future__ import annotations

import json

import pytest
import yaml

from engine.train.axolotl import axolotl_config, axolotl_yaml
from engine.train.config import ConfigError, TrainConfig, build_config
from engine.train.device import DeviceError, DeviceInfo, check_device
from engine.train.launch import worker_command

CPU = DeviceInfo(cuda=False, n_gpus=0, bf16=False, bitsandbytes=False)
H100 = DeviceInfo(cuda=True, n_gpus=1, bf16=True, bitsandbytes=True)


def cfg(tmp_path, **kw) -> TrainConfig:
    return build_config(tmp_path / "d.jsonl", "Qwen/Qwen3-8B", tmp_path / "out", **kw)


def test_sera_presets_match_the_paper(tmp_path):
    full = cfg(tmp_path, preset="sera-full")
    assert (full.method, full.lr, full.epochs, full.max_len, full.warmup, full.scheduler) == (
        "full", 1e-5, 3.0, 32768, 48, "cosine")
    assert full.global_batch == 32
    q = cfg(tmp_path, preset="sera-qlora")
    assert (q.method, q.lora_r, q.lora_alpha, q.target_modules, q.lr) == ("qlora", 32, 128, "all-linear", 5e-5)
    # explicit flags win over the preset; global batch stays 32 when only --batch changes
    tuned = cfg(tmp_path, preset="sera-full", lr=2e-5, batch=4)
    assert tuned.lr == 2e-5 and tuned.global_batch == 32
    assert cfg(tmp_path, preset="sera-full", gpus=8).global_batch == 32


def test_bad_options_get_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="--method must be one of lora, qlora, full"):
        cfg(tmp_path, method="dora")
    with pytest.raises(ConfigError, match="--preset"):
        cfg(tmp_path, preset="sera-huge")
    with pytest.raises(ConfigError, match="--lora-r must be a positive integer"):
        cfg(tmp_path, lora_r=0)
    with pytest.raises(ConfigError, match="--lr must be > 0"):
        cfg(tmp_path, lr=0.0)


def test_config_round_trips_through_json(tmp_path):
    c = cfg(tmp_path, preset="sera-qlora", seed=7)
    assert TrainConfig.from_json(c.to_json()) == c
    with pytest.raises(ConfigError, match="unknown training option"):
        TrainConfig.from_dict({**c.to_dict(), "bogus": 1})


def test_device_check():
    with pytest.raises(DeviceError, match="--method qlora needs a CUDA GPU"):
        check_device("qlora", "auto", 1, CPU)
    with pytest.raises(DeviceError, match="--precision bf16 needs a CUDA GPU"):
        check_device("lora", "bf16", 1, CPU)
    with pytest.raises(DeviceError, match="--gpus 4 asked for, but 1"):
        check_device("lora", "auto", 4, H100)
    assert check_device("lora", "auto", 1, CPU) == "fp32"
    assert check_device("full", "auto", 1, CPU) == "fp32"
    assert check_device("qlora", "auto", 1, H100) == "bf16"


def test_one_gpu_runs_the_worker_directly(tmp_path):
    c = cfg(tmp_path)
    cmd = worker_command(c, python="/usr/bin/python3")
    assert cmd[:5] == ["/usr/bin/python3", "-m", "engine.train.worker", "--config", c.to_json()]


def test_several_gpus_run_under_accelerate_launch(tmp_path):
    lora = worker_command(cfg(tmp_path, gpus=4, precision="bf16"), python="py")
    assert lora[:5] == ["py", "-m", "accelerate.commands.launch", "--num_processes", "4"]
    assert "--multi_gpu" in lora and "--use_fsdp" not in lora
    assert lora[lora.index("--mixed_precision") + 1] == "bf16"
    assert lora[-4:-1] == ["-m", "engine.train.worker", "--config"]
    assert TrainConfig.from_json(lora[-1]).gpus == 4
    full = worker_command(cfg(tmp_path, preset="sera-full", gpus=8), python="py")
    assert "--use_fsdp" in full and full[full.index("--fsdp_sharding_strategy") + 1] == "FULL_SHARD"
    assert full[full.index("--fsdp_state_dict_type") + 1] == "FULL_STATE_DICT"
    assert "--multi_gpu" not in full


def test_axolotl_yaml_trains_on_the_same_tokens(tmp_path):
    c = cfg(tmp_path, preset="sera-qlora")
    parsed = yaml.safe_load(axolotl_yaml(c))
    assert parsed == json.loads(json.dumps(axolotl_config(c)))
    ds = parsed["datasets"][0]
    assert parsed["chat_template"] == "tokenizer_default" and ds["type"] == "chat_template"
    assert ds["field_messages"] == "messages" and ds["field_tools"] == "tools"
    assert ds["roles_to_train"] == ["assistant"] and ds["message_field_training"] == "train"
    assert ds["path"] == c.dataset_path
    assert (parsed["adapter"], parsed["load_in_4bit"], parsed["lora_r"], parsed["lora_alpha"]) == ("qlora", True, 32, 128)
    assert parsed["lora_target_linear"] is True and parsed["sequence_len"] == 32768
    assert parsed["sample_packing"] is False and parsed["learning_rate"] == 5e-5
    full = yaml.safe_load(axolotl_yaml(cfg(tmp_path, preset="sera-full", gpus=8)))
    assert "adapter" not in full and full["fsdp"] == ["full_shard", "auto_wrap"]
