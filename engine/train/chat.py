"""Rendering an exported chat with the base model's own template, or a documented fallback.

The fallback is ChatML with Hermes tool calling (what SERA trained with through axolotl and what
vLLM's `--tool-call-parser hermes` parses back): tools listed in the system turn inside <tools>,
calls as <tool_call>{"name", "arguments"}</tool_call>, results as <tool_response> in a user turn,
reasoning as <think>…</think> at the start of the assistant turn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

CHATML_HERMES_TEMPLATE = (
    "{%- if tools %}"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0].role == 'system' %}{{- messages[0].content + '\\n\\n' }}{%- endif %}"
    "{{- '# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n"
    "You are provided with function signatures within <tools></tools> XML tags:\\n<tools>' }}"
    "{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}"
    "{{- '\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\"name\": <function-name>, \"arguments\": "
    "<args-json-object>}\\n</tool_call><|im_end|>\\n' }}"
    "{%- elif messages[0].role == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + (message.content or '') + '<|im_end|>\\n' }}"
    "{%- elif message.role == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if message.reasoning_content %}{{- '<think>\\n' + message.reasoning_content + '\\n</think>\\n\\n' }}"
    "{%- endif %}"
    "{{- message.content or '' }}"
    "{%- for tool_call in message.tool_calls or [] %}"
    "{%- set fn = tool_call.function if tool_call.function is defined else tool_call %}"
    "{%- if loop.first and not message.content %}{{- '<tool_call>\\n' }}{%- else %}{{- '\\n<tool_call>\\n' }}"
    "{%- endif %}"
    "{{- '{\"name\": \"' + fn.name + '\", \"arguments\": ' }}"
    "{%- if fn.arguments is string %}{{- fn.arguments }}{%- else %}{{- fn.arguments | tojson }}{%- endif %}"
    "{{- '}\\n</tool_call>' }}"
    "{%- endfor %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- elif message.role == 'tool' %}"
    "{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + (message.content or '') + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

_PROBE_TOOL = {"type": "function", "function": {
    "name": "probe_tool_zq", "description": "probe", "parameters": {
        "type": "object", "properties": {"arg_zq": {"type": "string"}}, "required": ["arg_zq"]}}}
_PROBE_MESSAGES = [
    {"role": "system", "content": "sys", "train": False},
    {"role": "user", "content": "hi", "train": False},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function", "function": {
        "name": "probe_tool_zq", "arguments": '{"arg_zq": "val_zq"}'}}], "train": True},
    {"role": "tool", "tool_call_id": "c1", "name": "probe_tool_zq", "content": "result_zq", "train": False},
    {"role": "assistant", "content": "done", "train": True},
]


@dataclass(frozen=True)
class ChatFormat:
    template: str
    source: str  # "model" | "chatml-hermes"
    arguments: str = "string"  # how tool-call arguments reach the template: "string" (JSON text) | "dict"
    warning: str | None = None


def to_template_messages(messages: list[dict[str, Any]], arguments: str = "string") -> list[dict[str, Any]]:
    """Export messages -> what HF chat templates expect.

    `train` is ours, not the template's; content null -> "". Tool-call arguments stay JSON strings
    (Qwen3 and Hermes templates print them as written) unless the template wants objects
    (arguments="dict": Qwen2.5/Llama-3 apply `tojson` and would double-encode a string); malformed
    arguments always stay as written.
    """
    out = []
    for m in messages:
        t = {k: v for k, v in m.items() if k != "train" and v is not None}
        t["content"] = m.get("content") or ""
        if m.get("tool_calls"):
            calls = []
            for c in m["tool_calls"]:
                fn = dict(c.get("function") or {})
                args = fn.get("arguments")
                if arguments == "dict" and isinstance(args, str):
                    try:
                        parsed = json.loads(args) if args.strip() else {}
                        if isinstance(parsed, dict):
                            fn["arguments"] = parsed
                    except json.JSONDecodeError:
                        pass
                elif arguments == "string" and not isinstance(args, str):
                    fn["arguments"] = json.dumps(args)
                calls.append({**c, "function": fn})
            t["tool_calls"] = calls
        elif "tool_calls" in t:
            del t["tool_calls"]
        out.append(t)
    return out


def render(tokenizer: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
           template: str, *, add_generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tools=tools, chat_template=template, tokenize=False,
                                         add_generation_prompt=add_generation_prompt)


def probe_arguments_form(tokenizer: Any, template: str | None) -> str | None:
    """"string" or "dict" when the template renders tool schemas, calls (arguments encoded once) and
    results; None when it cannot render tools."""
    if not template:
        return None
    for form in ("string", "dict"):
        try:
            text = render(tokenizer, to_template_messages(_PROBE_MESSAGES, form), [_PROBE_TOOL], template)
        except Exception:  # noqa: BLE001, S112 - a template error means "not this way"
            continue
        once = '"arg_zq": "val_zq"' in text.replace('":"', '": "')
        if once and "result_zq" in text and "done" in text and text.count("probe_tool_zq") >= 2:
            return form
    return None


def resolve_format(tokenizer: Any, choice: str = "auto") -> ChatFormat:
    own = getattr(tokenizer, "chat_template", None)
    if isinstance(own, dict):  # some tokenizers keep several named templates
        own = own.get("tool_use") or own.get("default")
    fallback = ChatFormat(CHATML_HERMES_TEMPLATE, "chatml-hermes", "string")
    if choice == "chatml":
        return fallback
    form = probe_arguments_form(tokenizer, own)
    if form is not None:
        return ChatFormat(own, "model", form)
    if choice == "model":
        why = "has no chat template" if not own else "cannot render tools"
        raise ValueError(f"the base model's tokenizer {why} (use --chat-template chatml or auto)")
    why = "has no chat template" if not own else "has a chat template that cannot render tools"
    return ChatFormat(CHATML_HERMES_TEMPLATE, "chatml-hermes", "string", warning=(
        f"the base model's tokenizer {why}; using the ChatML/Hermes fallback template "
        "(saved with the adapter so serving renders the same)"))
