"""Streaming is truly incremental: text reaches the client while the upstream is still writing."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route

from engine.proxy.app import ProxyConfig, create_app
from engine.serve.threaded import ServerThread

PAUSE_S = 1.5


def slow_upstream() -> Starlette:
    async def chat(request):
        async def gen():
            def chunk(delta, finish=None):
                return "data: " + json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 0,
                                              "model": "m", "choices": [{"index": 0, "delta": delta,
                                                                         "finish_reason": finish}]}) + "\n\n"
            yield chunk({"role": "assistant", "content": "first words"})
            await asyncio.sleep(PAUSE_S)  # a model still thinking about the rest
            yield chunk({"content": " and the rest"})
            yield chunk({}, "stop")
            yield "data: [DONE]\n\n"
        return StreamingResponse(gen(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def test_first_text_arrives_before_upstream_finishes():
    with ServerThread(slow_upstream()) as up, \
            ServerThread(create_app(ProxyConfig(upstream=up.url + "/v1", model="m"))) as proxy:
        t0 = time.perf_counter()
        seen: list[tuple[float, str]] = []
        with httpx.stream("POST", proxy.url + "/v1/messages", json={
                "model": "m", "max_tokens": 16, "stream": True,
                "messages": [{"role": "user", "content": "hi"}]}, timeout=10) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    ev = json.loads(line[6:])
                    if ev["type"] == "content_block_delta":
                        seen.append((time.perf_counter() - t0, ev["delta"]["text"]))
        assert [t for _, t in seen] == ["first words", " and the rest"]
        assert seen[0][0] < PAUSE_S * 0.6 and seen[1][0] >= PAUSE_S
