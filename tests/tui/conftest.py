"""Fixtures for the TUI tests (both TUI engineers use them).

`populated` builds a deterministic workspace database: one repo, one finished generate run with six
tasks in every interesting state, T1/T2 rollouts with full message lists (reasoning, tool calls,
observations), accepted PRs, scores in both recall modes and one review. Timestamps and ids are
fixed so snapshot tests are stable. `make_app` gives a SeraApp on that store.

Data (task seq -> state, recall sera / per-file):
  1 slugify       kept             1.00 / 1.00   (reviewed: accept)
  2 load_config   kept             0.50 / 0.75   (trailing space in P2; an extra P2 change)
  3 parse_range   kept             0.75 / 0.75
  4 merge_dicts   below_threshold  0.20 / 0.20
  5 retry_call    judged_invalid   no T2, no score
  6 chunked       kept             0.6667 / 0.6667
Borderline band 0.4-0.8 holds tasks 2, 3, 6.

The builder writes rows with SQL because store/tasks.py and store/rollouts.py land in parallel;
it only uses columns of schema v1, so it keeps working whatever their helpers look like.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from engine.verify import recall
from engine.workspace import Workspace

T0 = datetime(2026, 1, 15, 10, 0, 0)
HEAD = "3f2a9c1d7b5e4a6f8c0d2e4f6a8b0c2d4e6f8a0b"
MODEL = "demo-teacher"


def _diff(path: str, start: str, body: str) -> str:
    """A one-hunk git diff; `start` is "LINE" or "LINE section-heading"; counts come from the body."""
    line, _, section = start.partition(" ")
    rows = body.splitlines()
    old = sum(1 for r in rows if r[:1] in " -")
    new = sum(1 for r in rows if r[:1] in " +")
    return (f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
            f"@@ -{line},{old} +{line},{new} @@{' ' + section if section else ''}\n{body}")


@dataclass
class PairSpec:
    function: str
    file: str
    category: str
    state: str
    p1: str
    p2: str | None
    sera: float | None       # expected recall; the builder scores with engine.verify and checks it
    per_file: float | None
    judge: bool = True


PAIRS: list[PairSpec] = [
    PairSpec("slugify", "sample/textutil.py", "null-safety", "kept",
             _diff("sample/textutil.py", "10", (
                 '     """Lower-case, dash-separated slug."""\n'
                 '-    words = text.split(" ")\n'
                 '+    if text is None:\n'
                 '+        raise ValueError("text must not be None")\n'
                 '+    words = text.split()\n'
                 '     return "-".join(w.lower() for w in words)\n')),
             _diff("sample/textutil.py", "10", (
                 '     """Lower-case, dash-separated slug."""\n'
                 '-    words = text.split(" ")\n'
                 '+    if text is None:\n'
                 '+        raise ValueError("text must not be None")\n'
                 '+    words = text.split()\n'
                 '     return "-".join(w.lower() for w in words)\n')),
             1.0, 1.0),
    PairSpec("load_config", "sample/config.py", "resource-cleanup", "kept",
             _diff("sample/config.py", "20 def load_config(path):", (
                 "     import json\n"
                 "-    data = json.load(open(path))\n"
                 "+    # close the file even when parsing fails\n"
                 "+    with open(path) as fh:\n"
                 "+        data = json.load(fh)\n"
                 "     return data\n")),
             _diff("sample/config.py", "20 def load_config(path):", (
                 "     import json\n"
                 "-    data = json.load(open(path))\n"
                 "+    with open(path) as fh: \n"
                 "+        data = json.load(fh)\n"
                 "+    if not isinstance(data, dict):\n"
                 '+        raise ValueError("config must be a JSON object")\n'
                 "     return data\n")),
             0.5, 0.75),
    PairSpec("parse_range", "sample/ranges.py", "validation", "kept",
             _diff("sample/ranges.py", "5 def parse_range(text):", (
                 '     lo, hi = text.split("-")\n'
                 "-    return int(lo), int(hi)\n"
                 "+    lo, hi = int(lo), int(hi)\n"
                 "+    if lo > hi:\n"
                 '+        raise ValueError(f"empty range {text!r}")\n')),
             _diff("sample/ranges.py", "5 def parse_range(text):", (
                 '     lo, hi = text.split("-")\n'
                 "-    return int(lo), int(hi)\n"
                 "+    lo, hi = int(lo), int(hi)\n"
                 "+    if lo > hi:\n"
                 '+        raise ValueError("range is empty")\n'
                 "+    return lo, hi\n")),
             0.75, 0.75),
    PairSpec("merge_dicts", "sample/dicts.py", "state-management", "below_threshold",
             _diff("sample/dicts.py", "1 def merge_dicts(a, b):", (
                 " def merge_dicts(a, b):\n"
                 "-    a.update(b)\n"
                 "-    return a\n"
                 "+    out = dict(a)\n"
                 "+    out.update(b)\n"
                 "+    return out\n")),
             _diff("sample/dicts.py", "1 def merge_dicts(a, b):", (
                 " def merge_dicts(a, b):\n"
                 "-    a.update(b)\n"
                 "+    a = dict(a)\n"
                 "+    a.update(b)\n"
                 "     return a\n")),
             0.2, 0.2),
    PairSpec("retry_call", "sample/net.py", "timeouts", "judged_invalid",
             _diff("sample/net.py", "3 def retry_call(fn, attempts=3):", (
                 "-    for _ in range(attempts):\n"
                 "+    for _ in range(max(1, attempts)):\n")),
             None, None, None, judge=False),
    PairSpec("chunked", "sample/iters.py", "edge-cases", "kept",
             _diff("sample/iters.py", "2 def chunked(items, size):", (
                 "+    if size <= 0:\n"
                 '+        raise ValueError("size must be positive")\n'
                 "     for i in range(0, len(items), size):\n"
                 "-        yield items[i:i + size]\n")),
             _diff("sample/iters.py", "2 def chunked(items, size):", (
                 "+    if size <= 0:\n"
                 '+        raise ValueError("size must be positive")\n'
                 "     for i in range(0, len(items), size):\n"
                 "-        yield items[i:i+size]\n"
                 "+        yield items[i:i + size]\n")),
             2 / 3, 2 / 3),
]
# merge_dicts: 5 target lines (2 minus + 3 plus); P2 keeps only "-    a.update(b)" -> 1/5.


@dataclass
class Populated:
    workspace: Workspace
    store: object
    repo_id: int
    run_id: int
    task_ids: list[int] = field(default_factory=list)
    rollouts: dict[tuple[int, str], int] = field(default_factory=dict)  # (task_id, stage) -> rollout id


def _observation_view(path: str, function: str) -> str:
    lines = [f"Here's the result of running `cat -n` on /repo/{path}:"]
    for i in range(1, 41):
        lines.append(f"{i:6}\t# line {i} of {path}" if i != 10 else f"{i:6}\tdef {function}(*args):")
    return "\n".join(lines)


def _messages(stage: str, spec: PairSpec, task_text: str, patch: str) -> list[dict]:
    """A realistic SWE-agent-style trajectory: view, edit, run, submit."""
    fn = spec.function
    edit_args = {"command": "str_replace", "path": f"/repo/{spec.file}", "old_str": "...", "new_str": "..."}
    return [
        dict(role="system", content="You are a helpful assistant that can interact with a computer to solve tasks."),
        dict(role="user", content=task_text),
        dict(role="assistant", content="", reasoning=f"[{stage}] I should read {fn} in {spec.file} first.",
             tool_calls=[dict(id=f"{stage}-c1", name="str_replace_editor",
                              arguments=json.dumps({"command": "view", "path": f"/repo/{spec.file}"}))]),
        dict(role="tool", content=_observation_view(spec.file, fn), tool_call_id=f"{stage}-c1",
             name="str_replace_editor"),
        dict(role="assistant", content=f"The problem is in {fn}; editing it.",
             reasoning=f"[{stage}] The {spec.category} issue comes from {fn}. I will change it.",
             tool_calls=[dict(id=f"{stage}-c2", name="str_replace_editor", arguments=json.dumps(edit_args))]),
        dict(role="tool", content=f"The file /repo/{spec.file} has been edited.", tool_call_id=f"{stage}-c2",
             name="str_replace_editor"),
        dict(role="assistant", content="", reasoning=f"[{stage}] Run it to check.",
             tool_calls=[dict(id=f"{stage}-c3", name="bash",
                              arguments=json.dumps({"command": f"python -c 'import sample; print(\"{fn} ok\")'"}))]),
        dict(role="tool", content=f"{fn} ok", tool_call_id=f"{stage}-c3", name="bash"),
        dict(role="assistant", content="", reasoning=f"[{stage}] Done.",
             tool_calls=[dict(id=f"{stage}-c4", name="submit", arguments="{}")]),
        dict(role="tool", content=patch, tool_call_id=f"{stage}-c4", name="submit"),
    ]


def _changed(patch: str) -> int:
    return sum(1 for ln in patch.splitlines()
               if ln[:1] in "+-" and not ln.startswith(("---", "+++")) and ln[1:].strip())


def build_populated(workspace: Workspace, store, repo_path: str = "/srv/repos/sample") -> Populated:
    """Fill an empty workspace store with the deterministic data above."""
    ex = store.execute
    repo_id = store.insert_returning_id(
        "INSERT INTO repos (name, path, head_commit, test_cmd, languages, added_at)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        ["sample", repo_path, HEAD, "pytest -q", json.dumps({"python": 9, "markdown": 1}), T0])
    config = {"repo": "sample", "pairs": len(PAIRS), "concurrency": 2, "model": MODEL, "provider": "demo",
              "threshold": 0.5, "seed": 7}
    run_id = store.insert_returning_id(
        "INSERT INTO runs (repo_id, kind, status, config, base_commit, pid, started_at, finished_at)"
        " VALUES (?, 'generate', 'finished', ?, ?, NULL, ?, ?) RETURNING id",
        [repo_id, json.dumps(config), HEAD, T0, T0 + timedelta(minutes=5)])
    pop = Populated(workspace, store, repo_id, run_id)
    for seq, spec in enumerate(PAIRS):  # 0-based, as the pipeline numbers tasks
        t = T0 + timedelta(seconds=30 * (seq + 1))
        instruction = (f"When I call {spec.function}() I hit a {spec.category.replace('-', ' ')} problem; "
                       f"the cause may be in {spec.function} in {spec.file} or in what it calls.")
        task_id = store.insert_returning_id(
            "INSERT INTO tasks (run_id, repo_id, seq, file, function, start_line, end_line, language, category,"
            " instruction, seed, base_commit, state, reason, created_at, finished_at)"
            " VALUES (?, ?, ?, ?, ?, 10, 20, 'python', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [run_id, repo_id, seq, spec.file, spec.function, spec.category, instruction, 7 + seq, HEAD,
             spec.state, None if spec.judge else "the judge found T1 does not address the instruction",
             t, t + timedelta(seconds=20)])
        pop.task_ids.append(task_id)
        pr_text = (f"### {spec.function} misbehaves on unusual input\n\nCalling `{spec.function}()` from "
                   f"`{spec.file}` with edge-case arguments gives a wrong result instead of a clear error.\n\n"
                   f"To reproduce:\n\n    python -c 'from sample import {spec.function}'\n")
        store.execute(
            "INSERT INTO prs (task_id, attempt, judge_verdict, judge_text, pr_text, demo_source, accepted,"
            " created_at) VALUES (?, 1, ?, ?, ?, 'builtin', ?, ?)",
            [task_id, spec.judge, "yes" if spec.judge else "no", pr_text if spec.judge else None,
             spec.judge, t + timedelta(seconds=8)])
        stages = [("T1", instruction, spec.p1)] + ([("T2", pr_text, spec.p2)] if spec.p2 is not None else [])
        for k, (stage, text, patch) in enumerate(stages):
            msgs = _messages(stage, spec, text, patch)
            rid = store.insert_returning_id(
                "INSERT INTO rollouts (run_id, task_id, stage, source, model, task_text, status, exit_reason,"
                " patch, patch_lines, steps, prompt_tokens, completion_tokens, cost, started_at, finished_at)"
                " VALUES (?, ?, ?, 'sera', ?, ?, 'finished', 'submitted', ?, ?, 4, ?, ?, 0.0, ?, ?) RETURNING id",
                [run_id, task_id, stage, MODEL, text, patch, _changed(patch), 1200 + 10 * seq, 300 + seq,
                 t + timedelta(seconds=10 * k), t + timedelta(seconds=10 * k + 7)])
            pop.rollouts[(task_id, stage)] = rid
            for idx, m in enumerate(msgs):
                ex("INSERT INTO messages (rollout_id, idx, role, content, reasoning, tool_calls, tool_call_id,"
                   " name, tokens, prompt_tokens, completion_tokens, model_latency_ms, tool_time_ms, created_at)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   [rid, idx, m["role"], m.get("content"), m.get("reasoning"),
                    json.dumps(m.get("tool_calls") or []), m.get("tool_call_id"), m.get("name"),
                    len((m.get("content") or "").split()) + 3, None, None,
                    120.0 if m["role"] == "assistant" else None, 15.0 if m["role"] == "tool" else None,
                    t + timedelta(seconds=idx)])
        if spec.p2 is not None:
            for mode, value in (("sera", spec.sera), ("per-file", spec.per_file)):
                res = recall(spec.p1, spec.p2, mode)
                assert res.recall == pytest.approx(value), (spec.function, mode, res.recall)
                ex("INSERT INTO scores (task_id, mode, recall, matched, total, matched_lines, created_at)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [task_id, mode, res.recall, res.matched, res.total, json.dumps(res.matched_indices),
                    t + timedelta(seconds=19)])
    ex("INSERT INTO reviews (task_id, verdict, note, reviewer, created_at) VALUES (?, 'accept', ?, 'tester', ?)",
       [pop.task_ids[0], "clean fix", T0 + timedelta(minutes=10)])
    return pop


@pytest.fixture
def populated(workspace: Workspace, store) -> Populated:
    """A deterministic populated workspace (see the module docstring)."""
    return build_populated(workspace, store)


@pytest.fixture
def make_app(populated: Populated):
    """make_app(**options) -> SeraApp on the populated store (the store stays open after the app exits)."""
    from sera_tui.app import SeraApp

    def _make(**options) -> SeraApp:
        return SeraApp(populated.workspace, store=populated.store, **options)

    return _make


@pytest.fixture
def empty_app(workspace: Workspace, store):
    """A SeraApp on an empty (migrated) workspace store."""
    from sera_tui.app import SeraApp

    return SeraApp(workspace, store=store)


async def quiesce(pilot, *, stable_s: float = 0.6, timeout: float = 20.0) -> None:
    """Wait until the app has stopped changing: no worker left, no message pending, and the same
    frame for `stable_s` seconds (longer than any debounce timer in the screens).

    Screens load in chains (a result message starts the next worker), so a fixed number of
    pause/wait rounds takes the picture too early on a loaded machine; snapshot tests use this.
    """
    import time

    app = pilot.app
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while True:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        frame = app.export_screenshot()
        now = time.monotonic()
        if frame != last or len(app.workers):
            last, since = frame, now
        elif now - since >= stable_s:
            return
        if now > deadline:
            raise AssertionError(f"the app kept changing for {timeout} s (workers: {list(app.workers)})")
        await pilot.pause(0.1)
