"""Soft verification: line-level recall of a target patch's changed lines in a produced patch.

Two modes:

- ``"sera"`` reproduces SERA's published rule exactly (DESIGN §3): take the ``+``/``-`` lines of
  the diff text, skip lines starting with ``diff``, ``---``, ``+++``, ``@@`` and lines that are blank
  after the sign; a target line is matched when an identical line (sign and whitespace included,
  so a CRLF ``\\r`` counts) is still unused in the produced patch (multiset, pooled across files);
  recall = matched / |target|, undefined (None) when the target has no changed lines. Pure string
  work, no diff parser, because it scores every generated pair.
- ``"per-file"`` parses both patches with ``unidiff``, matches only within the same file path and
  compares lines with CRLF and trailing whitespace normalized away. Since it parses hunks, a removed
  line that itself starts with ``--`` (an SQL/Lua comment) counts here while the SERA rule drops it.

Both report which target lines matched and which produced lines were used, for highlighting.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Literal

Mode = Literal["sera", "per-file"]
MODES: tuple[str, ...] = ("sera", "per-file")

# SERA skips these prefixes even on +/- lines (only "---"/"+++" can actually collide with them).
_SERA_SKIP = ("diff", "---", "+++", "@@")

# Something only a diff has: a hunk header, a file header or a git extended header.
_DIFF_MARK = re.compile(
    r"^(?:@@ -\d|diff |--- |\+\+\+ |Binary files |GIT binary patch|rename from |similarity index |"
    r"new file mode |deleted file mode )",
    re.M,
)
_GIT_HEADER = re.compile(r"^diff --git (?:\"?a/.+?\"?) \"?b/(.+?)\"?\s*$")


class PatchError(ValueError):
    """The text is not a unified diff (or cannot be parsed as one). The message is one line."""


@dataclass(slots=True)
class ChangedLine:
    """One ``+``/``-`` line of a patch as compared by recall."""

    index: int  # 0-based line number in the patch text (lines split on "\n")
    file: str | None  # path from the diff headers; None when the patch has none
    line: str  # sign + content, as compared (per-file mode: CRLF and trailing whitespace removed)
    matched: bool = False  # target: found in produced; produced: used as a counterpart
    counterpart: int | None = None  # `index` of the line it was paired with in the other patch

    @property
    def sign(self) -> str:
        return self.line[0]

    @property
    def text(self) -> str:
        return self.line[1:]


TargetLine = ChangedLine
ProducedLine = ChangedLine


@dataclass(slots=True)
class RecallResult:
    mode: str
    recall: float | None  # None: the target has no changed lines (undefined, not a pass)
    matched: int
    total: int
    target_lines: list[ChangedLine] = field(default_factory=list)
    produced_lines: list[ChangedLine] = field(default_factory=list)

    @property
    def matched_indices(self) -> list[int]:
        """Indices (positions in the target text) of the matched target lines."""
        return [t.index for t in self.target_lines if t.matched]

    def to_json(self) -> dict[str, object]:
        return {"mode": self.mode, "recall": self.recall, "matched": self.matched, "total": self.total}


# -- public API ------------------------------------------------------------------------------------

def recall(target: str | None, produced: str | None, mode: Mode = "sera") -> RecallResult:
    """Line-level recall of `target`'s changed lines in `produced`.

    Raises PatchError when either text is non-empty but not a diff, ValueError on an unknown mode.
    """
    target, produced = target or "", produced or ""  # a rollout that never submitted has no patch
    if mode == "sera":
        t_lines = _sera_lines(target, "target")
        p_lines = _sera_lines(produced, "produced")
        matched = _pair(t_lines, p_lines, _sera_key)
    elif mode == "per-file":
        t_lines = _unidiff_lines(target, "target")
        p_lines = _unidiff_lines(produced, "produced")
        matched = _pair(t_lines, p_lines, _file_key)
    else:
        raise ValueError(f"unknown recall mode {mode!r}; choose one of {', '.join(MODES)}")
    total = len(t_lines)
    return RecallResult(mode, matched / total if total else None, matched, total, t_lines, p_lines)


def changed_line_count(patch: str | None) -> int:
    """Number of changed lines by SERA's rule (what `rollouts.patch_lines` stores). Never raises."""
    if not patch:
        return 0
    n = 0
    for line in patch.split("\n"):
        c = line[:1]
        if (c == "+" or c == "-") and not line.startswith(_SERA_SKIP) and line[1:].strip():
            n += 1
    return n


