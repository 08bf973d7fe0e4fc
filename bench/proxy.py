"""Overhead of the Anthropic proxy (engine/proxy) over talking to the OpenAI upstream directly.

A scripted upstream (engine/loopback) answers every request with the same ~4 000-character reply
(16-character stream chunks, so ~250 chunks). Prints, for N requests each:
  - non-streaming latency, median and p90: openai SDK -> upstream vs anthropic SDK -> proxy -> upstream
  - streaming: time to first text delta and to the end, same two paths
  - translation alone: OpenAI chunks -> Anthropic SSE events per second (no network)

    python3 bench/proxy.py [--requests N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anthropic
import openai

from engine.loopback import ScriptedOpenAIServer, _stream_chunks, text_reply
from engine.proxy.app import ProxyConfig, create_app
from engine.proxy.stream import StreamTranslator, sse
from engine.proxy.translate import to_openai
from engine.serve.threaded import ServerThread

TEXT = ("The function returns early when the cache is empty, so the caller never sees the error. " * 46)[:4000]


def stats(xs: list[float]) -> str:
    xs = sorted(xs)
    return f"median {statistics.median(xs) * 1000:7.2f} ms  p90 {xs[int(0.9 * (len(xs) - 1))] * 1000:7.2f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=100)
    n = ap.parse_args().requests
    up = ScriptedOpenAIServer(lambda req: text_reply(TEXT), model="student").start()
    proxy = ServerThread(create_app(ProxyConfig(upstream=up.base_url, model="student"))).start()
    oa = openai.OpenAI(base_url=up.base_url, api_key="x", max_retries=0)
    an = anthropic.Anthropic(base_url=proxy.url, api_key="x", max_retries=0)
    msgs = [{"role": "user", "content": "explain"}]

    for label, call in (
        ("direct  (openai -> upstream)       ", lambda: oa.chat.completions.create(model="student", messages=msgs)),
        ("proxied (anthropic -> proxy -> up) ", lambda: an.messages.create(model="m", max_tokens=2000, messages=msgs)),
    ):
        call()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
        print(f"non-streaming {label} {stats(times)}")

    def direct_stream() -> tuple[float, float]:
        t0 = time.perf_counter()
        first = None
        for chunk in oa.chat.completions.create(model="student", messages=msgs, stream=True):
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - t0
        return first or 0.0, time.perf_counter() - t0

    def proxied_stream() -> tuple[float, float]:
        t0 = time.perf_counter()
        first = None
        with an.messages.stream(model="m", max_tokens=2000, messages=msgs) as s:
            for ev in s:
                if first is None and ev.type == "content_block_delta":
                    first = time.perf_counter() - t0
        return first or 0.0, time.perf_counter() - t0

    for label, fn in (("direct ", direct_stream), ("proxied", proxied_stream)):
        fn()
        runs = [fn() for _ in range(n)]
        print(f"streaming {label}: first delta {stats([r[0] for r in runs])} | whole reply {stats([r[1] for r in runs])}")

    body = text_reply(TEXT).body
    chunks = list(_stream_chunks(body))
    tr = to_openai({"model": "m", "max_tokens": 10, "messages": msgs}, upstream_model="student")
    t0 = time.perf_counter()
    events = 0
    for _ in range(n * 10):
        st = StreamTranslator(tr)
        for ev in st.start() + [e for c in chunks for e in st.feed(c)] + st.finish_events():
            sse(ev)
            events += 1
    dt = time.perf_counter() - t0
    print(f"translation only: {events / dt:,.0f} SSE events/s ({len(chunks)} chunks per reply, "
          f"{n * 10 / dt:,.0f} replies/s)")
    proxy.stop()
    up.stop()


if __name__ == "__main__":
    main()
