"""The whole chain a user runs: a served (tiny) model -> `sera proxy --map-tools` -> an Anthropic client.
The model writes its own SWE-agent call as Hermes text; the client receives Claude Code's Read."""

from __future__ import annotations

import anthropic
import pytest

from engine.proxy.app import ProxyConfig, create_app as proxy_app
from engine.serve.openai_app import create_app as serve_app
from engine.serve.threaded import ServerThread

VIEW = ('<think>Look first.</think><tool_call>\n{"name": "str_replace_editor", "arguments": '
        '{"command": "view", "path": "src/app.py", "view_range": [10, 19]}}\n</tool_call>')


@pytest.mark.parametrize("stream", [False, True])
def test_served_model_through_proxy(forced_backend, stream):
    with ServerThread(serve_app(forced_backend(VIEW))) as served, ServerThread(proxy_app(ProxyConfig(
            upstream=served.url + "/v1", model="tiny", map_tools=True))) as proxy:
        c = anthropic.Anthropic(base_url=proxy.url, api_key="k", max_retries=0)
        kw = dict(model="claude-test", max_tokens=128, messages=[{"role": "user", "content": "fix the bug"}],
                  system="Primary working directory: /home/u/proj",
                  tools=[{"name": n, "description": n, "input_schema": {"type": "object"}}
                         for n in ("Read", "Edit", "Bash", "Glob")])
        if stream:
            with c.messages.stream(**kw) as s:
                msg = s.get_final_message()
        else:
            msg = c.messages.create(**kw)
    assert [b.type for b in msg.content] == ["thinking", "tool_use"]
    assert msg.content[0].thinking == "Look first."
    assert (msg.content[1].name, msg.content[1].input) == (
        "Read", {"file_path": "/home/u/proj/src/app.py", "offset": 10, "limit": 10})
    assert msg.stop_reason == "tool_use" and msg.usage.output_tokens > 0
