"""Which device and precision a run can use, with a one-line reason when the request cannot work."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass


class DeviceError(RuntimeError):
    pass


@dataclass(frozen=True)
class DeviceInfo:
    cuda: bool
    n_gpus: int
    bf16: bool
    bitsandbytes: bool

    @classmethod
    def probe(cls) -> DeviceInfo:
        import torch

        cuda = torch.cuda.is_available()
        return cls(cuda=cuda, n_gpus=torch.cuda.device_count() if cuda else 0,
                   bf16=bool(cuda and torch.cuda.is_bf16_supported()),
                   bitsandbytes=importlib.util.find_spec("bitsandbytes") is not None)


def check_device(method: str, precision: str, gpus: int, info: DeviceInfo) -> str:
    """Return the precision to train in ("fp32"|"bf16"|"fp16") or raise DeviceError."""
    if method == "qlora":
        if not info.cuda:
            raise DeviceError("--method qlora needs a CUDA GPU (4-bit bitsandbytes base); none found. "
                              "Use --method lora (fp32) on this machine")
        if not info.bitsandbytes:
            raise DeviceError("--method qlora needs bitsandbytes: pip install 'sera-workbench[gpu]'")
    if gpus > 1 and info.n_gpus < gpus:
        raise DeviceError(f"--gpus {gpus} asked for, but {info.n_gpus} CUDA GPU(s) are visible")
    if precision in ("bf16", "fp16") and not info.cuda:
        raise DeviceError(f"--precision {precision} needs a CUDA GPU; none found (CPU trains in fp32)")
    if precision == "bf16" and not info.bf16:
        raise DeviceError("--precision bf16 is not supported by this GPU; use --precision fp16 or fp32")
    if precision == "auto":
        return "bf16" if info.bf16 else ("fp16" if info.cuda else "fp32")
    return precision
