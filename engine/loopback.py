"""A scripted OpenAI-compatible chat server on 127.0.0.1, for tests, benchmarks and offline runs.

It is a real HTTP server (stdlib, threaded) so clients are exercised end to end. Replies come from
a `responder(request_json) -> Reply` callable, or from a fixed script popped in order. Helpers
build replies that look like a model's: tool calls, reasoning in `reasoning`/`reasoning_content`/
`<think>` form, errors with a status code, and latency. `stream: true` requests get SSE chunks.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ids = itertools.count(1)


@dataclass
class Reply:
    body: dict[str, Any]
    status: int = 200
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    drop_connection: bool = False  # close the socket without answering (a connection reset)


def chat_completion(message: dict[str, Any], *, model: str = "scripted", finish_reason: str | None = None,
                    prompt_tokens: int = 10, completion_tokens: int = 5) -> dict[str, Any]:
    if finish_reason is None:
        finish_reason = "tool_calls" if message.get("tool_calls") else "stop"
    return {
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


def tool_call_reply(name: str, arguments: dict[str, Any] | str, *, content: str | None = "",
                    reasoning: str | None = None, reasoning_field: str = "reasoning",
                    call_id: str | None = None, delay_s: float = 0.0, **kw: Any) -> Reply:
    """An assistant turn calling one tool. `arguments` as a str is sent verbatim (may be malformed)."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    msg: dict[str, Any] = {
        "role": "assistant",
        "content": content,
        "tool_calls": [{"id": call_id or f"call_{next(_ids)}", "type": "function",
                        "function": {"name": name, "arguments": args}}],
    }
    if reasoning is not None:
        if reasoning_field == "think":
            msg["content"] = f"<think>{reasoning}</think>{content or ''}"
        else:
            msg[reasoning_field] = reasoning
    return Reply(chat_completion(msg, **kw), delay_s=delay_s)


def text_reply(text: str, *, reasoning: str | None = None, reasoning_field: str = "reasoning",
               delay_s: float = 0.0, **kw: Any) -> Reply:
    msg: dict[str, Any] = {"role": "assistant", "content": text}
    if reasoning is not None:
        if reasoning_field == "think":
            msg["content"] = f"<think>{reasoning}</think>{text}"
        else:
            msg[reasoning_field] = reasoning
    return Reply(chat_completion(msg, **kw), delay_s=delay_s)


def error_reply(status: int, message: str, *, code: str | None = None, err_type: str = "invalid_request_error",
                delay_s: float = 0.0) -> Reply:
    return Reply({"error": {"message": message, "type": err_type, "code": code, "param": None}},
                 status=status, delay_s=delay_s)


def context_length_reply() -> Reply:
    """What vLLM answers when the prompt does not fit the model's context."""
    return error_reply(400, "This model's maximum context length is 32768 tokens. However, you requested "
                            "40000 tokens in the messages. Please reduce the length of the messages.",
                       code="context_length_exceeded")


Responder = Callable[[dict[str, Any]], Reply]


class _Server(ThreadingHTTPServer):
    # The stdlib default backlog (5) resets connections when 16+ rollouts connect at once on a
    # loaded machine; a real model server has a deep accept queue.
    request_queue_size = 256
    daemon_threads = True


class ScriptedOpenAIServer:
    """Serve `/v1/chat/completions` and `/v1/models` on 127.0.0.1:<free port>.

    Use as a context manager or call start()/stop(). `requests` records every request body.
    """

    def __init__(self, responder: Responder | Iterable[Reply] | None = None, *, model: str = "scripted",
                 host: str = "127.0.0.1", port: int = 0):
        if responder is None:
            responder = []
        if callable(responder):
            self._responder: Responder = responder
        else:
            script = list(responder)
            lock = threading.Lock()

            def pop(_req: dict[str, Any]) -> Reply:
                with lock:
                    if not script:
                        return error_reply(500, "scripted server: script exhausted", err_type="server_error")
                    return script.pop(0)

            self._responder = pop
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as two writes; with Nagle on, the body waits for the
            # client's delayed ACK (~40 ms a call on Linux loopback).
            disable_nagle_algorithm = True

            def log_message(self, *_a: Any) -> None:  # quiet
                pass

            def _send_json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/").endswith("/models"):
                    self._send_json(200, {"object": "list", "data": [
                        {"id": server.model, "object": "model", "created": 0, "owned_by": "scripted"}]})
                elif self.path.rstrip("/") in ("/health", "/v1/health"):
                    self._send_json(200, {"status": "ok"})
                else:
                    self._send_json(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    req = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    self._send_json(400, {"error": {"message": "body is not JSON"}})
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send_json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                with server._lock:
                    server.requests.append(req)
                reply = server._responder(req)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.drop_connection:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if reply.status == 200 and req.get("stream"):
                    self._stream(reply.body)
                else:
                    self._send_json(reply.status, reply.body, reply.headers)

            def _stream(self, body: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                for chunk in _stream_chunks(body):
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        self._httpd = _Server((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> "ScriptedOpenAIServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="scripted-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "ScriptedOpenAIServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _stream_chunks(body: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """Split a chat.completion into chat.completion.chunk deltas the way vLLM streams them."""
    choice = body["choices"][0]
    msg = choice["message"]
    base = {"id": body["id"], "object": "chat.completion.chunk", "created": body["created"], "model": body["model"]}

    def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict | None = None) -> dict[str, Any]:
        c = dict(base, choices=[{"index": 0, "delta": delta, "finish_reason": finish}])
        if usage:
            c["usage"] = usage
        return c

    yield chunk({"role": "assistant", "content": ""})
    for key in ("reasoning", "reasoning_content"):
        text = msg.get(key)
        if text:
            for i in range(0, len(text), 16):
                yield chunk({key: text[i:i + 16]})
    content = msg.get("content") or ""
    for i in range(0, len(content), 16):
        yield chunk({"content": content[i:i + 16]})
    for n, call in enumerate(msg.get("tool_calls") or []):
        args = call["function"]["arguments"]
        yield chunk({"tool_calls": [{"index": n, "id": call["id"], "type": "function",
                                     "function": {"name": call["function"]["name"], "arguments": ""}}]})
        for i in range(0, len(args), 16):
            yield chunk({"tool_calls": [{"index": n, "function": {"arguments": args[i:i + 16]}}]})
    yield chunk({}, choice.get("finish_reason") or "stop", body.get("usage"))
