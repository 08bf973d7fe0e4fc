"""`sera train`: supervised fine-tuning on an exported dataset (LoRA / QLoRA / full), as a subprocess
whose JSON-line progress is stored as a train run. Heavy imports stay inside the function."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from sera_tui.commands.common import fail, open_store, print_json, workspace


def _human(record: dict[str, Any]) -> None:
    kind = record.get("event")
    if kind == "progress":
        eta = record.get("eta_s")
        parts = [f"step {record['step']}/{record['max_steps']}", f"epoch {record.get('epoch', 0):.2f}",
                 f"loss {record['loss']:.4f}" if record.get("loss") is not None else "loss -",
                 f"lr {record.get('lr') or 0:.2e}", f"{record.get('tokens_per_s') or 0:.0f} tok/s"]
        if record.get("gpu_mem_mb") is not None:
            parts.append(f"gpu {record['gpu_mem_mb']:.0f} MiB")
        if eta is not None:
            parts.append(f"eta {eta:.0f}s")
        typer.echo("  ".join(parts))
    elif kind == "warning":
        typer.echo(f"sera: warning: {record.get('message')}", err=True)
    elif kind == "data":
        typer.echo(f"data: {record['examples']} example(s) of {record['rows']}, {record['tokens']} tokens "
                   f"({record['train_tokens']} trained), {record['truncated']} truncated, "
                   f"{record['dropped_too_long']} too long, {record['all_masked']} fully masked; "
                   f"template: {record.get('template')}")
    elif kind == "start":
        typer.echo(f"training: {record.get('method')} on {record.get('device')} ({record.get('precision')}), "
                   f"{record.get('max_steps')} step(s)"
                   + (f", resuming after step {record['resume_from_step']}" if record.get("resume_from_step") else ""))


def train(
    dataset: str = typer.Option(..., "--dataset", help="A dataset name recorded by `sera export`, or a JSONL file."),
    base_model: str = typer.Option(..., "--base-model", help="Local model directory or hub id."),
    out: Path = typer.Option(..., "--out", help="Output directory (adapter, checkpoints, train_config.json)."),  # noqa: B008
    method: str | None = typer.Option(None, "--method", help="lora (default) | qlora (GPU) | full."),
    preset: str | None = typer.Option(
        None, "--preset", help="sera-full: lr 1e-5, 3 epochs, 32K, global batch 32, 48 warmup, cosine. "
                               "sera-qlora: r 32, alpha 128, all linear layers, lr 5e-5."),
    lora_r: int | None = typer.Option(None, "--lora-r", help="LoRA rank (default 32)."),
    lora_alpha: int | None = typer.Option(None, "--lora-alpha", help="LoRA alpha (default 128)."),
    max_len: int | None = typer.Option(None, "--max-len", help="Token limit per example (default 32768)."),
    epochs: float | None = typer.Option(None, "--epochs", help="Epochs (default 3)."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Stop after this many optimizer steps."),
    lr: float | None = typer.Option(None, "--lr", help="Peak learning rate (default 5e-5)."),
    batch: int | None = typer.Option(None, "--batch", help="Examples per device per step (default 1)."),
    grad_accum: int | None = typer.Option(None, "--grad-accum", help="Gradient accumulation steps."),
    warmup: int | None = typer.Option(None, "--warmup", help="Warmup steps."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (default 42)."),
    save_steps: int | None = typer.Option(None, "--save-steps", help="Checkpoint every N steps (default 50)."),
    precision: str | None = typer.Option(None, "--precision", help="auto (bf16 on GPU, fp32 on CPU) | fp32 | bf16 | fp16."),
    gradient_checkpointing: bool = typer.Option(False, "--gradient-checkpointing", help="Trade compute for memory."),
    chat_template: str | None = typer.Option(
        None, "--chat-template", help="auto (model's own, ChatML/Hermes fallback if it cannot render tools) | model | chatml."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint in --out."),
    gpus: int | None = typer.Option(None, "--gpus", help="N > 1: run under `accelerate launch` (DDP; FSDP for full)."),
    merge: bool = typer.Option(False, "--merge", help="Also save merged full weights in OUT/merged."),
    emit_axolotl_config: bool = typer.Option(False, "--emit-axolotl-config", help="Print the matching axolotl YAML and exit."),
    json_out: bool = typer.Option(False, "--json", help="Print the worker's JSON progress records."),
) -> None:
    from engine.train.config import ConfigError, build_config
    from engine.train.data import DatasetError, load_dataset
    from engine.train.runner import resolve_dataset

    store = None
    ds_path, dataset_id = dataset, None
    if not Path(dataset).expanduser().is_file():
        store = open_store()
    try:
        ds_path, dataset_id = resolve_dataset(store, dataset)
        config = build_config(
            ds_path, base_model, out, preset=preset, method=method, lora_r=lora_r, lora_alpha=lora_alpha,
            max_len=max_len, epochs=epochs, max_steps=max_steps, lr=lr, batch=batch, grad_accum=grad_accum,
            warmup=warmup, seed=seed, save_steps=save_steps, precision=precision, chat_template=chat_template,
            gradient_checkpointing=gradient_checkpointing or None, resume=resume or None, gpus=gpus,
            merge=merge or None, dataset_name=None if Path(dataset).expanduser().is_file() else dataset)
    except (ConfigError, DatasetError) as exc:
        fail(str(exc))

    if emit_axolotl_config:
        from engine.train.axolotl import axolotl_yaml

        sys.stdout.write(axolotl_yaml(config))
        return

    try:
        load_dataset(config.dataset_path)  # shape errors now, not after the model has loaded
    except DatasetError as exc:
        fail(str(exc))
    model_path = Path(base_model).expanduser()
    if not model_path.exists() and (base_model.startswith((".", "/", "~")) or base_model.count("/") > 1):
        fail(f"--base-model {base_model}: no such directory")
    out_dir = Path(config.out_dir)
    has_checkpoint = any(out_dir.glob("checkpoint-*/trainer_state.json"))
    trained = (out_dir / "adapter_config.json").exists() or any(out_dir.glob("model*.safetensors"))
    if resume and not has_checkpoint:
        fail(f"--resume: no checkpoint in {out_dir} to resume from")
    if not resume and (has_checkpoint or trained):  # a run that failed before its first checkpoint may be redone
        fail(f"{out_dir} already holds a training run; pass --resume to continue it or choose another --out")

    from engine.train.device import DeviceError, DeviceInfo, check_device

    try:
        check_device(config.method, config.precision, config.gpus, DeviceInfo.probe())
    except DeviceError as exc:
        fail(str(exc))

    from engine.train.runner import run_train

    store = store or open_store()
    workspace()
    def interrupted(n: int) -> None:
        typer.echo("sera: stopping at the next step with a checkpoint (Ctrl-C again to kill)" if n == 1
                   else "sera: killing the training worker", err=True)

    import signal

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill PID` stops the worker cleanly too
    try:
        result = run_train(store, config, dataset_id=dataset_id, on_record=print_json if json_out else _human,
                           on_interrupt=interrupted)
    finally:
        store.close()
    if result.status == "finished":
        if not json_out:
            final = result.final or {}
            where = final.get("merged_dir") or final.get("adapter_dir") or final.get("model_dir") or config.out_dir
            typer.echo(f"train run {result.train_run_id} finished: final loss {result.final_loss}, "
                       f"{final.get('tokens_per_s')} tok/s; saved to {where}")
        return
    if result.status == "cancelled":
        fail(f"train run {result.train_run_id} cancelled; continue with --resume --out {config.out_dir}", code=130)
    fail(f"train run {result.train_run_id} failed: {result.error}", code=1)
