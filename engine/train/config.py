"""The training configuration: defaults, SERA presets, validation, JSON round trip."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

METHODS = ("lora", "qlora", "full")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
CHAT_TEMPLATES = ("auto", "model", "chatml")

# SERA's recipes (DESIGN §3 "Training"). Global batch 32 = batch × grad_accum × gpus.
PRESETS: dict[str, dict[str, Any]] = {
    "sera-full": {
        "method": "full", "lr": 1e-5, "epochs": 3.0, "max_len": 32768, "global_batch": 32,
        "warmup": 48, "scheduler": "cosine",
    },
    "sera-qlora": {
        "method": "qlora", "lora_r": 32, "lora_alpha": 128, "target_modules": "all-linear", "lr": 5e-5,
        "epochs": 3.0, "max_len": 32768, "global_batch": 32, "warmup": 48, "scheduler": "cosine",
    },
}


class ConfigError(ValueError):
    """A bad training option, with a one-line message fit for the user."""


@dataclass
class TrainConfig:
    dataset_path: str
    base_model: str
    out_dir: str
    method: str = "lora"
    preset: str | None = None
    lora_r: int = 32
    lora_alpha: int = 128
    lora_dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"
    max_len: int = 32768
    epochs: float = 3.0
    max_steps: int = -1  # > 0 overrides epochs (smoke runs, tests)
    lr: float = 5e-5
    batch: int = 1  # per device
    grad_accum: int = 1
    warmup: int = 0
    scheduler: str = "cosine"
    seed: int = 42
    resume: bool = False
    gpus: int = 1
    gradient_checkpointing: bool = False
    precision: str = "auto"
    merge: bool = False
    save_steps: int = 50
    save_total_limit: int | None = 2
    logging_steps: int = 1
    chat_template: str = "auto"  # auto: the model's own, fallback when it cannot render tools
    dataset_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> TrainConfig:
        if self.method not in METHODS:
            raise ConfigError(f"--method must be one of {', '.join(METHODS)}, not {self.method!r}")
        if self.preset is not None and self.preset not in PRESETS:
            raise ConfigError(f"--preset must be one of {', '.join(PRESETS)}, not {self.preset!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}")
        if self.chat_template not in CHAT_TEMPLATES:
            raise ConfigError(f"--chat-template must be one of {', '.join(CHAT_TEMPLATES)}")
        positive = {"--lora-r": self.lora_r, "--lora-alpha": self.lora_alpha, "--max-len": self.max_len,
                    "--batch": self.batch, "--grad-accum": self.grad_accum, "--gpus": self.gpus,
                    "--save-steps": self.save_steps, "--logging-steps": self.logging_steps}
        for flag, value in positive.items():
            if value is None or value < 1:
                raise ConfigError(f"{flag} must be a positive integer, got {value}")
        if self.max_len < 16:
            raise ConfigError(f"--max-len {self.max_len} is too small to hold one chat turn")
        if not self.lr > 0:
            raise ConfigError(f"--lr must be > 0, got {self.lr}")
        if self.epochs <= 0 and self.max_steps <= 0:
            raise ConfigError("--epochs must be > 0 (or give --max-steps)")
        if self.warmup < 0:
            raise ConfigError(f"--warmup must be >= 0, got {self.warmup}")
        if not 0 <= self.lora_dropout < 1:
            raise ConfigError(f"--lora-dropout must be in [0, 1), got {self.lora_dropout}")
        return self

    @property
    def global_batch(self) -> int:
        return self.batch * self.grad_accum * self.gpus

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown training option(s): {', '.join(unknown)}")
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        return cls.from_dict(json.loads(text))


def build_config(dataset_path: str | Path, base_model: str, out_dir: str | Path, *,
                 preset: str | None = None, **overrides: Any) -> TrainConfig:
    """Defaults, then the preset, then every override that is not None (explicit flags win)."""
    values: dict[str, Any] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"--preset must be one of {', '.join(PRESETS)}, not {preset!r}")
        values.update(PRESETS[preset])
    values.update({k: v for k, v in overrides.items() if v is not None})
    global_batch = values.pop("global_batch", None)
    if global_batch and "grad_accum" not in {k for k, v in overrides.items() if v is not None}:
        per_step = int(values.get("batch", 1)) * int(values.get("gpus", 1))
        values["grad_accum"] = max(1, global_batch // max(1, per_step))
    model = Path(base_model).expanduser()
    base_model = str(model.resolve()) if model.exists() else str(base_model)  # the worker may run elsewhere
    cfg = TrainConfig(dataset_path=str(Path(dataset_path).resolve()), base_model=base_model,
                      out_dir=str(Path(out_dir).resolve()), preset=preset, **values)
    return cfg.validate()
