"""Benchmark: SVG pipeline overhead against a latency-bound loopback teacher.

A scripted OpenAI-compatible teacher on 127.0.0.1 answers every call after a fixed latency
(default 200 ms); each rollout takes 10 turns (views, one str_replace, one bash, submit), plus one
judge call and one PR call per pair: 22 model turns a pair. With perfect overlap, K pairs in flight
need ceil(pairs / K) * 22 * latency seconds; the pipeline's wall time is compared with that bound.

    python bench/pipeline.py [--pairs 32] [--concurrency 16] [--latency 0.2] [--repeat 1] [--warmup 2] [--no-control]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.loopback import ScriptedOpenAIServer, text_reply, tool_call_reply
from engine.repo import describe_repo
from engine.svg.pipeline import GenerateConfig, run_generate
from engine.svg.prompts import JUDGE_SYSTEM, PR_SYSTEM
from engine.workspace import Workspace
from store.repos import add_repo

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


def serve(latency: float) -> None:
    """Child process: the teacher, so its CPU (JSON, HTTP) does not share the engine's GIL, as in real life."""
    with ScriptedOpenAIServer(responder(latency), model="bench") as srv:
        print(srv.base_url, flush=True)
        sys.stdin.read()  # until the parent closes our stdin
        ru = resource.getrusage(resource.RUSAGE_SELF)
        print(f"{ru.ru_utime + ru.ru_stime:.3f} {len(srv.requests)}", flush=True)


class TeacherProcess:
    def __init__(self, latency: float):
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", "--latency", str(latency)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     stderr=subprocess.DEVNULL)  # connection resets at shutdown are noise
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()

    def stop(self) -> tuple[float, int]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        cpu, calls = self.proc.stdout.readline().split()
        self.proc.wait(timeout=30)
        return float(cpu), int(calls)


async def control(base_url: str, pairs: int, concurrency: int, turns_per_pair: int) -> float:
    """The same number and shape of model calls from a bare httpx client, no engine: the floor this
    machine (load, scheduler, HTTP stack) allows. A pipeline can only be judged against what is left."""
    import httpx

    body = {"model": "bench", "messages": [{"role": "system", "content": JUDGE_SYSTEM},
                                           {"role": "user", "content": "is `fn0` fine?"}]}
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_connections=concurrency)) as client:
        async def pair() -> None:
            async with sem:
                for _ in range(turns_per_pair):
                    for attempt in range(3):  # the stdlib loopback server may drop a kept-alive socket
                        try:
                            (await client.post(f"{base_url}/chat/completions", json=body)).raise_for_status()
                            break
                        except httpx.TransportError:
                            if attempt == 2:
                                raise

        t0 = time.perf_counter()
        await asyncio.gather(*(pair() for _ in range(pairs)))
        return time.perf_counter() - t0


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=32)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--tmp-dir", default=None,
                    help="where the repo and workspace go (e.g. /dev/shm to take disk fsync out of the figure)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of the pipeline; the median wall time is reported")
    ap.add_argument("--no-control", action="store_true", help="skip the bare-httpx control run")
    ap.add_argument("--warmup", type=int, default=2, help="pairs of an untimed run first (0: none)")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve:
        serve(a.latency)
        return
    teacher = TeacherProcess(a.latency)
    if a.warmup:
        # What a process pays once (imports, the TLS context, the tree-sitter grammar, thread pools)
        # is not the pipeline's overhead: a small run pays it before the timed ones.
        await run_once(argparse.Namespace(**{**vars(a), "pairs": a.warmup, "concurrency": a.warmup}), teacher.base_url)
    turns_per_pair = 2 * TURNS + 2
    ideal = math.ceil(a.pairs / a.concurrency) * turns_per_pair * a.latency
    print(f"workspace on {a.tmp_dir or tempfile.gettempdir()}; pairs={a.pairs} concurrency={a.concurrency} "
          f"latency={a.latency * 1000:.0f}ms turns/pair={turns_per_pair} model calls/run={a.pairs * turns_per_pair} "
          f"ideal {ideal:.2f}s")
    walls = []
    for i in range(a.repeat):
        wall, summary, cpu_self, cpu_kids = await run_once(a, teacher.base_url)
        walls.append(wall)
        calls = a.pairs * turns_per_pair
        print(f"run {i + 1}: checkouts in {summary.checkouts_in}; states {summary.counts}; wall {wall:.2f}s ratio {wall / ideal:.3f}x; "
              f"cpu: engine {cpu_self:.2f}s ({cpu_self / calls * 1000:.1f} ms per model call, "
              f"{cpu_self / wall * 100:.0f}% of one core), git + sandboxed bash {cpu_kids:.2f}s; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    floor: float | None = None
    if not a.no_control:
        try:
            floor = await control(teacher.base_url, a.pairs, a.concurrency, turns_per_pair)
        except Exception as exc:  # noqa: BLE001 - the control is a diagnostic; report and go on
            print(f"control run failed: {type(exc).__name__}: {exc}")
    teacher_cpu, calls = teacher.stop()
    wall = statistics.median(walls)
    print(f"teacher process cpu {teacher_cpu:.2f}s over {calls} calls (warm-up and control included)")
    print(f"wall {wall:.2f}s (median of {len(walls)}; min {min(walls):.2f} max {max(walls):.2f})  "
          f"ideal {ideal:.2f}s  ratio {wall / ideal:.3f}x (target <= 1.10x)")
    if floor:
        print(f"control (same calls, bare httpx, no engine) {floor:.2f}s = {floor / ideal:.3f}x ideal; "
              f"pipeline / control = {wall / floor:.3f}x")


async def run_once(a: argparse.Namespace, base_url: str) -> tuple[float, object, float, float]:
    with tempfile.TemporaryDirectory(dir=a.tmp_dir) as tmp:
        repo = Path(tmp) / "repo"
        make_repo(repo, a.pairs)
        ws = Workspace(Path(tmp) / "ws").ensure()
        store = ws.open_store()
        info = describe_repo(repo, "bench")
        add_repo(store, "bench", info.path, info.head_commit, None, info.languages)
        cfg = GenerateConfig(repo="bench", pairs=a.pairs, concurrency=a.concurrency, model="bench",
                             base_urls=[base_url], provider="openai", seed=0, step_limit=TURNS + 2,
                             temperature=0.0, min_lines=2)
        ru0, rc0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        summary = await run_generate(store, ws, cfg)
        wall = time.perf_counter() - t0
        ru1, rc1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        worktree = store.fetchone("SELECT worktree FROM rollouts LIMIT 1")
        summary.checkouts_in = str(Path(worktree[0]).parent) if worktree and worktree[0] else "?"
        store.close()
    cpu_self = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    cpu_kids = (rc1.ru_utime - rc0.ru_utime) + (rc1.ru_stime - rc0.ru_stime)  # git and sandboxed bash
    return wall, summary, cpu_self, cpu_kids

if __name__ == "__main__":
    asyncio.run(main())
