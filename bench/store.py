"""Curation store benchmark: filter-and-count latency and export throughput on a big store.

Builds a store with 100 000 rollouts (50 000 T1/T2 pairs) and about 3 million messages by bulk
insert (Arrow tables, not row by row), then prints:
  - the one-off per-rollout aggregate build (rollout_stats),
  - filter-and-count latency p50/p95 over a mix of FilterSpecs (count_rollouts and count_pairs; target p50 <= 100 ms),
  - export throughput in examples/s without a tokenizer (4-chars-per-token estimate) and with a real
    HF tokenizer and Qwen-style tool template (built locally, as the tests do).

    python bench/store.py                 # full size
    python bench/store.py --rollouts 10000  # quicker
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.curate.export import ExportOptions, export_dataset
from store import Store
from store.curation import count_pairs, count_rollouts, refresh_rollout_stats
from store.filters import FilterSpec

CATEGORIES = ["validation", "error-handling", "naming", "performance", "security", "edge-cases", "docs",
              "concurrency", "resource-cleanup", "null-safety"]
STATES = ["kept", "kept", "kept", "below_threshold", "judged_invalid", "rollout_failed:step_limit"]
MAX_MSGS = 64


def _pool(rng: np.random.Generator, n: int, lo: int, hi: int, words: list[str]) -> list[str]:
    return [" ".join(rng.choice(words, size=int(rng.integers(lo, hi)))) for _ in range(n)]


def build(store: Store, n_rollouts: int, mean_messages: int, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    n_tasks = n_rollouts // 2
    conn = store.conn
    conn.execute("INSERT INTO repos (id, name, path) VALUES (1, 'alpha', '/r/a'), (2, 'beta', '/r/b'),"
                 " (3, 'gamma', '/r/c')")
    conn.execute("INSERT INTO runs (id, repo_id, kind, status) SELECT i, 1 + i % 3, 'generate', 'finished'"
                 " FROM range(1, 11) t(i)")
    # the last 500 tasks form run 11: the export benchmark's selection
    task_ids = np.arange(1, n_tasks + 1, dtype=np.int32)
    run = np.where(task_ids > n_tasks - 500, 11, 1 + (task_ids % 10)).astype(np.int32)
    conn.execute("INSERT INTO runs (id, repo_id, kind, status) VALUES (11, 2, 'generate', 'finished')")
    tasks = pa.table({
        "id": task_ids, "run_id": run, "repo_id": (1 + run % 3).astype(np.int32), "seq": task_ids,
        "file": pa.array(["pkg/mod.py"] * n_tasks), "function": pa.array([f"fn_{i % 5000}" for i in task_ids]),
        "category": pa.array(rng.choice(CATEGORIES, n_tasks)), "state": pa.array(rng.choice(STATES, n_tasks)),
        "instruction": pa.array(["When I call fn() it misbehaves."] * n_tasks),
    })
    conn.register("t_tasks", tasks)
    conn.execute("INSERT INTO tasks (id, run_id, repo_id, seq, file, function, category, state, instruction)"
                 " SELECT * FROM t_tasks")
    recall = np.round(rng.random(n_tasks), 3)
    recall_null = rng.random(n_tasks) < 0.05
    scores = pa.table({"task_id": np.concatenate([task_ids, task_ids]),
                       "mode": pa.array(["sera"] * n_tasks + ["per-file"] * n_tasks),
                       "recall": pa.array(np.concatenate([recall, np.minimum(1, recall + 0.1)]),
                                          mask=np.concatenate([recall_null, recall_null]))})
    conn.register("t_scores", scores)
    conn.execute("INSERT INTO scores (task_id, mode, recall) SELECT * FROM t_scores")
    reviewed = rng.choice(task_ids, n_tasks // 10, replace=False)
    conn.register("t_reviews", pa.table({"task_id": reviewed,
                                         "verdict": pa.array(rng.choice(["accept", "reject", "skip"], len(reviewed)))}))
    conn.execute("INSERT INTO reviews (task_id, verdict) SELECT * FROM t_reviews")

    rollout_ids = np.arange(1, n_rollouts + 1, dtype=np.int32)
    r_task = ((rollout_ids - 1) // 2 + 1).astype(np.int32)
    n_msgs = np.clip(rng.poisson(mean_messages - 2, n_rollouts) // 2 * 2 + 2, 4, MAX_MSGS).astype(np.int32)
    days = rng.integers(0, 365, n_rollouts)
    rollouts = pa.table({
        "id": rollout_ids, "run_id": run[r_task - 1], "task_id": r_task,
        "stage": pa.array(np.where(rollout_ids % 2 == 1, "T1", "T2")),
        "exit_reason": pa.array(rng.choice(["submitted"] * 8 + ["step_limit", "context_exceeded"], n_rollouts)),
        "patch": pa.array(["--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n"] * n_rollouts),
        "patch_lines": rng.integers(1, 120, n_rollouts).astype(np.int32),
        "steps": ((n_msgs - 2) // 2).astype(np.int32),
        "started_at": pa.array(np.datetime64("2025-01-01") + days.astype("timedelta64[D]")),
    })
    conn.register("t_rollouts", rollouts)
    conn.execute("INSERT INTO rollouts (id, run_id, task_id, stage, exit_reason, patch, patch_lines, steps, started_at,"
                 " status, finished_at, model) SELECT *, 'finished', started_at, 'teacher' FROM t_rollouts")
    t_meta = time.perf_counter() - t0

    # messages: system, user, then assistant/tool pairs; contents drawn from pools (bulk, not per row)
    words = ["def", "return", "self", "value", "None", "error", "file", "path", "test", "the", "a", "of", "to", "check", "fix", "call", "list", "dict", "raise", "import", "class", "line", "assert", "print"]
    total = int(n_msgs.sum())
    msg_rollout = np.repeat(rollout_ids, n_msgs)
    starts = np.repeat(np.cumsum(n_msgs) - n_msgs, n_msgs)
    idx = (np.arange(total) - starts).astype(np.int32)
    role_code = np.where(idx == 0, 0, np.where(idx == 1, 1, np.where(idx % 2 == 0, 2, 3)))
    roles = pa.array(np.array(["system", "user", "assistant", "tool"])[role_code])
    pools = {2: _pool(rng, 64, 5, 40, words), 3: _pool(rng, 256, 10, 400, words)}
    content_pool = ["You are a coding agent with bash and str_replace_editor.", "Fix the bug in fn() of pkg/mod.py."] \
        + pools[2] + pools[3]
    offset = {0: 0, 1: 1, 2: 2, 3: 2 + 64}
    size = {0: 1, 1: 1, 2: 64, 3: 256}
    pick = rng.integers(0, 1 << 30, total)
    content_idx = np.select([role_code == k for k in range(4)],
                            [offset[k] + pick % size[k] for k in range(4)])
    content = pa.array(content_pool).take(pa.array(content_idx))
    reasoning_pool = _pool(rng, 64, 10, 80, words)
    reasoning = pa.array(reasoning_pool).take(pa.array(pick % 64)).to_numpy(zero_copy_only=False)
    reasoning = pa.array(np.where(role_code == 2, reasoning, None))
    calls_pool = [json.dumps([{"id": f"c{i}", "name": "bash", "arguments": json.dumps({"command": f"cat f{i}.py"})}])
                  for i in range(MAX_MSGS)]
    tool_calls = pa.array(np.where(role_code == 2, np.array(calls_pool, dtype=object)[idx], None))
    call_ids = pa.array(np.where(role_code == 3, np.array([f"c{i - 1}" for i in range(MAX_MSGS)], dtype=object)[idx],
                                 None))
    lengths = pc_lengths(content)
    tokens = np.ceil(lengths / 3.7).astype(np.int32)
    tokens_null = rng.random(total) < 0.1  # some rows without counts: the chars/4 estimate applies
    messages = pa.table({
        "rollout_id": msg_rollout, "idx": idx, "role": roles, "content": content, "reasoning": reasoning,
        "tool_calls": tool_calls, "tool_call_id": call_ids,
        "name": pa.array(np.where(role_code == 3, "bash", None)),
        "tokens": pa.array(tokens, mask=tokens_null), "tool_error": rng.random(total) < 0.05 * (role_code == 3),
    })
    conn.register("t_messages", messages)
    conn.execute("INSERT INTO messages (rollout_id, idx, role, content, reasoning, tool_calls, tool_call_id, name,"
                 " tokens, tool_error) SELECT * FROM t_messages")
    for t in ("t_tasks", "t_scores", "t_reviews", "t_rollouts", "t_messages"):
        conn.unregister(t)
    t_all = time.perf_counter() - t0
    t1 = time.perf_counter()
    refresh_rollout_stats(store)
    return {"messages": total, "build_meta_s": t_meta, "build_s": t_all, "aggregate_s": time.perf_counter() - t1}


def pc_lengths(arr: pa.Array) -> np.ndarray:
    import pyarrow.compute as pc

    return pc.utf8_length(arr).to_numpy(zero_copy_only=False)


SPECS = [
    FilterSpec(),
    FilterSpec.sera_specialization(),
    FilterSpec(min_recall=1.0),
    FilterSpec(min_recall=0.5, recall_mode="per-file", stage="T2"),
    FilterSpec(states=["kept"], max_patch_lines=40),
    FilterSpec(max_mean_tool_tokens=300, max_steps=20),
    FilterSpec(categories=["validation", "security"], verdicts=["accept", "unreviewed"]),
    FilterSpec(repo="beta", since=date(2025, 3, 1), until=date(2025, 9, 30)),
    FilterSpec(run_id=3, submitted_only=False),
    FilterSpec(sources=["sera"], stage="T1", min_recall=0.25),
]


def latencies(store: Store, reps: int) -> tuple[list[float], list[float]]:
    rollouts, pairs = [], []
    for _ in range(reps):
        for spec in SPECS:
            t = time.perf_counter()
            count_rollouts(store, spec)
            rollouts.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            count_pairs(store, spec)
            pairs.append((time.perf_counter() - t) * 1000)
    return rollouts, pairs


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rollouts", type=int, default=100_000)
    ap.add_argument("--messages", type=int, default=30, help="mean messages per rollout")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--db", type=Path, default=None,
                    help="database file (default: a temporary one); an existing one is reused, not rebuilt")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sera-bench-"))
    db = args.db or tmp / "bench.duckdb"
    reuse = db.exists()
    store = Store.open(db)
    store.conn.execute("SET enable_progress_bar = false")
    if reuse:
        n_r, n_m = store.fetchone("SELECT (SELECT count(*) FROM rollouts), (SELECT count(*) FROM messages)")
        print(f"store: reusing {db}: {n_r:,} rollouts, {n_m:,} messages")
    else:
        b = build(store, args.rollouts, args.messages)
        print(f"store: {args.rollouts:,} rollouts, {b['messages']:,} messages; bulk build {b['build_s']:.1f}s, "
              f"per-rollout aggregates {b['aggregate_s']:.1f}s (once)")
    count_rollouts(store, SPECS[0])  # warm
    r, p = latencies(store, args.reps)
    both = r + p
    import os

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (figures scale with contention)")
    print(f"filter-and-count over {len(SPECS)} FilterSpecs x {args.reps}: "
          f"count_rollouts p50 {pct(r, 50):.1f} ms p95 {pct(r, 95):.1f} ms; "
          f"count_pairs p50 {pct(p, 50):.1f} ms p95 {pct(p, 95):.1f} ms; "
          f"all p50 {pct(both, 50):.1f} ms p95 {pct(both, 95):.1f} ms (target p50 <= 100 ms)")
    spec = FilterSpec(run_id=11, submitted_only=False)
    n = count_rollouts(store, spec)
    s = export_dataset(store, tmp / "plain.jsonl", spec, ExportOptions(max_len=32768))
    print(f"export without tokenizer: {s.exported} examples in {s.seconds:.2f}s = {s.exported / s.seconds:,.0f} "
          f"examples/s (of {n} selected)")
    from tests.curate.conftest import build_tokenizer

    tok = build_tokenizer(tmp / "tok")
    for max_len in (32768, 4096):
        s = export_dataset(store, tmp / f"tok{max_len}.jsonl", spec, ExportOptions(max_len=max_len, tokenizer=str(tok)))
        print(f"export with tokenizer + tool template, max_len {max_len}: {s.exported} examples in {s.seconds:.2f}s "
              f"= {s.exported / s.seconds:,.0f} examples/s, {s.tokens / s.seconds:,.0f} kept tokens/s "
              f"(mean ratio {s.mean_ratio or 0:.2f}, dropped {sum(s.dropped.values())})")
    store.close()


if __name__ == "__main__":
    main()
