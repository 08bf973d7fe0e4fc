"""Anthropic Messages requests -> OpenAI chat-completions requests, and whole responses back.

Streaming responses are translated in engine/proxy/stream.py.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from engine.proxy.errors import invalid
from engine.proxy.tool_map import SUBMIT_TEXT, ToolMapper, find_cwd, swe_tools
from engine.serve.output_parser import parse_output

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                "function_call": "tool_use", "content_filter": "refusal"}


@dataclass
class Translated:
    """An upstream request plus what is needed to translate its answer back."""

    body: dict[str, Any]
    requested_model: str
    mapper: ToolMapper | None = None
    stop_sequences: list[str] = field(default_factory=list)


def _text_of(content: Any, where: str) -> str:
    """Text of a string or list of text blocks (system prompts, tool results)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise invalid(f"{where}: expected a string or a list of content blocks")
    parts = []
    for block in content:
        if not isinstance(block, dict):
            raise invalid(f"{where}: content blocks must be objects")
        kind = block.get("type")
        if kind == "text":
            parts.append(str(block.get("text", "")))
        elif kind in ("image", "document"):
            raise invalid(f"{where}: {kind} content is not supported by this proxy (text-only upstream model)")
        else:
            raise invalid(f"{where}: unsupported content block type {kind!r}")
    return "\n".join(parts)


