"""`sera serve` in engine terms: pick the backend, start it, block until interrupted."""

from __future__ import annotations

from collections.abc import Callable

from engine.serve.config import ServeConfig


def serve(cfg: ServeConfig, *, on_ready: Callable[[str], None] | None = None) -> int:
    if cfg.backend == "vllm":
        from engine.serve.vllm import VLLMServer

        server = VLLMServer(cfg).start()
        if on_ready:
            on_ready(cfg.base_url)
        try:
            return server.wait()
        finally:
            server.stop()
    if cfg.backend != "transformers":
        raise ValueError(f"unknown backend {cfg.backend!r} (transformers or vllm)")
    import uvicorn

    from engine.serve.hf_backend import HFBackend
    from engine.serve.openai_app import create_app

    backend = HFBackend.load(cfg.model, adapter=cfg.adapter, name=cfg.name, dtype=cfg.dtype,
                             max_model_len=cfg.max_model_len)
    app = create_app(backend)
    config = uvicorn.Config(app, host=cfg.host, port=cfg.port, log_level="warning")
    server = uvicorn.Server(config)
    if on_ready:
        orig_startup = server.startup

        async def startup(sockets=None):  # type: ignore[no-untyped-def]
            await orig_startup(sockets)
            on_ready(cfg.base_url)

        server.startup = startup  # type: ignore[method-assign]
    server.run()
    return 0
