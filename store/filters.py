"""The filter spec shared by curation, export, stats and the Curate screen.

One dataclass, so the CLI flags, the TUI form controls and the stored dataset record (its
`filters` JSON, for rebuilding an export exactly) all describe a selection the same way.
The SQL that applies it lives in store/curation.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import date
from typing import Any, Literal


@dataclass
class FilterSpec:
    min_recall: float | None = None              # recall >= t (in recall_mode); NULL recall never passes
    recall_mode: Literal["sera", "per-file"] = "sera"
    states: list[str] | None = None              # task states, e.g. ["kept"]; None = any
    stage: Literal["T1", "T2", "both"] = "both"
    submitted_only: bool = True                  # SERA keeps only rollouts that called submit
    max_patch_lines: int | None = None           # SERA: 40
    max_mean_tool_tokens: float | None = None    # SERA: 600
    max_steps: int | None = None
    categories: list[str] | None = None
    verdicts: list[str] | None = None            # accept | reject | skip | unreviewed (latest verdict per task)
    repo: str | None = None
    run_id: int | None = None
    since: date | None = None
    until: date | None = None
    sources: list[str] | None = field(default=None)  # sera | swe-agent | mini-swe-agent | openhands
    include_heldout: bool = False                # held-out eval tasks (tasks.heldout) never train by default

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("since", "until"):
            if d[k] is not None:
                d[k] = d[k].isoformat()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FilterSpec":
        names = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        for k in ("since", "until"):
            if isinstance(d.get(k), str):
                d[k] = date.fromisoformat(d[k])
        return cls(**d)

    @classmethod
    def sera_specialization(cls) -> "FilterSpec":
        """SERA's specialization preset: recall >= 0.5, patch <= 40 lines, mean tool output <= 600 tokens."""
        return cls(min_recall=0.5, max_patch_lines=40, max_mean_tool_tokens=600)
