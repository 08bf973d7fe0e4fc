"""Judge T1 against its instruction, then write the synthetic PR from T1's steps (up to N attempts).

Each attempt is recorded in `prs` by the pipeline; this module only talks to the teacher and
checks its answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.svg.prompts import judge_messages, pr_messages

_VERDICT_RE = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)
# The PR must describe a problem, not a fix, and must not talk about tests.
_PR_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(already|has been|have been|was|is now) (fixed|resolved|addressed)\b", re.IGNORECASE),
     "it says the problem is already fixed"),
    (re.compile(r"^(diff --git|@@ -\d|\+\+\+ |--- a/)", re.MULTILINE), "it contains a diff"),
    (re.compile(r"\b(unit tests?|test suite|test cases?|tests? (pass|fail)|pytest|add(ed)? a test)\b", re.IGNORECASE),
     "it talks about tests"),
    (re.compile(r"\b(this (pr|patch|change) (fixes|changes|adds)|the fix (is|was)|I fixed|we fixed)\b", re.IGNORECASE),
     "it describes the fix"),
]
MIN_PR_WORDS = 12


@dataclass(frozen=True)
class JudgeAnswer:
    verdict: bool | None  # None: no YES/NO could be read
    text: str


def parse_verdict(text: str | None) -> bool | None:
    m = _VERDICT_RE.match((text or "").strip().strip("*#`"))
    if m:
        return m.group(1).lower() == "yes"
    # Some models think aloud first: accept a lone final verdict line.
    last = (text or "").strip().splitlines()[-1:] if text else []
    m = _VERDICT_RE.match(last[0].strip().strip("*#`")) if last else None
    return m.group(1).lower() == "yes" if m else None


def pr_problem(text: str | None) -> str | None:
    """Why a PR text breaks the rules, or None when it is acceptable."""
    text = (text or "").strip()
    if len(text.split()) < MIN_PR_WORDS:
        return f"it is too short (fewer than {MIN_PR_WORDS} words)"
    for pattern, why in _PR_RULES:
        if pattern.search(text):
            return why
    return None


def strip_think(text: str | None) -> str:
    """Drop a leading <think>…</think> some models leave in content."""
    return re.sub(r"^\s*<think>.*?</think>\s*", "", text or "", flags=re.DOTALL).strip()


async def ask_judge(client, *, instruction: str, trajectory: str, patch: str, temperature: float):
    """(JudgeAnswer, completion) — the completion carries tokens and cost."""
    comp = await client.complete(judge_messages(instruction, trajectory, patch), None,
                                 temperature=temperature, purpose="judge")
    text = strip_think(comp.message.content)
    return JudgeAnswer(parse_verdict(text), text), comp


async def ask_pr(client, *, trajectory: str, patch: str, demonstration: str, function: str, file: str,
                 temperature: float, feedback: str | None = None):
    """(pr_text, completion)."""
    comp = await client.complete(pr_messages(trajectory, patch, demonstration, function, file, feedback), None,
                                 temperature=temperature, purpose="pr")
    return strip_think(comp.message.content), comp
