"""Trajectory rendering: one widget per message, appended in batches while a rollout streams.

Each message is one widget: reasoning collapsed to a one-line summary, tool calls with their
arguments, observations clipped to a few lines; a click expands one, `e` all of a pane. The view follows the tail unless the reader
scrolled up.
"""

from __future__ import annotations

import json

from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import RichLog, Static

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


class MessageView(Static):
    """One message, drawn as a single widget (cheap to mount while many rollouts stream).

    Collapsed (the default): reasoning as a one-line "▶ reasoning" summary, observations and long
    prompts clipped to their first lines. A click expands it; `e` in the pane expands all.
    Not focusable on purpose: every new focusable widget makes Textual rebuild the footer, which
    is too slow at 16 streams.
    """

    DEFAULT_CSS = """
    MessageView { height: auto; margin: 0 0 1 0; }
    MessageView:hover { background: $boost; }
    """

    def __init__(self, message: Message, index: int) -> None:
        super().__init__("", classes=f"msg msg-{message.role}", markup=False)
        self.message = message
        self.index = index
        self.expanded = False

    @property
    def clipped(self) -> bool:
        """True when something is hidden (collapsed reasoning or clipped text)."""
        return not self.expanded and self.render_text().plain != self.render_text(expanded=True).plain

    def on_mount(self) -> None:
        self.update(self.render_text())

    def action_toggle(self) -> None:
        self.set_expanded(not self.expanded)

    def set_expanded(self, expanded: bool) -> None:
        if expanded != self.expanded:
            self.expanded = expanded
            self.update(self.render_text())

    def on_click(self) -> None:
        self.action_toggle()

    def render_text(self, expanded: bool | None = None) -> Text:
        return message_text(self.message, self.index, self.expanded if expanded is None else expanded)


def message_text(m: Message, index: int, expanded: bool = False) -> Text:
    """One message as rich Text (collapsed: reasoning summarized, long text clipped)."""
    t = Text(f"{index:>3} ", style="dim")
    t.append(m.role, style=ROLE_STYLE.get(m.role, ""))
    if m.role == "tool" and m.name:
        t.append(f" ← {m.name}", style="dim")
        if m.tool_error:
            t.append("  error", style="bold red")
    if m.tokens:
        t.append(f"  {m.tokens} tok", style="dim")
    if m.role == "system":
        _block(t, "system prompt", m.content or "", expanded)
        return t
    if m.reasoning:
        _block(t, "reasoning", m.reasoning, expanded, style="italic")
    if m.content:
        clip = None if expanded or m.role == "assistant" else (CLIP_LINES if m.role == "tool" else 12)
        _clipped(t, m.content, clip)
    for call in m.tool_calls:
        t.append(f"\n  → {call.name}", style="bold")
        args = format_arguments(call.arguments)
        if args:
            _clipped(t, args, None if expanded else 12, style="cyan")
    return t


def _block(t: Text, title: str, body: str, expanded: bool, style: str = "") -> None:
    if expanded:
        t.append(f"\n  ▼ {title}", style="bold dim")
        t.append("\n" + _indent(body), style=style)
    else:
        first = body.strip().split("\n", 1)[0]
        t.append(f"\n  ▶ {title}: ", style="bold dim")
        t.append(first[:60] + ("…" if len(first) > 60 or "\n" in body.strip() else ""), style="dim " + style)


def _clipped(t: Text, body: str, clip: int | None, style: str = "") -> None:
    lines = body.split("\n")
    shown = lines if clip is None or len(lines) <= clip else lines[:clip]
    t.append("\n" + _indent("\n".join(shown)), style=style)
    if len(shown) < len(lines):
        t.append(f"\n  … {len(lines) - len(shown)} more lines (e expands)", style="italic dim")


def _indent(text: str) -> str:
    return "\n".join("  " + ln for ln in text.split("\n"))


class TrajectoryView(VerticalScroll):
    """A rollout's messages. `append()` mounts a batch at once (one layout pass per batch)."""

    BINDINGS = [Binding("e", "expand_all", "Expand all")]

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

    def action_expand_all(self) -> None:
        views = list(self.query(MessageView))
        expand = not all(v.expanded for v in views)
        for v in views:
            v.set_expanded(expand)

    def set_messages(self, messages: list[Message], title: str | None = None,
                     rollout_id: int | None = None) -> None:
        self.reset(title, rollout_id, placeholder="no messages")
        self.append(messages)


class StreamPane(RichLog):
    """A live rollout: messages are appended as rendered lines (no widget per message, no relayout),
    so many streams stay cheap. `e` re-renders the pane with every message expanded."""

    BINDINGS = [Binding("e", "expand_all", "Expand all")]
    # A stable gutter: the wrap width must not change when the scrollbar appears mid-stream.
    DEFAULT_CSS = """
    StreamPane { height: 1fr; scrollbar-gutter: stable; }
    """

    def __init__(self, title: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, wrap=True, markup=False, auto_scroll=True, min_width=20)
        self.border_title = title
        self.messages: list[Message] = []
        self.rollout_id: int | None = None
        self.expanded = False

    @property
    def count(self) -> int:
        return len(self.messages)

    def reset(self, title: str | None = None, rollout_id: int | None = None,
              placeholder: str = "waiting for messages…") -> None:
        self.clear()
        self.messages = []
        self.rollout_id = rollout_id
        if title is not None:
            self.border_title = title
        if placeholder:
            self.write(Text(placeholder, style="dim italic"))

    def append(self, messages: list[Message]) -> None:
        if not messages:
            return
        if not self.messages:
            self.clear()  # drop the placeholder
        for m in messages:
            self.write(message_text(m, len(self.messages), self.expanded))
            self.write(Text(""))
            self.messages.append(m)

    def on_resize(self) -> None:
        # RichLog wraps each line once, at the width it had when written: re-wrap what is shown
        # when the terminal (or the pane) changes width.
        width = self.scrollable_content_region.width
        if getattr(self, "_wrapped_at", width) != width and self.messages:
            self._rewrite()
        self._wrapped_at = width

    def _rewrite(self) -> None:
        at_end = self.is_vertical_scroll_end
        msgs = self.messages
        self.clear()
        self.messages = []
        self.append(msgs)
        if at_end:
            self.scroll_end(animate=False)

    def set_messages(self, messages: list[Message], title: str | None = None,
                     rollout_id: int | None = None) -> None:
        self.reset(title, rollout_id, placeholder="no messages")
        self.append(messages)

    def action_expand_all(self) -> None:
        self.expanded = not self.expanded
        self._rewrite()

    def text(self) -> str:
        """What the pane shows, as plain text (for tests and bug reports)."""
        return "\n".join(strip.text for strip in self.lines)
