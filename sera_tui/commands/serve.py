"""`sera serve`: a model behind an OpenAI-compatible endpoint (transformers on CPU/GPU, or vLLM)."""

from __future__ import annotations

from pathlib import Path

import typer

from sera_tui.commands.common import fail


def serve(
    model: str = typer.Option(..., "--model", help="Model path (or HF id for vLLM)."),
    adapter: Path | None = typer.Option(None, "--adapter", help="LoRA adapter directory (from `sera train`)."),
    backend: str = typer.Option("transformers", "--backend", help="transformers | vllm"),
    port: int = typer.Option(8000, "--port"),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (loopback unless told otherwise)."),
    served_name: str | None = typer.Option(None, "--served-name",
                                              help="Model name clients request (default: adapter/model dir name)."),
    max_model_len: int | None = typer.Option(None, "--max-model-len", help="Context length (SERA: 32768)."),
    tool_call_parser: str = typer.Option("hermes", "--tool-call-parser", help="vLLM tool-call parser."),
    reasoning_parser: str | None = typer.Option(None, "--reasoning-parser",
                                                   help="vLLM reasoning parser (qwen3, deepseek_r1, …)."),
    dtype: str = typer.Option("auto", "--dtype", help="auto | float16 | bfloat16 | float32"),
    print_command: bool = typer.Option(False, "--print-command", help="vllm: print the command line and exit."),
    vllm_arg: list[str] | None = typer.Option(None, "--vllm-arg", help="Extra argument for `vllm serve` "
                                                                          "(repeatable)."),
) -> None:
    if backend not in ("transformers", "vllm"):
        fail(f"--backend must be transformers or vllm, got {backend!r}")
    if not 0 < port < 65536:
        fail(f"--port must be between 1 and 65535, got {port}")
    if adapter is not None and not (adapter / "adapter_config.json").is_file():
        fail(f"--adapter {adapter} is not a LoRA adapter directory (no adapter_config.json)")
    if backend == "transformers" and not Path(model).exists():
        fail(f"--model {model} is not a local directory (the transformers backend never downloads)")
    if max_model_len is not None and max_model_len < 1:
        fail("--max-model-len must be positive")
    from engine.serve.config import ServeConfig

    cfg = ServeConfig(model=model, backend=backend, adapter=str(adapter) if adapter else None, host=host, port=port,
                      served_name=served_name, max_model_len=max_model_len, tool_call_parser=tool_call_parser,
                      reasoning_parser=reasoning_parser, dtype=dtype, extra_args=list(vllm_arg or []))
    if print_command:
        import shlex

        from engine.serve.vllm import build_command

        typer.echo(shlex.join(build_command(cfg)))
        return
    from engine.serve.run import serve as run

    def ready(url: str) -> None:
        typer.echo(f"sera serve: {cfg.name} ready at {url} ({backend})", err=True)

    try:
        code = run(cfg, on_ready=ready)
    except Exception as exc:
        from engine.serve.vllm import VLLMError

        if isinstance(exc, (VLLMError, OSError, ValueError)):
            fail(str(exc))
        raise
    if code:
        fail(f"vllm exited with code {code}")
