"""TUI responsiveness: time from launch to the first screen, and event-loop lag while demo rollouts stream.

1. Launch: a fresh `python` process imports the app and runs it headless until the Repos screen is
   ready (first frame) and until its repo table is filled; measured from before the process is spawned.
2. Lag: the app runs headless in this process with a demo generation of N pairs at concurrency N
   (default 16: 16 rollouts streaming at once); a probe coroutine on the UI loop sleeps 10 ms at a time
   and records how late it wakes. Prints p50/p95/max lag (target: p95 <= 50 ms).

    python3 bench/tui.py [--pairs 16] [--launches 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LAUNCH_PROBE = r"""
import sys, time
t0 = float(sys.argv[1])
sys.path.insert(0, ".")
from engine.workspace import Workspace
from sera_tui.app import SeraApp

class Probe(SeraApp):
    def on_ready(self) -> None:
        self.first = time.time() - t0
        self.set_interval(0.005, self.check)

    def check(self) -> None:
        table = self.screen.query("#repos-table")
        if table and table.first().row_count:
            print(f"{self.first:.4f} {time.time() - t0:.4f}", flush=True)
            self.exit()

Probe(Workspace.default(sys.argv[2])).run(headless=True, size=(120, 40))
"""


def bench_launch(ws_root: Path, n: int) -> tuple[list[float], list[float]]:
    firsts, filled = [], []
    probe = ws_root.parent / "launch_probe.py"  # a file: Textual reads the source of App subclasses
    probe.write_text(LAUNCH_PROBE)
    for _ in range(n):
        t0 = time.time()
        out = subprocess.run([sys.executable, str(probe), repr(t0), str(ws_root)], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0 or not out.stdout.strip():
            raise SystemExit(f"launch probe failed: {out.stderr.strip().splitlines()[-1:]}")
        a, b = map(float, out.stdout.split())
        firsts.append(a)
        filled.append(b)
    return firsts, filled


async def bench_lag(ws_root: Path, pairs: int) -> dict:
    from engine.workspace import Workspace
    from sera_tui.app import SeraApp

    app = SeraApp(Workspace(ws_root).ensure(), demo=True, demo_pairs=pairs, demo_concurrency=pairs)
    lags: list[float] = []
    async with app.run_test(size=(120, 40), notifications=False) as pilot:
        screen = app.screen
        while screen.live.status in ("idle", "starting"):
            await asyncio.sleep(0.01)
        t_start = time.perf_counter()
        while screen.live.status == "running":
            before = time.perf_counter()
            await asyncio.sleep(0.010)
            lags.append((time.perf_counter() - before - 0.010) * 1000)
        wall = time.perf_counter() - t_start
        await pilot.pause(0.3)
        live = screen.live
        shown = (screen.query_one("#t1-pane").count, screen.query_one("#t2-pane").count)
        result = dict(status=live.status, error=live.error, wall_s=wall, done=live.done, kept=live.kept,
                      events=screen.stats["events"], ticks=screen.stats["ticks"], shown=shown,
                      messages=sum(len(m) for t in live.tasks.values() for m in t.messages.values()))
    lags.sort()
    result.update(samples=len(lags), p50=statistics.median(lags) if lags else float("nan"),
                  p95=lags[int(0.95 * (len(lags) - 1))] if lags else float("nan"), max=max(lags, default=float("nan")))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=16, help="demo pairs, all in flight at once")
    ap.add_argument("--launches", type=int, default=5)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="sera-bench-tui-") as tmp:
        # a workspace with one registered repo, so the first screen has data to show
        from engine.svg.sample_repo import install_sample_repo
        from engine.workspace import Workspace

        ws = Workspace(Path(tmp) / "launch").ensure()
        with ws.open_store() as store:
            install_sample_repo(ws, store)
        firsts, filled = bench_launch(ws.root, args.launches)
        print(f"launch -> first screen (process spawn to first frame, median of {args.launches}): "
              f"{statistics.median(firsts) * 1000:.0f} ms (min {min(firsts) * 1000:.0f}, max {max(firsts) * 1000:.0f})")
        print(f"launch -> repos table filled (median): {statistics.median(filled) * 1000:.0f} ms")

        r = asyncio.run(bench_lag(Path(tmp) / "lag", args.pairs))
        print(f"demo run: {args.pairs} pairs at concurrency {args.pairs}: {r['status']} in {r['wall_s']:.1f} s, "
              f"{r['done']} done, {r['kept']} kept, {r['messages']} messages / {r['events']} events folded "
              f"in {r['ticks']} UI ticks" + (f", error: {r['error']}" if r['error'] else ""))
        print(f"event-loop lag while streaming ({r['samples']} samples): p50 {r['p50']:.1f} ms, "
              f"p95 {r['p95']:.1f} ms, max {r['max']:.1f} ms (target p95 <= 50 ms)")


if __name__ == "__main__":
    main()