# -- sera mode -------------------------------------------------------------------------------------

def _check_is_diff(patch: str, which: str) -> None:
    if patch.strip() and _DIFF_MARK.search(patch) is None:
        first = patch.strip().split("\n", 1)[0].strip()
        if len(first) > 60:
            first = first[:57] + "..."
        raise PatchError(
            f"the {which} patch is not a unified diff (no hunk or file header; it starts {first!r})")


def _header_path(rest: str) -> str | None:
    """Path from a ``---``/``+++`` header: drops timestamps, quotes and the a/ b/ prefix."""
    path = rest.split("\t", 1)[0].rstrip("\r").strip().strip('"')
    if not path or path == "/dev/null":
        return None
    if path.startswith(("a/", "b/")):
        path = path[2:]
    return path


def _sera_lines(patch: str, which: str) -> list[ChangedLine]:
    _check_is_diff(patch, which)
    out: list[ChangedLine] = []
    file: str | None = None
    lines = patch.split("\n")
    last = len(lines) - 1
    for i, line in enumerate(lines):
        c = line[:1]
        if c != "+" and c != "-":
            if c == "d" and line.startswith("diff --git "):
                m = _GIT_HEADER.match(line.rstrip("\r"))
                file = m.group(1) if m else file
            continue
        if line.startswith(_SERA_SKIP):
            # Only a "--- old" / "+++ new" pair is a file header (a removed "-- comment" is not);
            # the new path wins unless the file was deleted (/dev/null).
            if line.startswith("--- ") and i < last and lines[i + 1].startswith("+++ ") or \
                    line.startswith("+++ ") and i > 0 and lines[i - 1].startswith("--- "):
                file = _header_path(line[4:]) or file
            continue
        if line[1:].strip():
            out.append(ChangedLine(i, file, line))
    return out


_sera_key = attrgetter("line")


# -- per-file mode ---------------------------------------------------------------------------------

def _unidiff_lines(patch: str, which: str) -> list[ChangedLine]:
    _check_is_diff(patch, which)
    if not patch.strip():
        return []
    from unidiff import PatchSet
    from unidiff.errors import UnidiffParseError

    # CRLF -> LF keeps the line count, so diff_line_no still points into the original text.
    text = patch.replace("\r\n", "\n")
    try:
        files = PatchSet(text)
    except UnidiffParseError as exc:
        reason = " ".join(str(exc).split())  # unidiff's messages end with the offending line
        raise PatchError(f"cannot parse the {which} patch as a unified diff: {reason}") from None
    out: list[ChangedLine] = []
    for pf in files:
        path = pf.path
        for hunk in pf:
            for ln in hunk:
                sign = ln.line_type
                if sign != "+" and sign != "-":
                    continue
                value = ln.value.rstrip()
                if value:
                    out.append(ChangedLine(ln.diff_line_no - 1, path, sign + value))
    out.sort(key=lambda c: c.index)
    return out


_file_key = attrgetter("file", "line")


# -- matching --------------------------------------------------------------------------------------

def _pair(target: list[ChangedLine], produced: list[ChangedLine],
          key: Callable[[ChangedLine], object]) -> int:
    """Multiset matching: each target line takes the earliest still-unused identical produced line."""
    pool: dict[object, list[ChangedLine]] = {}
    for p in reversed(produced):  # reversed so that pop() yields the earliest one
        k = key(p)
        bucket = pool.get(k)
        if bucket is None:
            pool[k] = [p]
        else:
            bucket.append(p)
    matched = 0
    for t in target:
        bucket = pool.get(key(t))
        if bucket:
            p = bucket.pop()
            t.matched = p.matched = True
            t.counterpart, p.counterpart = p.index, t.index
            matched += 1
    return matched
