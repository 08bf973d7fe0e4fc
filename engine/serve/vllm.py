"""Launching `vllm serve` with the flags SERA models need, and waiting until it answers.

Facts (vLLM docs): tool calls need `--enable-auto-tool-choice --tool-call-parser <p>`; reasoning
needs `--reasoning-parser <p>`; LoRA adapters need `--enable-lora --lora-modules name=path` and a
`--max-lora-rank` at least the adapter's rank (vLLM's default is 16; SERA's QLoRA uses r=32).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections import deque
from pathlib import Path

from engine.serve.config import ServeConfig

_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


class VLLMError(RuntimeError):
    pass


def adapter_rank(adapter: str) -> int | None:
    try:
        return int(json.loads((Path(adapter) / "adapter_config.json").read_text())["r"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def build_command(cfg: ServeConfig, vllm_bin: str = "vllm") -> list[str]:
    cmd = [vllm_bin, "serve", cfg.model, "--host", cfg.host, "--port", str(cfg.port)]
    if cfg.adapter:
        # Clients request the adapter by cfg.name; the base model stays reachable as <name>-base.
        cmd += ["--served-model-name", f"{cfg.name}-base",
                "--enable-lora", "--lora-modules", f"{cfg.name}={cfg.adapter}"]
        rank = adapter_rank(cfg.adapter)
        if rank and rank > 16:
            cmd += ["--max-lora-rank", str(next((r for r in _LORA_RANKS if r >= rank), rank))]
    else:
        cmd += ["--served-model-name", cfg.name]
    if cfg.tool_call_parser:
        cmd += ["--enable-auto-tool-choice", "--tool-call-parser", cfg.tool_call_parser]
    if cfg.reasoning_parser:
        cmd += ["--reasoning-parser", cfg.reasoning_parser]
    if cfg.max_model_len:
        cmd += ["--max-model-len", str(cfg.max_model_len)]
    if cfg.dtype != "auto":
        cmd += ["--dtype", cfg.dtype]
    return cmd + list(cfg.extra_args)


def wait_healthy(base_url: str, proc: subprocess.Popen | None = None, *, timeout_s: float = 900.0,
                 log_tail: deque[str] | None = None, poll_s: float = 0.5) -> None:
    """Poll /health then /v1/models until one answers 200; fail early if the process dies."""
    import httpx

    root = base_url.removesuffix("/v1")
    deadline = time.monotonic() + timeout_s
    while True:
        if proc is not None and proc.poll() is not None:
            tail = "".join(log_tail or [])[-2000:]
            raise VLLMError(f"vllm exited with code {proc.returncode} before it was ready"
                            + (f"; last output:\n{tail}" if tail else ""))
        for url in (f"{root}/health", f"{root}/v1/models"):
            try:
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        if time.monotonic() > deadline:
            raise VLLMError(f"vllm did not answer on {root} within {timeout_s:.0f}s")
        time.sleep(poll_s)


class VLLMServer:
    """`vllm serve` as a child process; its output is echoed and the last lines kept for errors."""

    def __init__(self, cfg: ServeConfig, vllm_bin: str | None = None):
        self.cfg = cfg
        self.bin = vllm_bin or os.environ.get("SERA_VLLM_BIN") or shutil.which("vllm")
        if not self.bin:
            raise VLLMError("vllm is not installed here (pip install vllm on a GPU machine, or set SERA_VLLM_BIN)")
        self.command = build_command(cfg, self.bin)
        self.proc: subprocess.Popen | None = None
        self.tail: deque[str] = deque(maxlen=50)

    def start(self, *, timeout_s: float = 900.0, echo: bool = True) -> VLLMServer:
        import threading

        self.proc = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)

        def pump() -> None:
            assert self.proc and self.proc.stdout
            for line in self.proc.stdout:
                self.tail.append(line)
                if echo:
                    print(line, end="", flush=True)

        reader = threading.Thread(target=pump, name="vllm-log", daemon=True)
        reader.start()
        try:
            wait_healthy(self.cfg.base_url, self.proc, timeout_s=timeout_s)
        except VLLMError as exc:
            self.stop()
            reader.join(timeout=5)  # the last lines explain most failures (OOM, bad flag)
            tail = "".join(self.tail)[-2000:]
            raise VLLMError(f"{exc}" + (f"; last output:\n{tail}" if tail else "")) from None
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        import signal

        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def wait(self) -> int:
        assert self.proc is not None
        return self.proc.wait()
