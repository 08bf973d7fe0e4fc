"""The proxy's HTTP app (starlette): /v1/messages (streaming and not), count_tokens, /v1/models."""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from engine.proxy.errors import ProxyError, error_body, invalid
from engine.proxy.stream import StreamTranslator, sse
from engine.proxy.translate import count_tokens, from_openai, to_openai

MAX_BODY_BYTES = 32 * 1024 * 1024  # the Messages API's own request limit
PING_EVERY_S = 10.0


@dataclass
class ProxyConfig:
    upstream: str                 # OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1
    model: str                    # model name sent upstream
    host: str = "127.0.0.1"
    port: int = 8080
    api_key: str | None = None    # required from clients when set
    upstream_api_key: str | None = None
    map_tools: bool = False
    max_body_bytes: int = MAX_BODY_BYTES
    timeout_s: float = 600.0


def _error(exc: ProxyError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


def _upstream_error(exc: Exception) -> ProxyError:
    import openai

    if isinstance(exc, openai.APIStatusError):
        try:
            msg = exc.response.json().get("error", {}).get("message") or str(exc)
        except Exception:
            msg = str(exc)
        status = exc.status_code if exc.status_code in (400, 401, 403, 404, 413, 429) else 502
        if status in (401, 403):
            status = 502  # the proxy's upstream credentials, not the client's
        return ProxyError(f"upstream: {msg}", status)
    if isinstance(exc, openai.APITimeoutError):
        return ProxyError("upstream timed out", 504, "api_error")
    if isinstance(exc, openai.APIConnectionError):
        return ProxyError(f"upstream unreachable: {exc}", 502, "api_error")
    return ProxyError(f"upstream error: {exc}", 502, "api_error")


def create_app(config: ProxyConfig) -> Starlette:
    import openai

    client = openai.AsyncOpenAI(base_url=config.upstream, api_key=config.upstream_api_key or "sera-proxy",
                                max_retries=1, timeout=config.timeout_s)
    memory: OrderedDict = OrderedDict()  # tool-call id -> the model's own call (map-tools round trips)

    def authorized(request: Request) -> bool:
        if not config.api_key:
            return True
        given = request.headers.get("x-api-key") or ""
        auth = request.headers.get("authorization") or ""
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        return hmac.compare_digest(given.encode(), config.api_key.encode())

    async def read_json(request: Request) -> Any:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > config.max_body_bytes:
            raise ProxyError(f"request is {declared} bytes; the limit is {config.max_body_bytes}", 413)
        raw = bytearray()
        async for part in request.stream():
            raw += part
            if len(raw) > config.max_body_bytes:
                raise ProxyError(f"request exceeds the limit of {config.max_body_bytes} bytes", 413)
        try:
            return json.loads(raw or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise invalid(f"request body is not valid JSON: {exc}") from None

    def guarded(handler):
        async def wrapped(request: Request) -> Response:
            if not authorized(request):
                return JSONResponse(error_body("invalid x-api-key", "authentication_error"), status_code=401)
            try:
                return await handler(request)
            except ProxyError as exc:
                return _error(exc)
        return wrapped

    async def messages(request: Request) -> Response:
        req = await read_json(request)
        tr = to_openai(req, upstream_model=config.model, map_tools=config.map_tools, memory=memory)
        if not req.get("stream"):
            try:
                resp = await client.chat.completions.create(**tr.body)
            except Exception as exc:  # noqa: BLE001 - every upstream failure becomes an Anthropic error
                raise _upstream_error(exc) from None
            return JSONResponse(from_openai(resp.model_dump(), tr))
        try:
            # Opened before answering, so an upstream refusal is still a proper HTTP error.
            upstream = await client.chat.completions.create(
                **tr.body, stream=True, stream_options={"include_usage": True})
        except Exception as exc:  # noqa: BLE001
            raise _upstream_error(exc) from None
        return StreamingResponse(_events(upstream, StreamTranslator(tr), count_tokens_safe(req)),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    def count_tokens_safe(req: Any) -> int:
        try:
            return count_tokens(req, map_tools=config.map_tools)
        except ProxyError:
            return 0

    async def _events(upstream: Any, st: StreamTranslator, input_tokens: int) -> AsyncIterator[bytes]:
        for ev in st.start(input_tokens):
            yield sse(ev)
        queue: asyncio.Queue = asyncio.Queue()

        async def pump() -> None:
            try:
                async for chunk in upstream:
                    await queue.put(("chunk", chunk.model_dump()))
                    # Reads of already-buffered bytes never suspend: yield so each chunk goes out
                    # now instead of after the whole upstream reply.
                    await asyncio.sleep(0)
                await queue.put(("end", None))
            except Exception as exc:  # noqa: BLE001
                await queue.put(("error", exc))

        task = asyncio.create_task(pump())
        try:
            while True:
                try:
                    kind, item = await asyncio.wait_for(queue.get(), PING_EVERY_S)
                except TimeoutError:
                    yield sse({"type": "ping"})  # keeps clients' idle timers from firing
                    continue
                if kind == "chunk":
                    for ev in st.feed(item):
                        yield sse(ev)
                elif kind == "end":
                    for ev in st.finish_events():
                        yield sse(ev)
                    return
                else:
                    err = _upstream_error(item)
                    yield sse({"type": "error", "error": {"type": err.err_type, "message": err.message}})
                    return
        finally:
            task.cancel()
            await upstream.close()

    async def tokens(request: Request) -> Response:
        req = await read_json(request)
        return JSONResponse({"input_tokens": count_tokens(req, map_tools=config.map_tools)})

    async def models(request: Request) -> Response:
        entry = {"type": "model", "id": config.model, "display_name": config.model,
                 "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(0))}
        return JSONResponse({"data": [entry], "has_more": False, "first_id": config.model,
                             "last_id": config.model})

    async def root(request: Request) -> Response:
        return JSONResponse({"status": "ok", "upstream": config.upstream, "model": config.model})

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse(error_body(f"no route {request.method} {request.url.path}", "not_found_error"),
                            status_code=404)

    async def server_error(request: Request, exc: Exception) -> Response:
        return JSONResponse(error_body(f"proxy error: {exc}", "api_error"), status_code=500)

    return Starlette(
        routes=[
            Route("/v1/messages", guarded(messages), methods=["POST"]),
            Route("/v1/messages/count_tokens", guarded(tokens), methods=["POST"]),
            Route("/v1/models", guarded(models), methods=["GET"]),
            Route("/", root, methods=["GET", "HEAD"]),
        ],
        exception_handlers={404: not_found, 405: not_found, 500: server_error},
    )


def run_proxy(config: ProxyConfig) -> None:
    """Serve until interrupted (blocking)."""
    import uvicorn

    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level="warning")
