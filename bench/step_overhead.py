"""Engine overhead per agent step, ours vs mini-swe-agent, against the same scripted model server.

Every model turn is a `bash` call running `true` (100 steps), then the rollout ends (our `submit`;
mini-swe-agent's `echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT`). Per step:

    overhead = step wall time - time waiting on the model client - time waiting on the command

i.e. what the agent loop itself costs: dispatch, bookkeeping, persistence (ours: every message
INSERTed into a real DuckDB store; mini-swe-agent: its trajectory JSON saved after every step).
Target for ours: p50 <= 10 ms.

    python bench/step_overhead.py [--steps 100] [--no-bwrap]

The mini-swe-agent half needs `pip install mini-swe-agent mcp` (litellm imports `mcp` lazily; kept
out of the project's dependencies) and is skipped with a message when it is missing. litellm pins
openai<3: if pip downgrades openai, reinstall the version you had (litellm's plain chat path still
works with it; measured with mini-swe-agent 2.4.6, litellm 1.106, openai 3.54).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.loopback import ScriptedOpenAIServer, tool_call_reply

SUBMIT_MINI = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm must not go looking for the network


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "mod.py").write_text("def f(x):\n    return x\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.email=b@x", "-c", "user.name=b", "commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    return repo


def responder(steps: int, finish: str):
    def reply(req):
        turns = sum(1 for m in req["messages"] if m["role"] == "assistant")
        if turns < steps:
            return tool_call_reply("bash", {"command": "true"})
        if finish == "submit":
            return tool_call_reply("submit", {})
        return tool_call_reply("bash", {"command": SUBMIT_MINI})
    return reply


def percentiles(xs: list[float]) -> tuple[float, float, float]:
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=100, method="inclusive")
    return q[49], q[94], statistics.fmean(xs)


def per_step(model_spans: list[tuple[float, float]], tool_ms: list[float]) -> tuple[list[float], list[float]]:
    """(overhead_ms, wall_ms) for each step that has a following model call."""
    over, wall = [], []
    for i in range(len(model_spans) - 1):
        w = (model_spans[i + 1][0] - model_spans[i][0]) * 1000
        m = (model_spans[i][1] - model_spans[i][0]) * 1000
        wall.append(w)
        over.append(w - m - tool_ms[i])
    return over, wall


# -- ours ---------------------------------------------------------------------------------------
async def bench_ours(base_url: str, repo: Path, ws_root: Path, steps: int, isolate: bool | None) -> dict:
    from engine.agent import AgentConfig, run_rollout
    from engine.models import make_client
    from engine.sandbox import create_sandbox
    from engine.workspace import Workspace
    from store.rollouts import get_messages

    inner = make_client("scripted", [base_url])
    spans: list[tuple[float, float]] = []

    class Timed:  # the agent's view of the model: time spent inside the client call
        model, label = inner.model, inner.label

        async def complete(self, *a, **kw):
            t0 = time.perf_counter()
            try:
                return await inner.complete(*a, **kw)
            finally:
                spans.append((t0, time.perf_counter()))

    ws = Workspace(ws_root).ensure()
    store = ws.open_store()
    sb = create_sandbox(repo, "HEAD", ws.runs_dir, name="bench", isolate=isolate)
    try:
        t0 = time.perf_counter()
        result = await run_rollout(client=Timed(), sandbox=sb, task_text="bench", config=AgentConfig(step_limit=steps + 5),
                                   store=store)
        total = time.perf_counter() - t0
        stored = get_messages(store, result.rollout_id)
    finally:
        sb.close()
        store.close()
        await inner.aclose()
    assert result.exit_reason == "submitted", result
    tool_ms = [m.tool_time_ms or 0.0 for m in stored if m.role == "tool"]
    over, wall = per_step(spans, tool_ms)
    return {"over": over, "wall": wall, "total_s": total, "messages": len(stored), "isolated": sb.isolated,
            "tool_ms": tool_ms[:-1], "model_ms": [(b - a) * 1000 for a, b in spans]}


# -- mini-swe-agent ------------------------------------------------------------------------------
def bench_mini(base_url: str, repo: Path, out_dir: Path, steps: int) -> dict | str:
    try:
        import yaml
        from minisweagent.agents.default import DefaultAgent
        from minisweagent.config import builtin_config_dir
        from minisweagent.environments.local import LocalEnvironment
        from minisweagent.models.litellm_model import LitellmModel
    except ImportError as exc:
        return f"mini-swe-agent is not installed ({exc}); `pip install mini-swe-agent mcp` to compare"

    import logging

    logging.getLogger("litellm_model").setLevel(logging.ERROR)
    config = yaml.safe_load((builtin_config_dir / "mini.yaml").read_text())["agent"]
    model = LitellmModel(model_name="openai/scripted", cost_tracking="ignore_errors",
                         model_kwargs={"api_base": base_url, "api_key": "EMPTY", "temperature": 0.0})
    env = LocalEnvironment(cwd=str(repo), timeout=30)
    spans: list[tuple[float, float]] = []
    tool_ms: list[float] = []
    q, ex = model.query, env.execute

    def query(*a, **kw):
        t0 = time.perf_counter()
        try:
            return q(*a, **kw)
        finally:
            spans.append((t0, time.perf_counter()))

    def execute(*a, **kw):
        t0 = time.perf_counter()
        try:
            return ex(*a, **kw)
        finally:
            tool_ms.append((time.perf_counter() - t0) * 1000)

    model.query, env.execute = query, execute
    agent = DefaultAgent(model, env, **{**config, "step_limit": steps + 5, "cost_limit": 0,
                                        "output_path": out_dir / "mini.traj.json"})
    t0 = time.perf_counter()
    info = agent.run("bench")
    total = time.perf_counter() - t0
    if info.get("exit_status") != "Submitted":
        return f"mini-swe-agent did not finish as expected: {info.get('exit_status')}"
    over, wall = per_step(spans, tool_ms)
    import minisweagent

    return {"over": over, "wall": wall, "total_s": total, "messages": len(agent.messages),
            "version": minisweagent.__version__, "tool_ms": tool_ms[:-1],
            "model_ms": [(b - a) * 1000 for a, b in spans]}


def report(name: str, r: dict) -> None:
    p50, p95, mean = percentiles(r["over"])
    w50, w95, _ = percentiles(r["wall"])
    m50 = statistics.median(r["model_ms"])
    t50 = statistics.median(r["tool_ms"])
    print(f"{name:<16} overhead/step p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  mean {mean:7.2f} ms | "
          f"step wall p50 {w50:7.2f} ms p95 {w95:7.2f} ms | model call p50 {m50:6.2f} ms, "
          f"command p50 {t50:6.2f} ms | {len(r['over'])} steps, {r['messages']} messages, {r['total_s']:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--no-bwrap", action="store_true", help="run our commands without bubblewrap (like mini's)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sera-bench-") as tmp:
        tmp_path = Path(tmp)
        repo = make_repo(tmp_path)
        with ScriptedOpenAIServer(responder(args.steps, "submit")) as srv:
            ours = asyncio.run(bench_ours(srv.base_url, repo, tmp_path / "ws", args.steps,
                                          False if args.no_bwrap else None))
        with ScriptedOpenAIServer(responder(args.steps, "mini")) as srv:
            try:
                mini = bench_mini(srv.base_url, repo, tmp_path, args.steps)
            except Exception as exc:  # its dependency stack is not ours: report, don't crash our half
                mini = f"mini-swe-agent failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    label = "sera (bwrap)" if ours["isolated"] else "sera (no bwrap)"
    print(f"step overhead: {args.steps} bash `true` steps, then submit; every message persisted "
          f"(sera: DuckDB row per message; mini-swe-agent: trajectory JSON saved every step)")
    report(label, ours)
    p50 = percentiles(ours["over"])[0]
    print(f"target p50 <= 10 ms: {'met' if p50 <= 10 else 'NOT met'}")
    if isinstance(mini, str):
        print(f"mini-swe-agent: skipped: {mini}")
        return
    report(f"mini-swe-agent {mini['version']}", mini)
    mp50 = percentiles(mini["over"])[0]
    ratio = mp50 / p50 if p50 > 0 else float("inf")
    print(f"ratio mini-swe-agent / sera overhead p50: {ratio:.2f}x; step wall p50 ratio: "
          f"{percentiles(mini['wall'])[0] / percentiles(ours['wall'])[0]:.2f}x")


if __name__ == "__main__":
    main()
