"""Mapping Claude Code's tools to our SWE-agent tools and back (`sera proxy --map-tools`).

A model trained here knows `bash`, `str_replace_editor` and `submit` (engine/tools/schema.py).
Claude Code offers Read/Write/Edit/Bash/Glob/Task/… and executes only those. In this mode the
model sees its own tools; its calls are rewritten into Claude Code calls on the way out and
Claude Code's history is rewritten back on the way in:

    view <file> [view_range]  <->  Read {file_path (absolute), offset, limit}
    view <dir>                 ->  Bash (a 2-level listing, as SWE-agent's view does)
    create                    <->  Write {file_path, content}
    str_replace               <->  Edit {file_path, old_string, new_string}
    insert                     ->  Bash (a small python edit: Claude Code has no insert)
    bash                      <->  Bash {command}
    submit                     ->  ends the turn (no tool call)

Claude Code's Read shows lines as `     1→text`; SWE-agent's view shows `cat -n` lines
(`     1\ttext`), so tool results are rewritten to the format the model was trained on.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections import OrderedDict
from typing import Any

from engine.tools.schema import BASH_TOOL, EDITOR_TOOL, SUBMIT_TOOL, openai_tools

MAPPED_CLAUDE_TOOLS = frozenset({"Read", "Write", "Edit", "Bash"})
_CWD_RE = re.compile(r"(?:Primary w|W)orking directory:\s*(\S+)")
# Claude Code numbers Read lines as `     1→text` (older) or `1\ttext` (2.x); SWE-agent as `cat -n`.
_NUMBERED_LINE = re.compile(r"^\s*(\d+)(?:→|\t)", re.MULTILINE)
SUBMIT_TEXT = "Submitted."  # shown when the model ends with submit and no text (Claude Code nudges on empty)


def swe_tools() -> list[dict[str, Any]]:
    return openai_tools()


def find_cwd(system_text: str) -> str | None:
    """Claude Code states its working directory in the system prompt; relative paths resolve there."""
    m = _CWD_RE.search(system_text or "")
    return m.group(1) if m else None


class ToolMapper:
    """Stateless rules plus a small id -> original-call memory so round trips are exact."""

    def __init__(self, cwd: str | None = None, memory: OrderedDict[str, tuple[str, str]] | None = None):
        self.cwd = cwd
        self._memory = memory if memory is not None else OrderedDict()

    # -- model -> Claude Code ----------------------------------------------------------------
    def to_claude(self, call_id: str, name: str, arguments: str) -> tuple[str, dict[str, Any]] | None:
        """The Claude Code call for a model's call; None for submit (the turn ends)."""
        try:
            args = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            args = None
        if name == SUBMIT_TOOL:
            return None
        self._remember(call_id, name, arguments)
        if not isinstance(args, dict):
            # Malformed: let Claude Code report the error back to the model through Bash.
            return "Bash", {"command": f"echo {shlex.quote(f'invalid arguments for {name}: {arguments}')} >&2; exit 2"}
        if name == BASH_TOOL:
            return "Bash", {"command": str(args.get("command", ""))}
        if name != EDITOR_TOOL:
            return "Bash", {"command": f"echo {shlex.quote(f'unknown tool {name}')} >&2; exit 2"}
        cmd, path = args.get("command"), self._abs(str(args.get("path", "")))
        if cmd == "view":
            if os.path.isdir(path):
                return "Bash", {"command": f"find {shlex.quote(path)} -maxdepth 2 -not -path '*/.*' | sort"}
            out: dict[str, Any] = {"file_path": path}
            rng = args.get("view_range")
            if isinstance(rng, list) and len(rng) == 2 and all(isinstance(x, int) for x in rng):
                out["offset"] = max(rng[0], 1)
                if rng[1] != -1:
                    out["limit"] = max(rng[1] - rng[0] + 1, 1)
            return "Read", out
        if cmd == "create":
            return "Write", {"file_path": path, "content": str(args.get("file_text", ""))}
        if cmd == "str_replace":
            return "Edit", {"file_path": path, "old_string": str(args.get("old_str", "")),
                            "new_string": str(args.get("new_str", ""))}
        if cmd == "insert":
            script = ("import json,sys;p,n,t=json.loads(sys.argv[1]);L=open(p).read().splitlines(True);"
                      "t=t if t.endswith('\\n') else t+'\\n';L[n:n]=[t];open(p,'w').write(''.join(L));"
                      "print(f'inserted {t.count(chr(10))} line(s) after line {n} of {p}')")
            payload = json.dumps([path, int(args.get("insert_line", 0)), str(args.get("new_str", ""))])
            return "Bash", {"command": f"python3 -c {shlex.quote(script)} {shlex.quote(payload)}"}
        return "Bash", {"command": f"echo {shlex.quote(f'{cmd} is not available through this proxy')} >&2; exit 2"}

    # -- Claude Code history -> model ---------------------------------------------------------
    def to_swe(self, call_id: str, name: str, tool_input: dict[str, Any]) -> tuple[str, str]:
        """The model's own form of a call found in Claude Code's history."""
        if call_id in self._memory:
            return self._memory[call_id]
        if name == "Read":
            args: dict[str, Any] = {"command": "view", "path": tool_input.get("file_path", "")}
            if "offset" in tool_input:
                start = int(tool_input["offset"])
                limit = tool_input.get("limit")
                args["view_range"] = [start, start + int(limit) - 1 if limit else -1]
            return EDITOR_TOOL, json.dumps(args)
        if name == "Write":
            return EDITOR_TOOL, json.dumps({"command": "create", "path": tool_input.get("file_path", ""),
                                            "file_text": tool_input.get("content", "")})
        if name == "Edit":
            return EDITOR_TOOL, json.dumps({"command": "str_replace", "path": tool_input.get("file_path", ""),
                                            "old_str": tool_input.get("old_string", ""),
                                            "new_str": tool_input.get("new_string", "")})
        if name == "Bash":
            return BASH_TOOL, json.dumps({"command": tool_input.get("command", "")})
        return name, json.dumps(tool_input)

    @staticmethod
    def result_to_swe(claude_name: str | None, text: str, path: str | None = None) -> str:
        """Tool output in the format the model was trained on."""
        if claude_name in ("Read", "Edit"):
            text = _NUMBERED_LINE.sub(lambda m: f"{int(m.group(1)):>6}\t", text)
        if claude_name == "Read" and path and not text.startswith("<"):
            text = f"Here's the result of running `cat -n` on {path}:\n{text}"
        return text

    # -- helpers -------------------------------------------------------------------------------
    def _abs(self, path: str) -> str:
        if not path or os.path.isabs(path) or not self.cwd:
            return path
        return os.path.normpath(os.path.join(self.cwd, path))

    def _remember(self, call_id: str, name: str, arguments: str) -> None:
        self._memory[call_id] = (name, arguments)
        while len(self._memory) > 4096:
            self._memory.popitem(last=False)
