"""Throughput of soft verification (engine.verify.recall) in both modes.

Generates 10 000 realistic (target, produced) patch pairs -- git-style multi-file diffs with
several hunks, context lines, new/deleted/renamed files, "\\ No newline" markers and some CRLF
patches -- where the produced patch is a perturbed re-creation of the target, then times each mode
on one core and prints pairs/second.

    python3 bench/recall.py [--pairs N] [--seed S]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.verify import recall  # noqa: E402 (after the sys.path line)

_NAMES = ["value", "result", "items", "config", "path", "count", "user", "cache", "timeout", "buf"]
_CALLS = ["load", "parse", "validate", "close", "flush", "update", "fetch", "render", "emit", "retry"]


def _code_line(rng: random.Random) -> str:
    indent = "    " * rng.randint(0, 3)
    a, b = rng.choice(_NAMES), rng.choice(_NAMES)
    kind = rng.random()
    if kind < 0.08:
        return ""
    if kind < 0.3:
        return f"{indent}{a} = {rng.choice(_CALLS)}({b}, {rng.randint(0, 99)})"
    if kind < 0.45:
        return f"{indent}if {a} is None or {b} > {rng.randint(0, 9)}:"
    if kind < 0.6:
        return f"{indent}return {a}.{rng.choice(_CALLS)}()"
    if kind < 0.7:
        return f"{indent}# {rng.choice(_CALLS)} the {a} before {rng.choice(_CALLS)}ing {b}"
    if kind < 0.8:
        return f"{indent}raise ValueError(f\"bad {a}: {{{b}!r}}\")"
    return f"{indent}self.{a}[{b}] = {rng.choice(_CALLS)}_{a}({b})"


def _hunk(rng: random.Random) -> dict[str, list[str]]:
    """One hunk: up to 3 context lines around a run of removals/additions."""
    return {"before": [_code_line(rng) for _ in range(3)],
            "removed": [_code_line(rng) for _ in range(rng.randint(0, 4))],
            "added": [_code_line(rng) for _ in range(rng.randint(1, 6))],
            "after": [_code_line(rng) for _ in range(rng.randint(0, 3))]}


def _file_spec(rng: random.Random, path: str) -> dict:
    kind = rng.random()
    if kind < 0.1:
        return {"kind": "new", "path": path, "lines": [_code_line(rng) for _ in range(rng.randint(2, 12))]}
    if kind < 0.15:
        return {"kind": "deleted", "path": path, "lines": [_code_line(rng) for _ in range(rng.randint(2, 8))]}
    return {"kind": "rename" if kind < 0.2 else "modify", "path": path,
            "old": "old_" + path.rsplit("/", 1)[-1], "start": rng.randint(1, 200),
            "gaps": [rng.randint(5, 40) for _ in range(3)],
            "hunks": [_hunk(rng) for _ in range(rng.randint(1, 3))], "no_eol": rng.random() < 0.05}


def _render(spec: dict) -> list[str]:
    """git diff text for one file, with hunk headers that agree with the hunk bodies."""
    path = spec["path"]
    if spec["kind"] == "new":
        lines = spec["lines"]
        return [f"diff --git a/{path} b/{path}", "new file mode 100644", "index 0000000..1a2b3c4",
                "--- /dev/null", f"+++ b/{path}", f"@@ -0,0 +1,{len(lines)} @@"] + ["+" + x for x in lines]
    if spec["kind"] == "deleted":
        lines = spec["lines"]
        return [f"diff --git a/{path} b/{path}", "deleted file mode 100644", "index 1a2b3c4..0000000",
                f"--- a/{path}", "+++ /dev/null", f"@@ -1,{len(lines)} +0,0 @@"] + ["-" + x for x in lines]
    if spec["kind"] == "rename":
        old = spec["old"]
        out = [f"diff --git a/{old} b/{path}", "similarity index 91%", f"rename from {old}",
               f"rename to {path}", "index 3f4e5d6..7a8b9c0 100644", f"--- a/{old}", f"+++ b/{path}"]
    else:
        out = [f"diff --git a/{path} b/{path}", "index 3f4e5d6..7a8b9c0 100644", f"--- a/{path}",
               f"+++ b/{path}"]
    old_start = new_start = spec["start"]
    for h, gap in zip(spec["hunks"], spec["gaps"][: len(spec["hunks"])], strict=True):
        ctx = len(h["before"]) + len(h["after"])
        old_n, new_n = ctx + len(h["removed"]), ctx + len(h["added"])
        out.append(f"@@ -{old_start},{old_n} +{new_start},{new_n} @@ def handler():")
        out += [" " + x for x in h["before"]] + ["-" + x for x in h["removed"]]
        out += ["+" + x for x in h["added"]] + [" " + x for x in h["after"]]
        old_start, new_start = old_start + old_n + gap, new_start + new_n + gap
    if spec["no_eol"]:
        out.append("\\ No newline at end of file")
    return out


def _perturb(rng: random.Random, spec: dict) -> dict:
    """A plausible rollout-2 version: most changed lines kept, some dropped, altered or given
    trailing whitespace, some extra."""
    def edit(lines: list[str]) -> list[str]:
        out = []
        for x in lines:
            r = rng.random()
            if r < 0.1:
                continue
            out.append(x + "  # tweak" if r < 0.2 else x + " " if r < 0.23 else x)
            if rng.random() < 0.05:
                out.append(_code_line(rng))
        return out

    spec = dict(spec)
    if "lines" in spec:
        spec["lines"] = edit(spec["lines"]) or spec["lines"]
    else:
        spec["hunks"] = [dict(h, removed=edit(h["removed"]), added=edit(h["added"])) for h in spec["hunks"]]
    return spec


def make_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        paths = dict.fromkeys(f"pkg/mod_{rng.randint(0, 50)}/{rng.choice(_NAMES)}.py"
                              for _ in range(rng.randint(1, 4)))
        specs = [_file_spec(rng, p) for p in paths]
        target = [line for s in specs for line in _render(s)]
        # 5 % of rollout 2s submit nothing; some re-creations touch only some of the files.
        kept = [] if rng.random() < 0.05 else [s for s in specs if rng.random() < 0.9] or specs[:1]
        produced = [line for s in kept for line in _render(_perturb(rng, s))]
        # Some patches come with CRLF; a few pairs mix line endings (an editor or OS difference).
        eol = "\r\n" if rng.random() < 0.1 else "\n"
        peol = eol if rng.random() < 0.97 else ("\n" if eol == "\r\n" else "\r\n")
        pairs.append((eol.join(target) + eol, peol.join(produced) + peol if produced else ""))
    return pairs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    pairs = make_pairs(args.pairs, args.seed)
    mean_lines = sum(t.count("\n") + p.count("\n") for t, p in pairs) / len(pairs)
    print(f"{len(pairs)} pairs, {mean_lines:.0f} diff lines per pair on average")
    for mode in ("sera", "per-file"):
        t0 = time.perf_counter()
        scored = [recall(t, p, mode).recall for t, p in pairs]
        dt = time.perf_counter() - t0
        defined = [r for r in scored if r is not None]
        print(f"mode={mode:<8} {len(pairs) / dt:10.0f} pairs/s  ({dt:.2f} s; mean recall "
              f"{sum(defined) / len(defined):.3f})")


if __name__ == "__main__":
    main()
