"""Validate and run one tool call. Bad calls (malformed JSON, unknown tool, missing or mistyped
arguments) become error observations telling the model what was wrong; the loop goes on."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from engine.sandbox.base import Sandbox
from engine.tools.bash import run_bash
from engine.tools.clip import DEFAULT_LIMIT
from engine.tools.editor import Editor
from engine.tools.paths import ToolError
from engine.tools.schema import BASH_TOOL, EDITOR_TOOL, SUBMIT_TOOL, TOOL_NAMES, tool_schema
from engine.trajectory import ToolCall

_JSON_TYPES = {"string": str, "integer": int, "array": list, "object": dict, "boolean": bool}


@dataclass
class ToolOutcome:
    observation: str
    error: bool = False
    submitted: bool = False
    tool_time_ms: float = 0.0  # time in the tool's own process/IO


def validate(call: ToolCall) -> dict[str, Any]:
    """Arguments of a well-formed call, or ToolError with a message for the model."""
    if call.name not in TOOL_NAMES:
        raise ToolError(f"Unknown tool `{call.name}`. The available tools are: {', '.join(sorted(TOOL_NAMES))}.")
    try:
        args = call.parsed_arguments()
    except ValueError as exc:
        raise ToolError(f"{exc}. Send the arguments as one JSON object, e.g. "
                        f'{{"command": "ls"}} for bash.') from None
    params = tool_schema(call.name)["function"]["parameters"]
    missing = [p for p in params.get("required", []) if p not in args or args[p] is None]
    if missing:
        raise ToolError(f"Missing required argument(s) for `{call.name}`: {', '.join(missing)}.")
    for key, value in args.items():
        spec = params.get("properties", {}).get(key)
        if spec is None or value is None:
            continue
        want = _JSON_TYPES.get(spec.get("type", ""))
        if want and (not isinstance(value, want) or (want is int and isinstance(value, bool))):
            raise ToolError(f"Argument `{key}` of `{call.name}` must be of type {spec['type']}, "
                            f"got {type(value).__name__}.")
        if "enum" in spec and value not in spec["enum"]:
            raise ToolError(f"Argument `{key}` of `{call.name}` must be one of {', '.join(spec['enum'])}; "
                            f"got {value!r}.")
    return args


class ToolRunner:
    """The tools of one rollout, bound to its sandbox (the editor keeps per-file undo history)."""

    def __init__(self, sandbox: Sandbox, *, bash_timeout_s: float = 300.0, output_limit: int = DEFAULT_LIMIT):
        self.sandbox = sandbox
        self.editor = Editor(sandbox.root, sandbox.display_root, output_limit=output_limit)
        self.bash_timeout_s = bash_timeout_s
        self.output_limit = output_limit

    async def execute(self, call: ToolCall) -> ToolOutcome:
        try:
            args = validate(call)
        except ToolError as exc:
            return ToolOutcome(str(exc), error=True)
        t0 = time.perf_counter()
        if call.name == SUBMIT_TOOL:
            return ToolOutcome("", submitted=True)  # the agent fills in the patch
        if call.name == BASH_TOOL:
            obs, result = await run_bash(self.sandbox, args["command"], self.bash_timeout_s, self.output_limit)
            return ToolOutcome(obs, error=result.timed_out, tool_time_ms=result.duration_ms)
        assert call.name == EDITOR_TOOL
        await self.sandbox.ready()  # the editor works on the checkout's files directly
        try:
            obs = await asyncio.to_thread(self.editor.run, args)
        except ToolError as exc:
            return ToolOutcome(str(exc), error=True, tool_time_ms=(time.perf_counter() - t0) * 1000)
        return ToolOutcome(obs, tool_time_ms=(time.perf_counter() - t0) * 1000)
