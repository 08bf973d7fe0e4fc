"""The command line that runs one training worker: plain Python for one device, `accelerate launch`
for several GPUs (DDP for adapters, FSDP for full fine-tuning). No home-made distribution."""

from __future__ import annotations

import sys

from engine.train.config import TrainConfig

WORKER_MODULE = "engine.train.worker"


def worker_command(config: TrainConfig, python: str | None = None) -> list[str]:
    python = python or sys.executable
    tail = ["-m", WORKER_MODULE, "--config", config.to_json()]
    if config.gpus <= 1:
        return [python, *tail]
    cmd = [python, "-m", "accelerate.commands.launch", "--num_processes", str(config.gpus)]
    if config.precision in ("bf16", "fp16"):
        cmd += ["--mixed_precision", config.precision]
    if config.method == "full":
        # Shard parameters, gradients and optimizer state; wrap each decoder layer
        # (the model's _no_split_modules); gather a full state dict on save so the output loads anywhere.
        cmd += ["--use_fsdp", "--fsdp_sharding_strategy", "FULL_SHARD",
                "--fsdp_auto_wrap_policy", "TRANSFORMER_BASED_WRAP",
                "--fsdp_state_dict_type", "FULL_STATE_DICT", "--fsdp_cpu_ram_efficient_loading", "true",
                "--fsdp_sync_module_states", "true"]
    else:
        cmd += ["--multi_gpu"]
    return cmd + tail
