"""SWE-agent-compatible `str_replace_editor`: view, create, str_replace, insert, undo_edit.

Output wording follows SWE-agent's tool so models trained on its trajectories see what they expect.
File IO is synchronous; the agent calls `Editor.run` in a worker thread.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from engine.tools.clip import DEFAULT_LIMIT, clip
from engine.tools.paths import PathMapper, ToolError

SNIPPET_LINES = 4
COMMANDS = ("view", "create", "str_replace", "insert", "undo_edit")


def numbered(text: str, start: int = 1) -> str:
    """`cat -n` style: right-aligned 6-wide line numbers and a tab."""
    return "\n".join(f"{i:6}\t{line}" for i, line in enumerate(text.split("\n"), start))


class Editor:
    def __init__(self, root: Path, display_root: str, *, output_limit: int = DEFAULT_LIMIT):
        self.paths = PathMapper(root, display_root)
        self.output_limit = output_limit
        self.history: dict[Path, list[str]] = defaultdict(list)  # previous contents, per file

    # -- entry point --------------------------------------------------------------------------
    def run(self, args: dict[str, Any]) -> str:
        command = args.get("command")
        if command not in COMMANDS:
            raise ToolError(f"Unrecognized command {command!r}. The allowed commands for the str_replace_editor "
                            f"tool are: {', '.join(COMMANDS)}")
        path = self.paths.to_host(args.get("path", ""))
        shown = self.paths.to_display(path)
        if command == "view":
            out = self.view(path, shown, args.get("view_range"))
        elif command == "create":
            out = self.create(path, shown, args.get("file_text"))
        elif command == "str_replace":
            out = self.str_replace(path, shown, args.get("old_str"), args.get("new_str"))
        elif command == "insert":
            out = self.insert(path, shown, args.get("insert_line"), args.get("new_str"))
        else:
            out = self.undo_edit(path, shown)
        return clip(out, self.output_limit)

    # -- commands -----------------------------------------------------------------------------
    def view(self, path: Path, shown: str, view_range: Any = None) -> str:
        if path.is_dir():
            if view_range is not None:
                raise ToolError("The `view_range` parameter is not allowed when `path` points to a directory.")
            return (f"Here's the files and directories up to 2 levels deep in {shown}, excluding hidden items:\n"
                    + "\n".join(self._listing(path)))
        text = self._read(path, shown)
        lines = text.split("\n")
        start = 1
        if view_range is not None:
            if (not isinstance(view_range, list) or len(view_range) != 2
                    or not all(isinstance(x, int) and not isinstance(x, bool) for x in view_range)):
                raise ToolError("Invalid `view_range`. It should be a list of two integers.")
            first, last = view_range
            n = len(lines)
            if first < 1 or first > n:
                raise ToolError(f"Invalid `view_range`: {view_range}. Its first element `{first}` should be "
                                f"within the range of lines of the file: [1, {n}]")
            if last != -1 and last > n:
                raise ToolError(f"Invalid `view_range`: {view_range}. Its second element `{last}` should be "
                                f"smaller than the number of lines in the file: `{n}`")
            if last != -1 and last < first:
                raise ToolError(f"Invalid `view_range`: {view_range}. Its second element `{last}` should be "
                                f"larger or equal than its first `{first}`")
            lines = lines[first - 1:] if last == -1 else lines[first - 1:last]
            start = first
        return f"Here's the result of running `cat -n` on {shown}:\n" + numbered("\n".join(lines), start) + "\n"

    def create(self, path: Path, shown: str, file_text: Any) -> str:
        if not isinstance(file_text, str):
            raise ToolError("Parameter `file_text` is required for command: create")
        if path.exists():
            raise ToolError(f"File already exists at: {shown}. Cannot overwrite files using command `create`.")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(file_text)
        self.history[path].append("")  # undo of a create empties it (SWE-agent does the same)
        return f"File created successfully at: {shown}"

    def str_replace(self, path: Path, shown: str, old_str: Any, new_str: Any) -> str:
        if not isinstance(old_str, str) or old_str == "":
            raise ToolError("Parameter `old_str` is required for command: str_replace (a non-empty string)")
        if new_str is None:
            new_str = ""
        if not isinstance(new_str, str):
            raise ToolError("Parameter `new_str` must be a string")
        text = self._read(path, shown)
        count = text.count(old_str)
        if count == 0:
            raise ToolError(f"No replacement was performed, old_str `{old_str}` did not appear verbatim in {shown}.")
        if count > 1:
            starts, i = [], text.find(old_str)
            while i != -1:
                starts.append(text.count("\n", 0, i) + 1)
                i = text.find(old_str, i + 1)
            raise ToolError(f"No replacement was performed. Found {count} occurrences of old_str `{old_str}` in "
                            f"lines {starts}. Please ensure it is unique")
        self.history[path].append(text)
        new_text = text.replace(old_str, new_str, 1)
        path.write_text(new_text)
        line = text.split(old_str)[0].count("\n")
        return (f"The file {shown} has been edited. " + self._snippet(new_text, shown, line, new_str.count("\n"))
                + "Review the changes and make sure they are as expected. Edit the file again if necessary.")

    def insert(self, path: Path, shown: str, insert_line: Any, new_str: Any) -> str:
        if not isinstance(insert_line, int) or isinstance(insert_line, bool):
            raise ToolError("Parameter `insert_line` is required for command: insert (an integer)")
        if not isinstance(new_str, str):
            raise ToolError("Parameter `new_str` is required for command: insert")
        text = self._read(path, shown)
        lines = text.split("\n")
        if insert_line < 0 or insert_line > len(lines):
            raise ToolError(f"Invalid `insert_line` parameter: {insert_line}. It should be within the range of "
                            f"lines of the file: [0, {len(lines)}]")
        self.history[path].append(text)
        new_lines = new_str.split("\n")
        path.write_text("\n".join(lines[:insert_line] + new_lines + lines[insert_line:]))
        return (f"The file {shown} has been edited. "
                + self._snippet(path.read_text(), "a snippet of the edited file", insert_line, len(new_lines) - 1,
                                label_is_path=False)
                + "Review the changes and make sure they are as expected (correct indentation, no duplicate "
                  "lines, etc). Edit the file again if necessary.")

    def undo_edit(self, path: Path, shown: str) -> str:
        if not self.history.get(path):
            raise ToolError(f"No edit history found for {shown}.")
        previous = self.history[path].pop()
        path.write_text(previous)
        return f"Last edit to {shown} undone successfully. " + \
            f"Here's the result of running `cat -n` on {shown}:\n" + numbered(previous) + "\n"

    # -- helpers ------------------------------------------------------------------------------
    def _read(self, path: Path, shown: str) -> str:
        if not path.exists():
            raise ToolError(f"The path {shown} does not exist. Please provide a valid path.")
        if path.is_dir():
            raise ToolError(f"The path {shown} is a directory and only the `view` command can be used on "
                            f"directories")
        try:
            return path.read_text()
        except UnicodeDecodeError:
            raise ToolError(f"{shown} is not a UTF-8 text file") from None

    def _snippet(self, text: str, label: str, line: int, extra: int, *, label_is_path: bool = True) -> str:
        lines = text.split("\n")
        first = max(0, line - SNIPPET_LINES)
        last = min(len(lines), line + extra + SNIPPET_LINES + 1)
        what = f"a snippet of {label}" if label_is_path else label
        return (f"Here's the result of running `cat -n` on {what}:\n"
                + numbered("\n".join(lines[first:last]), first + 1) + "\n")

    def _listing(self, root: Path) -> list[str]:
        out = [self.paths.to_display(root)]
        for dirpath, dirnames, filenames in os.walk(root):
            depth = Path(dirpath).relative_to(root).parts
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            if len(depth) >= 2:
                dirnames[:] = []
            for name in sorted(dirnames) + sorted(f for f in filenames if not f.startswith(".")):
                p = Path(dirpath) / name
                if len(depth) < 2:
                    out.append(self.paths.to_display(p) if not p.is_symlink() else
                               f"{self.paths.display_root}/{p.relative_to(self.paths.real_root).as_posix()}")
        return out
