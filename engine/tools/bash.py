"""The `bash` tool: run a command in the rollout's sandbox, cwd = repo root, output clipped."""

from __future__ import annotations

from engine.sandbox.base import CommandResult, Sandbox
from engine.tools.clip import DEFAULT_LIMIT, clip


def observation(result: CommandResult, timeout_s: float, limit: int = DEFAULT_LIMIT) -> str:
    """What the model sees (SWE-agent wording for the empty and timed-out cases)."""
    if result.timed_out:
        head = clip(result.output, limit // 2) if result.output else ""
        return (f"{head}\nThe command took longer than {timeout_s:g} seconds and was killed (with its child "
                f"processes). Run long commands in the background or with a smaller input.").lstrip("\n")
    if not result.output.strip():
        if result.exit_code == 0:
            return "Your command ran successfully and did not produce any output."
        return f"Your command failed with exit code {result.exit_code} and did not produce any output."
    return clip(result.output, limit)


async def run_bash(sandbox: Sandbox, command: str, timeout_s: float,
                   limit: int = DEFAULT_LIMIT) -> tuple[str, CommandResult]:
    result = await sandbox.run(command, timeout_s)
    return observation(result, timeout_s, limit), result
