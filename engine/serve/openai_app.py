"""An OpenAI-compatible chat server (starlette) over a generation backend.

`/v1/chat/completions` (streaming SSE and not) and `/v1/models`. Tool calls are parsed from the
model's Hermes `<tool_call>` blocks; `<think>` text comes back as `reasoning_content`, as vLLM's
hermes tool parser and reasoning parsers do.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from engine.serve.hf_backend import GenParams, GenStats, HFBackend
from engine.serve.output_parser import CALL_CLOSE, CALL_OPEN, TagStreamParser, parse_output, parse_tool_call


class BadRequest(Exception):
    pass


def _error(message: str, status: int = 400, err_type: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": err_type, "param": None, "code": None}},
                        status_code=status)


def _params(req: dict[str, Any]) -> GenParams:
    max_tokens = req.get("max_completion_tokens") or req.get("max_tokens") or 512
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise BadRequest("max_tokens must be a positive integer")
    if (req.get("n") or 1) != 1:
        raise BadRequest("only n=1 is supported")
    stop = req.get("stop")
    stop = [stop] if isinstance(stop, str) else list(stop or [])
    temperature = req.get("temperature")
    return GenParams(max_tokens=max_tokens, temperature=float(0.0 if temperature is None else temperature),
                     top_p=float(req.get("top_p") or 1.0), stop=stop, seed=req.get("seed"))


def _forced_call(tool_choice: Any, tools: list[dict[str, Any]] | None) -> str:
    """The start of a Hermes tool call to put in the model's mouth for tool_choice "required" or a
    named function (vLLM guides decoding instead; prefilling the call's opening gets the same
    choice from a model trained on this format). "" for "auto"/"none"/absent."""
    if tool_choice in (None, "auto", "none"):
        return ""
    names = [((t or {}).get("function") or {}).get("name") for t in tools or []]
    if tool_choice == "required":
        if not names:
            raise BadRequest('tool_choice "required" needs tools')
        return CALL_OPEN + '\n{"name": "'
    if isinstance(tool_choice, dict) and tool_choice.get("type") == "function":
        name = (tool_choice.get("function") or {}).get("name")
        if name not in names:
            raise BadRequest(f"tool_choice names {name!r}, which is not among the request's tools")
        return CALL_OPEN + "\n" + json.dumps({"name": name})[:-1] + ', "arguments": '
    raise BadRequest('tool_choice must be "auto", "none", "required" or {"type": "function", "function": {"name": …}}')


def _cut_at_stop(text: str, stop: list[str]) -> tuple[str, bool]:
    hits = [text.find(s) for s in stop if s and s in text]
    return (text[: min(hits)], True) if hits else (text, False)


def create_app(backend: HFBackend) -> Starlette:
    created = int(time.time())

    def prepare(req: Any) -> tuple[str, GenParams, bool, bool, str]:
        if not isinstance(req, dict):
            raise BadRequest("request body must be a JSON object")
        if req.get("model") not in (None, backend.name):
            raise BadRequest(f"model {req.get('model')!r} does not exist; this server serves {backend.name!r}")
        messages = req.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise BadRequest("messages must be a non-empty list of objects")
        tools = req.get("tools") or None
        use_tools = bool(tools) and req.get("tool_choice") != "none"
        forced = _forced_call(req.get("tool_choice"), tools)
        try:
            prompt = backend.render(messages, tools if use_tools else None)
        except Exception as exc:  # noqa: BLE001 - template errors are the client's bad input
            raise BadRequest(f"cannot render the chat template: {exc}") from None
        think_open = prompt.rstrip().endswith("<think>")
        # A forced call comes first: an open <think> is closed empty before it.
        prefill = (("</think>\n\n" if think_open else "") + forced) if forced else ""
        return prompt, _params(req), use_tools, think_open, prefill

    async def chat(request: Request) -> Response:
        try:
            req = json.loads(await request.body() or b"null")
        except json.JSONDecodeError:
            return _error("request body is not valid JSON")
        try:
            prompt, params, use_tools, think_open, prefill = prepare(req)
        except BadRequest as exc:
            return _error(str(exc))
        cid = "chatcmpl-" + uuid.uuid4().hex[:24]
        if req.get("stream"):
            include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
            chunks = _stream(backend, cid, prompt, params, use_tools, think_open, include_usage, prefill)
            return StreamingResponse(_sse(iterate_in_threadpool(chunks)), media_type="text/event-stream")
        try:
            body = await run_in_threadpool(_complete, backend, cid, prompt, params, use_tools, think_open, prefill)
        except ValueError as exc:
            return _error(str(exc))
        except RuntimeError as exc:
            return _error(str(exc), 500, "server_error")
        return JSONResponse(body)

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [
            {"id": backend.name, "object": "model", "created": created, "owned_by": "sera",
             "max_model_len": backend.max_model_len}]})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ])


async def _sse(chunks: Any) -> Any:
    try:
        async for chunk in chunks:
            yield f"data: {json.dumps(chunk)}\n\n".encode()
    except (ValueError, RuntimeError) as exc:
        yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'server_error'}})}\n\n".encode()
    yield b"data: [DONE]\n\n"


def _complete(backend: HFBackend, cid: str, prompt: str, params: GenParams, use_tools: bool,
              think_open: bool, prefill: str = "") -> dict[str, Any]:
    stats = GenStats()
    text, stopped = _cut_at_stop(prefill + "".join(backend.generate(prompt + prefill, params, stats)),
                                 params.stop or [])
    parsed = parse_output(text, think_open=think_open, parse_tools=use_tools)
    message: dict[str, Any] = {"role": "assistant", "content": parsed.content or None}
    if parsed.reasoning:
        message["reasoning_content"] = parsed.reasoning
    if parsed.tool_calls:
        message["tool_calls"] = [{"id": c.id, "type": "function",
                                  "function": {"name": c.name, "arguments": c.arguments}} for c in parsed.tool_calls]
    finish = "tool_calls" if parsed.tool_calls else ("length" if stats.hit_length and not stopped else "stop")
    return {"id": cid, "object": "chat.completion", "created": int(time.time()), "model": backend.name,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": stats.prompt_tokens, "completion_tokens": stats.completion_tokens,
                      "total_tokens": stats.prompt_tokens + stats.completion_tokens}}


def _stream(backend: HFBackend, cid: str, prompt: str, params: GenParams, use_tools: bool, think_open: bool,
            include_usage: bool, prefill: str = "") -> Iterator[dict[str, Any]]:
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": backend.name,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    yield chunk({"role": "assistant", "content": ""})
    stats = GenStats()
    parser = TagStreamParser(think_open=think_open, parse_tools=use_tools)
    n_calls, text, stopped = 0, "", False
    stop = params.stop or []

    def events(kind: str, piece: str) -> Iterator[dict[str, Any]]:
        nonlocal n_calls
        if kind == "reasoning":
            yield chunk({"reasoning_content": piece})
        elif kind == "content":
            yield chunk({"content": piece})
        else:
            call = parse_tool_call(piece)
            if call is None:  # not a valid call: the model's text, as written
                yield chunk({"content": CALL_OPEN + piece + CALL_CLOSE})
                return
            yield chunk({"tool_calls": [{"index": n_calls, "id": call.id, "type": "function",
                                         "function": {"name": call.name, "arguments": call.arguments}}]})
            n_calls += 1

    for kind, part in parser.feed(prefill):  # a forced tool call's opening (ours, not generated)
        yield from events(kind, part)
    for piece in backend.generate(prompt + prefill, params, stats):
        if stopped:
            continue  # drain the generator so the backend's lock is released cleanly
        if stop:
            cut, stopped = _cut_at_stop(text + piece, stop)
            piece = cut[len(text):]
            text = cut
        for kind, part in parser.feed(piece):
            yield from events(kind, part)
    for kind, part in parser.close():
        yield from events(kind, part)
    finish = "tool_calls" if n_calls else ("length" if stats.hit_length and not stopped else "stop")
    yield chunk({}, finish)
    if include_usage:
        yield {"id": cid, "object": "chat.completion.chunk", "created": created, "model": backend.name,
               "choices": [], "usage": {"prompt_tokens": stats.prompt_tokens,
                                        "completion_tokens": stats.completion_tokens,
                                        "total_tokens": stats.prompt_tokens + stats.completion_tokens}}