def to_openai(req: Any, *, upstream_model: str, map_tools: bool = False,
              memory: Any = None) -> Translated:
    """Validate an Anthropic /v1/messages body and build the chat-completions body."""
    if not isinstance(req, dict):
        raise invalid("request body must be a JSON object")
    model = req.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("model: field required (a string)")
    max_tokens = req.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise invalid("max_tokens: field required (a positive integer)")
    messages = req.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid("messages: field required (a non-empty list)")

    system_parts = [_text_of(req.get("system"), "system")]
    # Claude Code also sends role "system" turns inside messages; many chat templates accept a
    # system prompt only first, so they join the system prompt.
    for i, msg in enumerate(messages):
        if isinstance(msg, dict) and msg.get("role") == "system":
            system_parts.append(_text_of(msg.get("content"), f"messages.{i}.content"))
    system = "\n\n".join(p for p in system_parts if p)
    mapper = ToolMapper(find_cwd(system), memory) if map_tools else None
    out_msgs: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    names_by_id: dict[str, tuple[str, dict]] = {}  # tool_use id -> (claude name, input), for results

    for i, msg in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant", "system"):
            raise invalid(f"{where}: role must be 'user', 'assistant' or 'system'")
        if msg["role"] == "system":
            continue
        content = msg.get("content")
        if isinstance(content, str):
            out_msgs.append({"role": msg["role"], "content": content})
            continue
        if not isinstance(content, list):
            raise invalid(f"{where}.content: expected a string or a list of content blocks")
        if msg["role"] == "assistant":
            out_msgs.append(_assistant(content, where, mapper, names_by_id))
        else:
            out_msgs.extend(_user(content, where, mapper, names_by_id))

    body: dict[str, Any] = {"model": upstream_model, "messages": out_msgs, "max_tokens": max_tokens}
    for key in ("temperature", "top_p"):
        if req.get(key) is not None:
            body[key] = req[key]
    stops = req.get("stop_sequences") or []
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise invalid("stop_sequences: expected a list of strings")
    if stops:
        body["stop"] = stops
    tools = req.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise invalid("tools: expected a list")
    if map_tools:
        # The model sees the tools it was trained on; Claude Code's other tools are dropped.
        if tools:
            body["tools"] = swe_tools()
    elif tools:
        body["tools"] = [_tool(t, f"tools.{n}") for n, t in enumerate(tools) if _is_client_tool(t)]
    choice = req.get("tool_choice")
    if body.get("tools") and isinstance(choice, dict):
        kind = choice.get("type")
        if kind == "any":
            body["tool_choice"] = "required"
        elif kind == "none":
            body["tool_choice"] = "none"
        elif kind == "tool" and not map_tools:
            body["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    return Translated(body, model, mapper, stops)


def _is_client_tool(t: Any) -> bool:
    # Server tools (web_search_2025…, code_execution…) carry a versioned type and no input_schema.
    return isinstance(t, dict) and (t.get("type") in (None, "custom") or "input_schema" in t)


def _tool(t: Any, where: str) -> dict[str, Any]:
    if not isinstance(t.get("name"), str):
        raise invalid(f"{where}.name: field required")
    return {"type": "function", "function": {
        "name": t["name"], "description": t.get("description", ""),
        "parameters": t.get("input_schema") or {"type": "object", "properties": {}}}}


def _assistant(blocks: list, where: str, mapper: ToolMapper | None,
               names_by_id: dict[str, tuple[str, dict]]) -> dict[str, Any]:
    text, calls = [], []
    for j, b in enumerate(blocks):
        if not isinstance(b, dict):
            raise invalid(f"{where}.content.{j}: content blocks must be objects")
        kind = b.get("type")
        if kind == "text":
            text.append(str(b.get("text", "")))
        elif kind in ("thinking", "redacted_thinking"):
            continue  # chat templates drop past reasoning; vLLM ignores it
        elif kind == "tool_use":
            call_id, name, inp = b.get("id"), b.get("name"), b.get("input", {})
            if not isinstance(call_id, str) or not isinstance(name, str) or not isinstance(inp, dict):
                raise invalid(f"{where}.content.{j}: tool_use needs id, name and an object input")
            names_by_id[call_id] = (name, inp)
            if mapper is not None:
                name, args = mapper.to_swe(call_id, name, inp)
            else:
                args = json.dumps(inp)
            calls.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": args}})
        elif kind in ("image", "document"):
            raise invalid(f"{where}.content.{j}: {kind} content is not supported by this proxy")
        else:
            raise invalid(f"{where}.content.{j}: unsupported content block type {kind!r}")
    out: dict[str, Any] = {"role": "assistant", "content": "".join(text)}
    if calls:
        out["tool_calls"] = calls
    return out


def _user(blocks: list, where: str, mapper: ToolMapper | None,
          names_by_id: dict[str, tuple[str, dict]]) -> list[dict[str, Any]]:
    # Tool results must directly follow the assistant turn that called them, so they go first.
    results, text = [], []
    for j, b in enumerate(blocks):
        if not isinstance(b, dict):
            raise invalid(f"{where}.content.{j}: content blocks must be objects")
        kind = b.get("type")
        if kind == "tool_result":
            call_id = b.get("tool_use_id")
            if not isinstance(call_id, str):
                raise invalid(f"{where}.content.{j}: tool_result needs tool_use_id")
            body = _text_of(b.get("content"), f"{where}.content.{j}.content")
            if b.get("is_error") and not body.startswith("Error"):
                body = f"Error: {body}"
            if mapper is not None:
                claude_name, inp = names_by_id.get(call_id, (None, {}))
                body = mapper.result_to_swe(claude_name, body, inp.get("file_path"))
            results.append({"role": "tool", "tool_call_id": call_id, "content": body})
        elif kind == "text":
            text.append(str(b.get("text", "")))
        elif kind in ("image", "document"):
            raise invalid(f"{where}.content.{j}: {kind} content is not supported by this proxy "
                          "(the upstream model is text-only)")
        else:
            raise invalid(f"{where}.content.{j}: unsupported content block type {kind!r}")
    out = results
    if text:
        out.append({"role": "user", "content": "\n".join(text)})
    return out


def new_message_id() -> str:
    return "msg_" + uuid.uuid4().hex[:24]


def tool_use_id(upstream_id: str | None) -> str:
    return upstream_id or "toolu_" + uuid.uuid4().hex[:24]


def from_openai(resp: dict[str, Any], tr: Translated) -> dict[str, Any]:
    """A whole chat.completion -> an Anthropic `message`."""
    choice = (resp.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    reasoning = msg.get("reasoning") or msg.get("reasoning_content") or ""
    content = msg.get("content") or ""
    if "<think>" in content or "</think>" in content:
        parsed = parse_output(content, think_open="<think>" not in content, parse_tools=False)
        reasoning, content = reasoning or parsed.reasoning, parsed.content.lstrip("\n")
    blocks: list[dict[str, Any]] = []
    if reasoning:
        blocks.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    if content:
        blocks.append({"type": "text", "text": content})
    stop = STOP_REASONS.get(choice.get("finish_reason") or "stop", "end_turn")
    submitted = False
    for call in msg.get("tool_calls") or []:
        fn = call.get("function") or {}
        cid = tool_use_id(call.get("id"))
        name, args = fn.get("name", ""), fn.get("arguments") or "{}"
        if tr.mapper is not None:
            mapped = tr.mapper.to_claude(cid, name, args)
            if mapped is None:
                submitted = True
                continue
            name, inp = mapped
        else:
            try:
                inp = json.loads(args) if args.strip() else {}
            except json.JSONDecodeError:
                inp = {"_raw_arguments": args}
        blocks.append({"type": "tool_use", "id": cid, "name": name, "input": inp})
    has_tool = any(b["type"] == "tool_use" for b in blocks)
    if submitted and not has_tool and not any(b["type"] == "text" for b in blocks):
        blocks.append({"type": "text", "text": SUBMIT_TEXT})
    if has_tool:
        stop = "tool_use"
    elif stop == "tool_use" or submitted:
        stop = "end_turn"
    stop_seq = None  # OpenAI-compatible servers do not say which stop string matched
    usage = resp.get("usage") or {}
    return {
        "id": new_message_id(), "type": "message", "role": "assistant", "model": tr.requested_model,
        "content": blocks or [{"type": "text", "text": ""}], "stop_reason": stop, "stop_sequence": stop_seq,
        "usage": {"input_tokens": int(usage.get("prompt_tokens") or 0),
                  "output_tokens": int(usage.get("completion_tokens") or 0)},
    }


def count_tokens(req: Any, *, map_tools: bool = False) -> int:
    """Token estimate for /v1/messages/count_tokens: ~4 characters per token over what is sent."""
    if isinstance(req, dict) and "max_tokens" not in req:
        req = dict(req, max_tokens=1)
    tr = to_openai(req, upstream_model="count", map_tools=map_tools)
    text = json.dumps(tr.body["messages"]) + json.dumps(tr.body.get("tools") or [])
    return max(1, (len(text) + 3) // 4)
