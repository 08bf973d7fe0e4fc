"""Properties of recall over generated, well-formed multi-file diffs (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.verify import changed_line_count, recall

# Content deliberately includes signs, spaces, tabs and form feeds so lines can look like headers
# ("+++ x"), be blank after the sign, or differ only in whitespace.
_text = st.text(alphabet="ab+- \t=#\x0c", max_size=8)
_hunk = st.tuples(st.lists(_text, max_size=2), st.lists(_text, max_size=4),
                  st.lists(_text, max_size=4)).filter(lambda h: h[1] or h[2])  # git never emits empty hunks
_file = st.tuples(st.sampled_from(["a.py", "b.py", "dir/c.py", "d e.py"]),
                  st.lists(_hunk, min_size=1, max_size=3))


def _render(files: list, crlf: bool) -> str:
    out: list[str] = []
    seen = set()
    for path, hunks in files:
        if path in seen:
            continue
        seen.add(path)
        out += [f"diff --git a/{path} b/{path}", "index 1111111..2222222 100644",
                f"--- a/{path}", f"+++ b/{path}"]
        start = 1
        for ctx, removed, added in hunks:
            old_n, new_n = len(ctx) + len(removed), len(ctx) + len(added)
            out.append(f"@@ -{start},{old_n} +{start},{new_n} @@")
            out += [" " + c for c in ctx] + ["-" + r for r in removed] + ["+" + a for a in added]
            start += old_n + 10
    eol = "\r\n" if crlf else "\n"
    return eol.join(out) + eol if out else ""


file_lists = st.lists(_file, max_size=4, unique_by=lambda f: f[0])
patches = st.builds(_render, file_lists, st.booleans())
modes = st.sampled_from(["sera", "per-file"])
# database=None: no .hypothesis/ directory left in the working tree.
fast = settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@fast
@given(patches, modes)
def test_patch_against_itself_is_one_when_defined(patch: str, mode: str) -> None:
    r = recall(patch, patch, mode)
    if r.total == 0:
        assert r.recall is None and r.matched == 0
    else:
        assert r.recall == 1.0
        assert all(t.matched for t in r.target_lines) and all(p.matched for p in r.produced_lines)


@fast
@given(patches, modes)
def test_against_empty_patch_is_zero_when_defined(patch: str, mode: str) -> None:
    r = recall(patch, "", mode)
    assert r.matched == 0
    assert r.recall == (0.0 if r.total else None)


@fast
@given(patches, patches, modes)
def test_recall_is_a_fraction_and_marks_agree_with_counts(target: str, produced: str, mode: str) -> None:
    r = recall(target, produced, mode)
    assert 0 <= r.matched <= r.total == len(r.target_lines)
    if r.recall is not None:
        assert 0.0 <= r.recall <= 1.0 and r.recall == r.matched / r.total
    assert sum(t.matched for t in r.target_lines) == r.matched
    assert sum(p.matched for p in r.produced_lines) == r.matched
    if mode == "sera":
        assert r.total == changed_line_count(target)
        # pairs are exact: a matched target line and its counterpart are the same line
        by_index = {p.index: p for p in r.produced_lines}
        assert all(by_index[t.counterpart].line == t.line for t in r.target_lines if t.matched)


@fast
@given(st.lists(_file, min_size=2, max_size=4, unique_by=lambda f: f[0]), st.booleans())
def test_sera_mode_is_pooled_so_file_order_does_not_matter(files: list, crlf: bool) -> None:
    target = _render(files, crlf)
    reordered = _render(list(reversed(files)), crlf)
    a, b = recall(target, target, "sera"), recall(target, reordered, "sera")
    assert b.matched == a.matched
