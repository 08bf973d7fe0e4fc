"""Turning a model's raw text into reasoning, content and tool calls (Hermes format).

Models trained on SERA data write `<think>…</think>` reasoning and `<tool_call>{json}</tool_call>`
blocks in plain text; vLLM's hermes parser does the same split. `TagStreamParser` does it
incrementally so a server can stream content and reasoning as the model writes them, holding back
only the few characters that might be the start of a tag.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
CALL_OPEN, CALL_CLOSE = "<tool_call>", "</tool_call>"


@dataclass
class ParsedCall:
    id: str
    name: str
    arguments: str  # JSON text


@dataclass
class ParsedOutput:
    content: str = ""
    reasoning: str = ""
    tool_calls: list[ParsedCall] = field(default_factory=list)


def _new_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def parse_tool_call(body: str) -> ParsedCall | None:
    """`{"name": …, "arguments": {…}}` -> a call; None when it is not one (left as content)."""
    try:
        obj = json.loads(body.strip())
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    args = obj.get("arguments", obj.get("parameters", {}))
    return ParsedCall(_new_call_id(), obj["name"], args if isinstance(args, str) else json.dumps(args))


def _partial_tag_len(text: str, tags: tuple[str, ...]) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of one of `tags`."""
    best = 0
    for tag in tags:
        for n in range(min(len(tag) - 1, len(text)), 0, -1):
            if text.endswith(tag[:n]):
                best = max(best, n)
                break
    return best


class TagStreamParser:
    """Feed text pieces; get (kind, text) events: kind is "content", "reasoning" or "tool_call".

    A tool_call event's text is the raw block body; an unparsable block is given back as content
    so nothing the model wrote is lost. `think_open=True` starts inside reasoning (templates that
    put `<think>` in the prompt, as Qwen3's does).
    """

    def __init__(self, *, think_open: bool = False, parse_tools: bool = True):
        self.mode = "reasoning" if think_open else "content"
        self.buf = ""
        self.parse_tools = parse_tools
        self.seen_content = False

    def feed(self, text: str) -> list[tuple[str, str]]:
        self.buf += text
        out: list[tuple[str, str]] = []
        while True:
            if self.mode == "content":
                tags = (THINK_OPEN, CALL_OPEN) if self.parse_tools else (THINK_OPEN,)
                hits = [(self.buf.find(t), t) for t in tags if t in self.buf]
                if hits:
                    pos, tag = min(hits)
                    self._emit(out, "content", self.buf[:pos])
                    self.buf = self.buf[pos + len(tag):]
                    self.mode = "reasoning" if tag == THINK_OPEN else "call"
                    continue
                keep = _partial_tag_len(self.buf, tags)
                self._emit(out, "content", self.buf[: len(self.buf) - keep])
                self.buf = self.buf[len(self.buf) - keep:]
                return out
            if self.mode == "reasoning":
                pos = self.buf.find(THINK_CLOSE)
                if pos >= 0:
                    self._emit(out, "reasoning", self.buf[:pos])
                    self.buf = self.buf[pos + len(THINK_CLOSE):].lstrip("\n")
                    self.mode = "content"
                    continue
                keep = _partial_tag_len(self.buf, (THINK_CLOSE,))
                self._emit(out, "reasoning", self.buf[: len(self.buf) - keep])
                self.buf = self.buf[len(self.buf) - keep:]
                return out
            # inside a tool call: wait for its end
            pos = self.buf.find(CALL_CLOSE)
            if pos < 0:
                return out
            out.append(("tool_call", self.buf[:pos]))
            self.buf = self.buf[pos + len(CALL_CLOSE):]
            self.mode = "content"

    def close(self) -> list[tuple[str, str]]:
        """End of output: flush what is held back (an unterminated tool call stays a call attempt)."""
        out: list[tuple[str, str]] = []
        rest, self.buf = self.buf, ""
        if self.mode == "call":
            out.append(("tool_call", rest))
        else:
            self._emit(out, self.mode, rest)
        return out

    def _emit(self, out: list[tuple[str, str]], kind: str, text: str) -> None:
        if text:
            out.append((kind, text))


def parse_output(text: str, *, think_open: bool = False, parse_tools: bool = True) -> ParsedOutput:
    """Whole-text form of TagStreamParser."""
    p = TagStreamParser(think_open=think_open, parse_tools=parse_tools)
    result = ParsedOutput()
    for kind, piece in p.feed(text) + p.close():
        if kind == "reasoning":
            result.reasoning += piece
        elif kind == "content":
            result.content += piece
        else:
            call = parse_tool_call(piece)
            if call is None:
                result.content += CALL_OPEN + piece + CALL_CLOSE
            else:
                result.tool_calls.append(call)
    result.content = result.content.strip() if result.tool_calls else result.content
    result.reasoning = result.reasoning.strip()
    return result
