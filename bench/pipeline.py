"""Benchmark: SVG pipeline overhead against a latency-bound loopback teacher.

A scripted OpenAI-compatible teacher on 127.0.0.1 answers every call after a fixed latency
(default 200 ms); each rollout takes 10 turns (views, one str_replace, one bash, submit), plus one
judge call and one PR call per pair: 22 model turns a pair. With perfect overlap, K pairs in flight
need ceil(pairs / K) * 22 * latency seconds; the pipeline's wall time is compared with that bound.

    python bench/pipeline.py [--pairs 32] [--concurrency 16] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.loopback import ScriptedOpenAIServer, text_reply, tool_call_reply  # noqa: E402
from engine.repo import describe_repo  # noqa: E402
from engine.svg.pipeline import GenerateConfig, run_generate  # noqa: E402
from engine.svg.prompts import JUDGE_SYSTEM, PR_SYSTEM  # noqa: E402
from engine.workspace import Workspace  # noqa: E402
from store.repos import add_repo  # noqa: E402

TURNS = 10
MARK = "(seen in production)"


def make_repo(root: Path, n: int) -> None:
    root.mkdir(parents=True)
    for i in range(n):
        (root / f"mod{i}.py").write_text(f"def fn{i}(x):\n    value = x + {i}\n    return value\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=root, check=True)


def responder(latency: float):
    def respond(req: dict) -> object:
        msgs = req["messages"]
        system = msgs[0]["content"] if msgs[0]["role"] == "system" else ""
        user = next(m["content"] for m in msgs if m["role"] == "user")
        i = int(re.search(r"`fn(\d+)`", user).group(1))
        if system == JUDGE_SYSTEM:
            return text_reply("YES. It changes the function the instruction names.", delay_s=latency)
        if system == PR_SYSTEM:
            return text_reply(f"fn{i} returns the wrong value {MARK}\n\nCalling `fn{i}` in `mod{i}.py` gives a "
                              "result that does not match its description; call it with 1 to see it.",
                              delay_s=latency)
        root = re.search(r"<uploaded_files>\n(.*?)\n</uploaded_files>", user).group(1)
        path = f"{root}/mod{i}.py"
        turn = sum(1 for m in msgs if m["role"] == "assistant")
        if turn < TURNS - 3:
            return tool_call_reply("str_replace_editor", {"command": "view", "path": path}, delay_s=latency)
        if turn == TURNS - 3:
            return tool_call_reply("str_replace_editor", {"command": "str_replace", "path": path,
                                   "old_str": f"    value = x + {i}", "new_str": f"    value = x + {i} + 0"},
                                   delay_s=latency)
        if turn == TURNS - 2:
            return tool_call_reply("bash", {"command": "true"}, delay_s=latency)
        return tool_call_reply("submit", {}, delay_s=latency)

    return respond


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=32)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--tmp-dir", default=None,
                    help="where the repo and workspace go (e.g. /dev/shm to take disk fsync out of the figure)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=a.tmp_dir) as tmp, ScriptedOpenAIServer(responder(a.latency), model="bench") as srv:
        repo = Path(tmp) / "repo"
        make_repo(repo, a.pairs)
        ws = Workspace(Path(tmp) / "ws").ensure()
        store = ws.open_store()
        info = describe_repo(repo, "bench")
        add_repo(store, "bench", info.path, info.head_commit, None, info.languages)
        cfg = GenerateConfig(repo="bench", pairs=a.pairs, concurrency=a.concurrency, model="bench",
                             base_urls=[srv.base_url], provider="openai", seed=0, step_limit=TURNS + 2,
                             temperature=0.0, min_lines=2)
        # Imports are a one-time cost of the process, not of the pipeline: pay them before timing.
        import engine.agent  # noqa: F401
        import engine.models.openai_client  # noqa: F401
        import engine.sandbox  # noqa: F401
        ru0, rc0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        summary = await run_generate(store, ws, cfg)
        wall = time.perf_counter() - t0
        ru1, rc1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        store.close()
        calls = len(srv.requests)
    turns_per_pair = 2 * TURNS + 2
    ideal = math.ceil(a.pairs / a.concurrency) * turns_per_pair * a.latency
    cpu_self = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    cpu_kids = (rc1.ru_utime - rc0.ru_utime) + (rc1.ru_stime - rc0.ru_stime)
    print(f"workspace on {a.tmp_dir or tempfile.gettempdir()}; "
          f"pairs={a.pairs} concurrency={a.concurrency} latency={a.latency * 1000:.0f}ms "
          f"turns/pair={turns_per_pair} model calls={calls}")
    print(f"states: {summary.counts}")
    print(f"wall {wall:.2f}s  ideal {ideal:.2f}s  ratio {wall / ideal:.3f}x (target <= 1.10x)")
    print(f"cpu: engine+server process {cpu_self:.2f}s, subprocesses (git, sandboxed bash) {cpu_kids:.2f}s, "
          f"{(cpu_self + cpu_kids) / wall * 100:.0f}% of one core on average")


if __name__ == "__main__":
    asyncio.run(main())
