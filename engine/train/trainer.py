"""The training itself (runs inside the worker process): data -> masked tokens -> transformers Trainer
with a peft adapter (or full fine-tuning) -> adapter / merged weights + train_config.json in out_dir.

`emit(record)` receives every JSON-able progress record; the worker prints them as JSON lines.
"""

from __future__ import annotations

import json
import math
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.train.chat import resolve_format
from engine.train.config import TrainConfig
from engine.train.data import load_dataset
from engine.train.device import DeviceInfo, check_device
from engine.train.masking import Encoded, collate, prepare

Emit = Callable[[dict[str, Any]], None]


class TrainError(RuntimeError):
    pass


def _rss_peak_mb() -> float:
    # ru_maxrss is KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def last_checkpoint(out_dir: str | Path) -> Path | None:
    from transformers.trainer_utils import get_last_checkpoint

    out = Path(out_dir)
    found = get_last_checkpoint(str(out)) if out.is_dir() else None
    return Path(found) if found else None


def checkpoint_step(path: Path) -> int:
    state = json.loads((path / "trainer_state.json").read_text())
    return int(state.get("global_step", 0))


class _Collator:
    """Pads batches and counts the real (non-pad) tokens seen, for tokens/s."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id
        self.tokens = 0

    def __call__(self, batch: list[Encoded]) -> dict[str, Any]:
        self.tokens += sum(len(e.input_ids) for e in batch)
        return collate(batch, self.pad_id)


def _make_callbacks(emit: Emit, collator: _Collator, stop: threading.Event, cuda: bool) -> list[Any]:
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def __init__(self) -> None:
            self.t0 = time.monotonic()
            self.step0: int | None = None
            self.last_loss: float | None = None

        def on_train_begin(self, args, state, control, **kw):
            self.step0 = state.global_step
            self.t0 = time.monotonic()
            collator.tokens = 0

        def on_log(self, args, state, control, logs=None, **kw):
            if not state.is_world_process_zero or not logs or "loss" not in logs:
                return
            now = time.monotonic()
            done = state.global_step - (self.step0 or 0)
            per_step = (now - self.t0) / max(done, 1)
            self.last_loss = float(logs["loss"])
            gpu = None
            if cuda:
                import torch

                gpu = torch.cuda.max_memory_allocated() / 2**20
            emit({"event": "progress", "step": state.global_step, "max_steps": state.max_steps,
                  "epoch": round(float(state.epoch or 0.0), 4), "loss": self.last_loss,
                  "lr": float(logs.get("learning_rate", 0.0)),
                  # cumulative average: the dataloader fetches ahead, so per-interval counts jitter
                  "tokens_per_s": round(collator.tokens / max(now - self.t0, 1e-9), 2),
                  "gpu_mem_mb": gpu, "rss_mb": round(_rss_peak_mb(), 1),
                  "eta_s": round(per_step * max(state.max_steps - state.global_step, 0), 1)})

        def on_step_end(self, args, state, control, **kw):
            if stop.is_set():  # SIGTERM: save a checkpoint at this step, then stop
                control.should_save = True
                control.should_training_stop = True

    return [Progress()]


def run(config: TrainConfig, emit: Emit, stop: threading.Event | None = None,
        device: DeviceInfo | None = None) -> dict[str, Any]:
    """Train as configured; returns the final record (also emitted)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments, set_seed

    stop = stop or threading.Event()
    config.validate()
    device = device or DeviceInfo.probe()
    precision = check_device(config.method, config.precision, config.gpus, device)
    out = Path(config.out_dir)
    resume_from = None
    if config.resume:
        resume_from = last_checkpoint(out)
        if resume_from is None:
            raise TrainError(f"--resume: no checkpoint-* directory in {out} to resume from")
    out.mkdir(parents=True, exist_ok=True)

    tokenizer = AutoTokenizer.from_pretrained(config.base_model)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    fmt = resolve_format(tokenizer, config.chat_template)
    if fmt.warning:
        emit({"event": "warning", "message": fmt.warning})
    examples = load_dataset(config.dataset_path)
    prepared = prepare(tokenizer, examples, fmt, config.max_len)
    for w in prepared.warnings:
        emit({"event": "warning", "message": w})
    emit({"event": "data", **prepared.stats(), "template": fmt.source})

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    load_kw: dict[str, Any] = {"dtype": dtype if config.method != "full" or precision != "fp16" else torch.float32}
    if config.method == "qlora":
        from transformers import BitsAndBytesConfig

        load_kw["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype)
    set_seed(config.seed)  # adapter init happens before the Trainer seeds anything
    model = AutoModelForCausalLM.from_pretrained(config.base_model, **load_kw)
    model.config.use_cache = False  # a KV cache is wasted work in training (and clashes with checkpointing)
    if config.method in ("lora", "qlora"):
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

        if config.method == "qlora":
            model = prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=config.gradient_checkpointing)
        elif config.gradient_checkpointing:
            model.enable_input_require_grads()  # adapters only: checkpointed inputs need grads
        targets = linear_module_names(model) if config.target_modules == "all-linear" else config.target_modules
        model = get_peft_model(model, LoraConfig(
            r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
            target_modules=targets, task_type="CAUSAL_LM"))

    collator = _Collator(tokenizer.pad_token_id)
    args = TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=config.batch,
        gradient_accumulation_steps=config.grad_accum, learning_rate=config.lr,
        num_train_epochs=config.epochs, max_steps=config.max_steps, warmup_steps=config.warmup,
        lr_scheduler_type=config.scheduler, logging_steps=config.logging_steps, save_strategy="steps",
        save_steps=config.save_steps, save_total_limit=config.save_total_limit, seed=config.seed,
        report_to="none", disable_tqdm=True, remove_unused_columns=False, dataloader_num_workers=0,
        use_cpu=not device.cuda, bf16=precision == "bf16", fp16=precision == "fp16",
        activation_checkpointing=config.gradient_checkpointing,
        optim="adamw_torch_fused" if device.cuda else "adamw_torch",
        ddp_find_unused_parameters=False if int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
    )
    cfg_record = {**config.to_dict(), "resolved": {
        "precision": precision, "template_source": fmt.source, "chat_template": fmt.template,
        "tool_call_arguments": fmt.arguments,
        "data": prepared.stats(), "truncated_examples": prepared.truncated,
        "world_size": int(os.environ.get("WORLD_SIZE", "1")), "python": sys.version.split()[0],
        "versions": _versions()}}
    (out / "train_config.json").write_text(json.dumps(cfg_record, indent=2, sort_keys=True))

    trainer = Trainer(model=model, args=args, train_dataset=prepared.examples, data_collator=collator,
                      callbacks=_make_callbacks(emit, collator, stop, device.cuda))
    start_step = checkpoint_step(resume_from) if resume_from else 0
    per_epoch = math.ceil(math.ceil(len(prepared.examples) / config.batch) / config.grad_accum)
    emit({"event": "start", "max_steps": config.max_steps if config.max_steps > 0 else
          math.ceil(per_epoch * config.epochs),
          "resume_from_step": start_step, "examples": len(prepared.examples), "precision": precision,
          "method": config.method, "device": "cuda" if device.cuda else "cpu"})
    if stop.is_set():  # cancelled while loading: nothing trained, nothing to save
        final = {"event": "final", "status": "cancelled", "step": start_step, "out_dir": str(out)}
        emit(final)
        return final
    t0 = time.monotonic()
    result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    elapsed = time.monotonic() - t0
    state = trainer.state
    losses = [h["loss"] for h in state.log_history if "loss" in h]
    final: dict[str, Any] = {
        "event": "final", "step": state.global_step, "max_steps": state.max_steps,
        "final_loss": losses[-1] if losses else None, "train_loss": result.training_loss,
        "train_runtime_s": round(elapsed, 2), "tokens_per_s": round(collator.tokens / max(elapsed, 1e-9), 2),
        "peak_gpu_mem_mb": torch.cuda.max_memory_allocated() / 2**20 if device.cuda else None,
        "peak_rss_mb": round(_rss_peak_mb(), 1), "out_dir": str(out), "resumed_from_step": start_step,
    }
    if stop.is_set():
        final.update(status="cancelled", checkpoint=str(last_checkpoint(out) or ""))
        emit(final)
        return final
    trainer.save_model(str(out))  # every rank: FSDP gathers the full state dict, rank 0 writes
    if trainer.is_world_process_zero():
        tokenizer.chat_template = fmt.template  # serving renders exactly what we trained on
        tokenizer.save_pretrained(str(out))
        final["adapter_dir" if config.method != "full" else "model_dir"] = str(out)
        if config.merge and config.method != "full":
            merged_dir = out / "merged"
            merged = trainer.model.merge_and_unload() if config.method == "lora" else _merge_qlora(config, out)
            merged.save_pretrained(str(merged_dir))
            tokenizer.save_pretrained(str(merged_dir))
            final["merged_dir"] = str(merged_dir)
    final["status"] = "finished"
    emit(final)
    return final


def linear_module_names(model: Any) -> list[str]:
    """Short names of every linear layer but the output head ("all linear layers", as in QLoRA).

    peft's own "all-linear" would write full module paths into adapter_config.json; short names
    (q_proj, …, down_proj) are what vLLM and other loaders expect."""
    import torch

    head = model.get_output_embeddings()
    return sorted({name.rsplit(".", 1)[-1] for name, mod in model.named_modules()
                   if isinstance(mod, torch.nn.Linear) and mod is not head})


def _merge_qlora(config: TrainConfig, out: Path) -> Any:
    """QLoRA trains on a 4-bit base: merge into a fresh full-precision copy instead."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(config.base_model, dtype=torch.bfloat16)
    return PeftModel.from_pretrained(base, str(out)).merge_and_unload()


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    found = {}
    for pkg in ("torch", "transformers", "peft", "accelerate", "tokenizers"):
        try:
            found[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return found
