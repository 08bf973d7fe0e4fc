"""Incremental translation of an OpenAI chat-completions stream into Anthropic SSE events.

Each upstream chunk is turned into events as soon as it arrives: text and reasoning are never
buffered beyond a possible partial `<think>` tag. Tool-call arguments stream as input_json_delta,
except in --map-tools mode where a call must be complete before it can be rewritten.
"""

from __future__ import annotations

import json
from typing import Any

from engine.proxy.tool_map import SUBMIT_TEXT
from engine.proxy.translate import STOP_REASONS, Translated, new_message_id, tool_use_id
from engine.serve.output_parser import TagStreamParser


def sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


class StreamTranslator:
    def __init__(self, tr: Translated):
        self.tr = tr
        self.index = -1
        self.block: str | None = None  # type of the open content block
        self.think = TagStreamParser(parse_tools=False)
        self.calls: dict[int, dict[str, Any]] = {}  # upstream tool-call index -> state
        self.finish: str | None = None
        self.usage: dict[str, Any] = {}
        self.submitted = False
        self.emitted_tool = False
        self.emitted_text = False

    def start(self, input_tokens: int = 0) -> list[dict[str, Any]]:
        return [
            {"type": "message_start", "message": {
                "id": new_message_id(), "type": "message", "role": "assistant", "model": self.tr.requested_model,
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": input_tokens, "output_tokens": 0}}},
            {"type": "ping"},
        ]

    # -- blocks --------------------------------------------------------------------------------
    def _open(self, kind: str, extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        out = self._close()
        self.index += 1
        self.block = kind
        block = {"type": kind, **({"text": ""} if kind == "text" else {}),
                 **({"thinking": "", "signature": ""} if kind == "thinking" else {}), **(extra or {})}
        out.append({"type": "content_block_start", "index": self.index, "content_block": block})
        return out

    def _close(self) -> list[dict[str, Any]]:
        if self.block is None:
            return []
        self.block = None
        return [{"type": "content_block_stop", "index": self.index}]

    def _delta(self, kind: str, text: str) -> list[dict[str, Any]]:
        out = [] if self.block == kind else self._open(kind)
        self.emitted_text = self.emitted_text or (kind == "text" and bool(text.strip()))
        field, dtype = ("text", "text_delta") if kind == "text" else ("thinking", "thinking_delta")
        out.append({"type": "content_block_delta", "index": self.index, "delta": {"type": dtype, field: text}})
        return out

    # -- chunks --------------------------------------------------------------------------------
    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning") or delta.get("reasoning_content")
            if reasoning:
                out += self._delta("thinking", reasoning)
            if delta.get("content"):
                for kind, text in self.think.feed(delta["content"]):
                    out += self._delta("text" if kind == "content" else "thinking", text)
            for tc in delta.get("tool_calls") or []:
                out += self._tool_delta(tc)
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]
        return out

    def _tool_delta(self, tc: dict[str, Any]) -> list[dict[str, Any]]:
        n = tc.get("index", len(self.calls))
        fn = tc.get("function") or {}
        state = self.calls.get(n)
        out: list[dict[str, Any]] = []
        if state is None:
            state = self.calls[n] = {"id": tool_use_id(tc.get("id")), "name": fn.get("name") or "", "args": ""}
            if self.tr.mapper is None:
                out += self._open("tool_use", {"id": state["id"], "name": state["name"], "input": {}})
                self.emitted_tool = True
        elif fn.get("name") and not state["name"]:
            state["name"] = fn["name"]
        piece = fn.get("arguments") or ""
        if piece:
            state["args"] += piece
            if self.tr.mapper is None:
                out.append({"type": "content_block_delta", "index": self.index,
                            "delta": {"type": "input_json_delta", "partial_json": piece}})
        return out

    def finish_events(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for kind, text in self.think.close():
            out += self._delta("text" if kind == "content" else "thinking", text)
        if self.tr.mapper is not None:
            for state in self.calls.values():
                mapped = self.tr.mapper.to_claude(state["id"], state["name"], state["args"])
                if mapped is None:
                    self.submitted = True
                    continue
                name, inp = mapped
                out += self._open("tool_use", {"id": state["id"], "name": name, "input": {}})
                out.append({"type": "content_block_delta", "index": self.index,
                            "delta": {"type": "input_json_delta", "partial_json": json.dumps(inp)}})
                self.emitted_tool = True
        if self.submitted and not self.emitted_tool and not self.emitted_text:
            out += self._delta("text", SUBMIT_TEXT)
        if self.index < 0:  # never an empty message: clients expect one block
            out += self._open("text")
        out += self._close()
        stop = "tool_use" if self.emitted_tool else STOP_REASONS.get(self.finish or "stop", "end_turn")
        if stop == "tool_use" and not self.emitted_tool:
            stop = "end_turn"
        out.append({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": {"output_tokens": int(self.usage.get("completion_tokens") or 0)}})
        out.append({"type": "message_stop"})
        return out
