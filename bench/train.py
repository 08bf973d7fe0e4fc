"""Training throughput and peak memory: our trainer (engine.train, transformers Trainer + peft) and
TRL's SFTTrainer on the same tokens (our masked input_ids/labels), same model, settings and steps.

Each trainer runs in its own subprocess so peak memory is its own. On CPU this is a smoke run with a
tiny model; on a GPU use a real architecture built from a config (no download), e.g.

    python bench/train.py                                        # CPU smoke: tiny Llama, 2048 tokens
    python bench/train.py --model qwen2-0.5b --ctx 8192  --steps 10 --gradient-checkpointing
    python bench/train.py --model qwen2-0.5b --ctx 32768 --steps 5  --gradient-checkpointing

Prints one line per trainer: tokens/s (non-pad tokens / train runtime), peak memory, final loss.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Model shapes built from a config (random weights): dims of public architectures, no download.
MODELS = {
    "tiny": {"arch": "llama", "layers": 2, "hidden": 64, "heads": 4, "kv_heads": 4, "intermediate": 128},
    "qwen2-0.5b": {"arch": "qwen2", "layers": 24, "hidden": 896, "heads": 14, "kv_heads": 2,
                   "intermediate": 4864, "model_vocab": 151936},
    "qwen2-1.5b": {"arch": "qwen2", "layers": 28, "hidden": 1536, "heads": 12, "kv_heads": 2,
                   "intermediate": 8960, "model_vocab": 151936},
}


def build_inputs(tmp: Path, args: argparse.Namespace) -> tuple[Path, Path]:
    from engine.train.tiny import build_model, synthetic_rows, write_jsonl

    shape = MODELS[args.model]
    model_dir = build_model(tmp / "model", max_positions=max(4096, args.ctx), **shape)
    # enough tool-calling turns that each chat is longer than --ctx; training cuts it back to the last
    # complete assistant turn that fits (the export's rule), so examples are a little under ctx tokens
    from transformers import AutoTokenizer

    from engine.train.chat import resolve_format, to_template_messages

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    probe = synthetic_rows(1, turns=4, seed=args.seed)[0]
    fmt = resolve_format(tok)
    n = len(tok(tok.apply_chat_template(to_template_messages(probe["messages"], fmt.arguments),
                                        tools=probe["tools"], tokenize=False))["input_ids"])
    turns = max(2, math.ceil(args.ctx / max(1, n / 5)) + 1)
    data = write_jsonl(synthetic_rows(args.examples, turns=turns, seed=args.seed), tmp / "data.jsonl")
    return model_dir, data


def time_prepare(model_dir: Path, data: Path, ctx: int) -> dict:
    """Render + locate assistant turns + tokenize + mask + truncate the whole dataset once."""
    from transformers import AutoTokenizer

    from engine.train.chat import resolve_format
    from engine.train.data import load_dataset
    from engine.train.masking import prepare

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    t0 = time.monotonic()
    prepared = prepare(tok, load_dataset(data), resolve_format(tok), ctx)
    return {"seconds": time.monotonic() - t0, **prepared.stats()}


def child(which: str, spec: dict) -> dict:
    """Run one trainer; returns its figures."""
    from engine.train.config import TrainConfig

    config = TrainConfig.from_dict(spec)
    if which == "ours":
        from engine.train import trainer

        final = trainer.run(config, lambda r: None)
        return {"tokens_per_s": final["tokens_per_s"], "runtime_s": final["train_runtime_s"],
                "peak_gpu_mb": final.get("peak_gpu_mem_mb"), "final_loss": final["final_loss"]}
    return run_trl(config)


def run_trl(config) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from engine.train.chat import resolve_format
    from engine.train.data import load_dataset
    from engine.train.device import DeviceInfo, check_device
    from engine.train.masking import prepare
    from engine.train.trainer import linear_module_names

    device = DeviceInfo.probe()
    precision = check_device(config.method, config.precision, config.gpus, device)
    tok = AutoTokenizer.from_pretrained(config.base_model)
    prepared = prepare(tok, load_dataset(config.dataset_path), resolve_format(tok, config.chat_template),
                       config.max_len)
    ds = Dataset.from_list([{"input_ids": e.input_ids, "labels": e.labels} for e in prepared.examples])
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    model = AutoModelForCausalLM.from_pretrained(config.base_model, dtype=dtype)
    peft_config = None
    if config.method != "full":
        peft_config = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                                 target_modules=linear_module_names(model), task_type="CAUSAL_LM")
    inner = DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id)
    seen = {"tokens": 0}

    def collator(batch):
        seen["tokens"] += sum(len(b["input_ids"]) for b in batch)
        return inner(batch)

    args = SFTConfig(
        output_dir=str(Path(config.out_dir) / "trl"), per_device_train_batch_size=config.batch,
        gradient_accumulation_steps=config.grad_accum, learning_rate=config.lr, max_steps=config.max_steps,
        warmup_steps=config.warmup, lr_scheduler_type=config.scheduler, logging_steps=1, save_strategy="no",
        report_to="none", disable_tqdm=True, seed=config.seed, use_cpu=not device.cuda,
        bf16=precision == "bf16", fp16=precision == "fp16", gradient_checkpointing=config.gradient_checkpointing,
        optim="adamw_torch_fused" if device.cuda else "adamw_torch", max_length=config.max_len, packing=False,
        dataset_num_proc=None)
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok, data_collator=collator,
                         peft_config=peft_config)
    t0 = time.monotonic()
    trainer.train()
    elapsed = time.monotonic() - t0
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"tokens_per_s": round(seen["tokens"] / elapsed, 2), "runtime_s": round(elapsed, 2),
            "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if device.cuda else None,
            "final_loss": losses[-1] if losses else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=sorted(MODELS), default="tiny")
    ap.add_argument("--ctx", type=int, default=2048, help="context length (tokens per example, at most)")
    ap.add_argument("--method", choices=["lora", "full", "qlora"], default="lora")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--grad-accum", type=int, default=1)
    ap.add_argument("--examples", type=int, default=8)
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--gradient-checkpointing", action="store_true")
    ap.add_argument("--trainers", default="ours,trl")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="runs per trainer, interleaved; prints medians")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        result = child(args.child, json.loads(args.spec))
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        print("BENCH " + json.dumps(result), flush=True)
        return

    from engine.train.config import build_config

    with tempfile.TemporaryDirectory(prefix="sera-bench-train-") as tmp_s:
        tmp = Path(tmp_s)
        t0 = time.monotonic()
        model_dir, data = build_inputs(tmp, args)
        prep = time_prepare(model_dir, data, args.ctx)
        print(f"# masking: {prep['examples']} examples, {prep['tokens']} tokens in {prep['seconds']:.2f}s "
              f"({prep['tokens'] / prep['seconds']:.0f} tokens/s, {prep['truncated']} cut back to --ctx)", flush=True)
        print(f"# model {args.model} ({MODELS[args.model]}), ctx {args.ctx}, method {args.method}, "
              f"{args.steps} steps × batch {args.batch} × accum {args.grad_accum}, "
              f"gradient checkpointing {'on' if args.gradient_checkpointing else 'off'}; "
              f"inputs built in {time.monotonic() - t0:.1f}s", flush=True)
        results: dict[str, list[dict]] = {}
        order = [w.strip() for w in args.trainers.split(",") if w.strip()]
        for _ in range(args.repeat):  # interleaved, so background load hits both alike
            for which in order:
                config = build_config(data, model_dir, tmp / f"out-{which}", method=args.method, max_len=args.ctx,
                                      max_steps=args.steps, batch=args.batch, grad_accum=args.grad_accum, lr=1e-4,
                                      precision=args.precision, gradient_checkpointing=args.gradient_checkpointing,
                                      save_steps=10**6, seed=args.seed)
                env = {**os.environ, "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false"}
                r = subprocess.run([sys.executable, __file__, "--child", which, "--spec", config.to_json()],
                                   capture_output=True, text=True, env=env, check=False)
                line = next((x for x in r.stdout.splitlines() if x.startswith("BENCH ")), None)
                if r.returncode != 0 or line is None:
                    tail = (r.stderr.strip().splitlines() or ["no output"])[-1]
                    results.setdefault(which, []).append({"error": tail})
                    print(f"{which:5s}  FAILED: {tail}", flush=True)
                    continue
                res = json.loads(line[6:])
                results.setdefault(which, []).append(res)
                gpu = f"{res['peak_gpu_mb']:.0f} MiB GPU" if res.get("peak_gpu_mb") else "no GPU"
                print(f"{which:5s}  {res['tokens_per_s']:>10.1f} tokens/s  runtime {res['runtime_s']:>7.2f}s  "
                      f"peak {gpu}, {res['peak_rss_mb']:.0f} MiB RSS  final loss {res['final_loss']:.4f}", flush=True)
        if args.repeat > 1:
            for which, runs in results.items():
                ok = sorted(r["tokens_per_s"] for r in runs if "error" not in r)
                if ok:
                    print(f"{which:5s}  median {ok[len(ok) // 2]:.1f} tokens/s over {len(ok)} runs "
                          f"(min {ok[0]:.1f}, max {ok[-1]:.1f})", flush=True)
        if args.json:
            print(json.dumps({"args": vars(args), "results": results}))


if __name__ == "__main__":
    main()
