"""Trajectory rendering: one widget per message, appended in batches while a rollout streams.

Reasoning sits in a collapsed Collapsible, tool calls show their arguments, observations are
clipped to a few lines and expand on Enter/click. The view follows the tail unless the reader
scrolled up.
"""

from __future__ import annotations

import json

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Collapsible, Static

from engine.trajectory import Message

CLIP_LINES = 6
ROLE_STYLE = {"system": "dim", "user": "bold yellow", "assistant": "bold cyan", "tool": "bold magenta"}


def format_arguments(arguments: str, limit: int = 400) -> str:
    """Tool-call arguments as `key=value` lines (the raw text when it is not a JSON object)."""
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError:
        return arguments[:limit]
    if not isinstance(value, dict):
        return arguments[:limit]
    parts = []
    for k, v in value.items():
        s = v if isinstance(v, str) else json.dumps(v)
        if len(s) > limit:
            s = s[:limit] + f"… (+{len(s) - limit} chars)"
        parts.append(f"{k}={s}" if "\n" not in s else f"{k}=\n{s}")
    return "\n".join(parts)


class ClippedText(Static, can_focus=True):
    """Long text shown as its first lines; Enter or a click toggles the full text."""

    BINDINGS = [Binding("enter", "toggle", "Expand", show=False)]
    DEFAULT_CSS = """
    ClippedText { height: auto; padding: 0 0 0 2; }
    ClippedText:focus { background: $boost; }
    """

    def __init__(self, text: str, clip: int = CLIP_LINES, classes: str | None = None) -> None:
        super().__init__("", classes=classes, markup=False)
        self.full = text
        self.clip = clip
        self.expanded = False
        self._n = text.count("\n") + 1

    @property
    def clipped(self) -> bool:
        return self._n > self.clip and not self.expanded

    def on_mount(self) -> None:
        self._render_text()

    def _render_text(self) -> None:
        if self._n <= self.clip or self.expanded:
            self.update(Text(self.full))
        else:
            head = "\n".join(self.full.split("\n")[: self.clip])
            t = Text(head)
            t.append(f"\n… {self._n - self.clip} more lines (Enter to expand)", style="italic dim")
            self.update(t)

    def action_toggle(self) -> None:
        self.expanded = not self.expanded
        self._render_text()

    def on_click(self) -> None:
        self.action_toggle()


class MessageView(Vertical):
    """One message of a trajectory."""

    DEFAULT_CSS = """
    MessageView { height: auto; margin: 0 0 1 0; }
    MessageView > .msg-head { height: 1; }
    MessageView > .msg-body { height: auto; padding: 0 0 0 2; }
    MessageView > .msg-call { height: auto; padding: 0 0 0 2; color: $accent; }
    MessageView Collapsible { padding: 0; margin: 0; border: none; }
    MessageView Collapsible Contents { padding: 0 0 0 2; }
    """

    def __init__(self, message: Message, index: int) -> None:
        super().__init__(classes=f"msg msg-{message.role}")
        self.message = message
        self.index = index

    def compose(self) -> ComposeResult:
        m = self.message
        head = Text(f"{self.index:>3} ", style="dim")
        head.append(m.role, style=ROLE_STYLE.get(m.role, ""))
        if m.role == "tool" and m.name:
            head.append(f" ← {m.name}", style="dim")
            if m.tool_error:
                head.append("  error", style="bold red")
        if m.tokens:
            head.append(f"  {m.tokens} tok", style="dim")
        yield Static(head, classes="msg-head")
        if m.role == "system":
            yield Collapsible(Static(m.content or "", markup=False), title="system prompt", collapsed=True)
            return
        if m.reasoning:
            yield Collapsible(Static(m.reasoning, markup=False), title="reasoning", collapsed=True,
                              classes="reasoning")
        if m.role == "tool":
            yield ClippedText(m.content or "", classes="observation")
        elif m.content:
            if m.role == "user":
                yield ClippedText(m.content, clip=12, classes="msg-body")
            else:
                yield Static(m.content, classes="msg-body", markup=False)
        for call in m.tool_calls:
            args = format_arguments(call.arguments)
            yield Static(f"[b]→ {escape(call.name)}[/b]" + (f"\n{escape(args)}" if args else ""),
                         classes="msg-call")


class TrajectoryView(VerticalScroll):
    """A rollout's messages. `append()` mounts a batch at once (one layout pass per batch)."""

    DEFAULT_CSS = """
    TrajectoryView { height: 1fr; }
    TrajectoryView > .traj-empty { color: $text-muted; }
    """

    def __init__(self, title: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = title
        self.count = 0
        self.rollout_id: int | None = None

    def reset(self, title: str | None = None, rollout_id: int | None = None,
              placeholder: str = "waiting for messages…") -> None:
        self.remove_children()
        self.count = 0
        self.rollout_id = rollout_id
        if title is not None:
            self.border_title = title
        self.mount(Static(placeholder, classes="traj-empty"))

    def append(self, messages: list[Message]) -> None:
        if not messages:
            return
        if self.count == 0:
            for w in self.query(".traj-empty"):
                w.remove()
        follow = self.is_vertical_scroll_end or self.max_scroll_y == 0
        views = [MessageView(m, self.count + i) for i, m in enumerate(messages)]
        self.count += len(messages)
        self.mount_all(views)
        if follow:
            self.call_after_refresh(self.scroll_end, animate=False)

    def set_messages(self, messages: list[Message], title: str | None = None,
                     rollout_id: int | None = None) -> None:
        self.reset(title, rollout_id, placeholder="no messages")
        self.append(messages)
