"""`sera proxy`: an Anthropic-Messages endpoint (for Claude Code & co) in front of an OpenAI-compatible model."""

from __future__ import annotations

import typer

from sera_tui.commands.common import fail


def proxy(
    upstream: str = typer.Option(..., "--upstream", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1"),
    model: str = typer.Option(..., "--model", help="Model name to request upstream (e.g. the served name)."),
    port: int = typer.Option(8080, "--port", help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (loopback unless told otherwise)."),
    api_key: str | None = typer.Option(None, "--api-key", envvar="SERA_PROXY_API_KEY",
                                          help="Refuse requests without this key (x-api-key or Bearer)."),
    upstream_api_key: str | None = typer.Option(None, "--upstream-api-key", envvar="SERA_UPSTREAM_API_KEY",
                                                   help="Key sent to the upstream server."),
    map_tools: bool = typer.Option(False, "--map-tools",
                                   help="Show the model our SWE-agent tools and map Claude Code's Read/Write/Edit/"
                                        "Bash to them and back; other Claude Code tools are dropped."),
) -> None:
    from urllib.parse import urlparse

    parsed = urlparse(upstream)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        fail(f"--upstream must be an http(s) URL, got {upstream!r}")
    if not 0 < port < 65536:
        fail(f"--port must be between 1 and 65535, got {port}")
    from engine.proxy.app import ProxyConfig, run_proxy

    typer.echo(f"sera proxy: http://{host}:{port} -> {upstream} (model {model}"
               f"{', SWE-agent tool mapping' if map_tools else ''}{', API key required' if api_key else ''})",
               err=True)
    try:
        run_proxy(ProxyConfig(upstream=upstream.rstrip("/"), model=model, host=host, port=port, api_key=api_key,
                              upstream_api_key=upstream_api_key, map_tools=map_tools))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc}")
