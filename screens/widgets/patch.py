"""A unified diff with syntax colouring and recall highlighting.

Target (P1) lines matched in the produced patch are green, unmatched red; produced (P2) lines used as a
counterpart are green, P2 lines with no counterpart are dimmed. A gutter mark (✓ ✗ ·) repeats the
colour so the meaning survives monochrome terminals and colour-blind readers.
"""

from __future__ import annotations

from typing import Literal

from rich.style import Style
from rich.syntax import Syntax
from rich.text import Text
from textual.widgets import Static

Mark = Literal["matched", "unmatched", "unused"]

STYLES: dict[str, Style] = {  # dark themes
    "matched": Style(bgcolor="#1f4d2b"),
    "unmatched": Style(bgcolor="#5c1f24"),
    "unused": Style(dim=True),
}
LIGHT_STYLES: dict[str, Style] = {
    "matched": Style(bgcolor="#c9efd2"),
    "unmatched": Style(bgcolor="#f6cfd2"),
    "unused": Style(dim=True),
}
GUTTER = {"matched": "✓", "unmatched": "✗", "unused": "·", None: " "}
_LEXERS = {".py": "python", ".js": "javascript", ".ts": "typescript", ".tsx": "tsx", ".go": "go",
           ".rs": "rust", ".java": "java", ".rb": "ruby", ".c": "c", ".h": "c", ".cpp": "cpp",
           ".md": "markdown", ".toml": "toml", ".json": "json", ".yaml": "yaml", ".yml": "yaml",
           ".sh": "bash"}


def lexer_for(path: str | None) -> str:
    if not path:
        return "text"
    for ext, lexer in _LEXERS.items():
        if path.endswith(ext):
            return lexer
    return "text"


def marks_from_recall(lines, side: Literal["target", "produced"]) -> dict[int, Mark]:
    """Patch-line index -> mark, from engine.verify ChangedLine records of one side."""
    out: dict[int, Mark] = {}
    for ln in lines:
        if ln.matched:
            out[ln.index] = "matched"
        else:
            out[ln.index] = "unmatched" if side == "target" else "unused"
    return out


def render_patch(patch: str, marks: dict[int, Mark] | None = None, *, path: str | None = None,
                 dark: bool = True) -> Text:
    """The patch as rich Text: headers styled, code syntax-coloured, marked lines highlighted
    (colours chosen for a dark or a light background)."""
    marks = marks or {}
    theme = "monokai" if dark else "friendly"
    styles = STYLES if dark else LIGHT_STYLES
    lines = patch.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    # Highlight all code at once (one lexer pass), then split back into lines.
    code = "\n".join(ln[1:] if ln[:1] in "+- " and not _is_header(ln) else "" for ln in lines)
    lexer = lexer_for(path or _first_path(lines))
    highlighted = Syntax(code, lexer, theme=theme, background_color="default").highlight(code).split("\n")
    out = Text(no_wrap=True, end="")
    for i, ln in enumerate(lines):
        mark = marks.get(i)
        row = Text(GUTTER[mark] + " ", style="bold")
        if _is_header(ln):
            row.append(ln.rstrip("\r"), style="bold cyan" if ln.startswith("@@") else "bold")
        elif ln[:1] in "+- ":
            sign_style = {"+": "green", "-": "red", " ": ""}[ln[0]]
            row.append(ln[0], style=sign_style)
            body = highlighted[i] if i < len(highlighted) else Text(ln[1:])
            body.rstrip()
            row.append_text(body)
        else:
            row.append(ln, style="italic dim")
        if mark is not None:
            row.stylize(styles[mark])
        if i:
            out.append("\n")
        out.append_text(row)
    return out


def _is_header(line: str) -> bool:
    return line.startswith(("diff ", "--- ", "+++ ", "@@", "index ", "new file", "deleted file",
                            "rename ", "similarity ", "Binary files", "\\ No newline"))


def _first_path(lines: list[str]) -> str | None:
    for ln in lines:
        if ln.startswith("+++ ") and not ln.startswith("+++ /dev/null"):
            return ln[4:].strip().removeprefix("b/")
        if ln.startswith("--- ") and not ln.startswith("--- /dev/null"):
            return ln[4:].strip().removeprefix("a/")
    return None


class PatchView(Static):
    """Shows one patch; `marks` (patch-line index -> matched/unmatched/unused) drive the highlight."""

    DEFAULT_CSS = """
    PatchView { width: auto; min-width: 100%; height: auto; padding: 0 1 0 0; }
    """

    def __init__(self, patch: str = "", marks: dict[int, Mark] | None = None, *, path: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self.patch = patch
        self.marks: dict[int, Mark] = dict(marks or {})
        self.path = path
        self.rendered = Text("")

    def on_mount(self) -> None:
        self.show(self.patch, self.marks, path=self.path)
        self.watch(self.app, "theme", lambda _: self.show(self.patch, self.marks, path=self.path), init=False)

    def show(self, patch: str, marks: dict[int, Mark] | None = None, *, path: str | None = None) -> None:
        self.patch, self.marks, self.path = patch, dict(marks or {}), path
        if not patch.strip():
            self.rendered = Text("(empty patch)", style="italic dim")
        else:
            self.rendered = render_patch(patch, self.marks, path=path, dark=self.app.current_theme.dark)
        self.update(self.rendered)

    def lines_marked(self, mark: Mark) -> list[str]:
        """The patch lines carrying `mark` (what a reader sees highlighted that way)."""
        lines = self.patch.split("\n")
        return [lines[i] for i, m in sorted(self.marks.items()) if m == mark and i < len(lines)]
