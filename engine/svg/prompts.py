"""Prompts for the judge and the synthetic PR writer (our wording of SERA's method)."""

from __future__ import annotations

import json

from engine.trajectory import Message

JUDGE_SYSTEM = (
    "You review changes made by a coding agent. You answer whether the change is a sensible response to "
    "the instruction the agent was given. Begin your answer with a single word, YES or NO, then give one "
    "or two sentences of justification."
)

JUDGE_USER = """The agent received this instruction:

<instruction>
{instruction}
</instruction>

Here is what it did, step by step:

<trajectory>
{trajectory}
</trajectory>

The resulting patch:

<patch>
{patch}
</patch>

Is this a valid change for the instruction: does it touch the code the instruction is about and make a
plausible improvement there, rather than something unrelated, empty or broken? Answer YES or NO first."""

PR_SYSTEM = (
    "You write issue reports for a software project. Write like a user who hit a problem: describe what "
    "goes wrong and how to reproduce it. Never describe a fix, never mention tests or test files, never "
    "say the problem is already fixed, and never include a diff."
)

PR_USER = """A developer investigated the code below and changed it. From their steps, infer the problem
their change addresses and write the issue that would have led someone to make it.

<steps>
{trajectory}
</steps>

<patch>
{patch}
</patch>

Write the issue in the style of this example (tone, length and structure, not its content):

<example>
{demonstration}
</example>

Rules: a short title on the first line, then the description; say what goes wrong and how to reproduce
it (you may name the function `{function}` and the file `{file}`); do not explain or propose the fix;
do not mention tests; do not say it is already fixed; no diff. Output only the issue text."""



def _clip(text: str | None, limit: int) -> str:
    text = text or ""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n…[{len(text) - limit} chars clipped]…\n{text[-half:]}"


def format_trajectory(messages: list[Message], *, max_chars: int = 24_000, obs_chars: int = 1_500) -> str:
    """T1's steps as text: reasoning, actions (tool calls) and observations, in order."""
    parts: list[str] = []
    step = 0
    for m in messages:
        if m.role == "assistant":
            step += 1
            lines = [f"## Step {step}"]
            if m.reasoning:
                lines.append(f"Reasoning: {_clip(m.reasoning, 1_500)}")
            if m.content:
                lines.append(f"Said: {_clip(m.content, 1_000)}")
            for call in m.tool_calls:
                try:
                    args = json.dumps(call.parsed_arguments(), ensure_ascii=False)
                except ValueError:
                    args = call.arguments
                lines.append(f"Action: {call.name} {_clip(args, 2_000)}")
            parts.append("\n".join(lines))
        elif m.role == "tool":
            parts.append(f"Observation:\n{_clip(m.content, obs_chars)}")
    return _clip("\n\n".join(parts), max_chars)


def judge_messages(instruction: str, trajectory: str, patch: str) -> list[Message]:
    return [Message(role="system", content=JUDGE_SYSTEM),
            Message(role="user", content=JUDGE_USER.format(instruction=instruction, trajectory=trajectory,
                                                           patch=_clip(patch, 12_000)))]


def pr_messages(trajectory: str, patch: str, demonstration: str, function: str, file: str,
                feedback: str | None = None) -> list[Message]:
    user = PR_USER.format(trajectory=trajectory, patch=_clip(patch, 12_000), demonstration=demonstration,
                          function=function, file=file)
    if feedback:
        user += f"\n\nYour previous attempt was rejected: {feedback}. Write it again following the rules."
    return [Message(role="system", content=PR_SYSTEM), Message(role="user", content=user)]
