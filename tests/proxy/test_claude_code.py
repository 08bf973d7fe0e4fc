"""Claude Code itself, driven through the proxy against a scripted upstream (skipped when not installed).

Install with `npm install -g @anthropic-ai/claude-code`, or point SERA_CLAUDE_BIN at the binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from engine.loopback import ScriptedOpenAIServer, text_reply, tool_call_reply
from engine.proxy.app import ProxyConfig, create_app
from engine.serve.threaded import ServerThread

CLAUDE = os.environ.get("SERA_CLAUDE_BIN") or shutil.which("claude")
pytestmark = pytest.mark.skipif(not CLAUDE, reason="Claude Code (`claude`) is not installed")


@pytest.mark.parametrize("map_tools", [False, True])
def test_claude_code_runs_a_tool_call_through_the_proxy(tmp_path, map_tools):
    target = tmp_path / "x"
    seen: list[dict] = []

    def responder(req):
        seen.append(req)
        if req["messages"][-1]["role"] == "tool":
            return text_reply(f"Done, tool said: {req['messages'][-1]['content'].strip()}")
        name = "bash" if map_tools else "Bash"
        return tool_call_reply(name, {"command": f"echo hi > {target} && cat {target}"})

    with ScriptedOpenAIServer(responder, model="student") as up, ServerThread(create_app(ProxyConfig(
            upstream=up.base_url, model="student", map_tools=map_tools, api_key="k"))) as proxy:
        env = dict(os.environ, ANTHROPIC_BASE_URL=proxy.url, ANTHROPIC_API_KEY="k", IS_SANDBOX="1",
                   CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS="1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
                   DISABLE_TELEMETRY="1", HOME=str(tmp_path / "home"))
        (tmp_path / "home").mkdir()
        done = subprocess.run([CLAUDE, "-p", f"write hi into {target}", "--dangerously-skip-permissions"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert target.read_text() == "hi\n"
    assert "Done, tool said: hi" in done.stdout
    assert seen[-1]["messages"][-1] == {"role": "tool", "tool_call_id": seen[-1]["messages"][-2]["tool_calls"][0]["id"],
                                        "content": "hi"}
    tools = {t["function"]["name"] for t in seen[0]["tools"]}
    assert tools == {"bash", "str_replace_editor", "submit"} if map_tools else {"Bash", "Read", "Edit", "Write"} <= tools


def test_claude_code_edits_a_file_with_mapped_swe_agent_tools(tmp_path):
    """create -> Write, view -> Read (cat -n back), str_replace -> Edit, submit -> end of turn."""
    target = tmp_path / "y.py"
    steps = [("str_replace_editor", {"command": "create", "path": "y.py", "file_text": "def f():\n    return 1\n"}),
             ("str_replace_editor", {"command": "view", "path": str(target)}),
             ("str_replace_editor", {"command": "str_replace", "path": str(target), "old_str": "return 1",
                                     "new_str": "return 2"}),
             ("submit", {})]
    seen: list[dict] = []

    def responder(req):
        seen.append(req)
        n_tool = sum(1 for m in req["messages"] if m["role"] == "tool")
        return tool_call_reply(*steps[min(n_tool, len(steps) - 1)])

    with ScriptedOpenAIServer(responder, model="student") as up, ServerThread(create_app(ProxyConfig(
            upstream=up.base_url, model="student", map_tools=True))) as proxy:
        env = dict(os.environ, ANTHROPIC_BASE_URL=proxy.url, ANTHROPIC_API_KEY="k", IS_SANDBOX="1",
                   CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS="1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
                   DISABLE_TELEMETRY="1", HOME=str(tmp_path / "home"))
        (tmp_path / "home").mkdir()
        done = subprocess.run([CLAUDE, "-p", "make f return 2", "--dangerously-skip-permissions"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert target.read_text() == "def f():\n    return 2\n"
    assert done.stdout.strip() == "Submitted."
    view_result = seen[2]["messages"][-1]["content"]
    assert view_result.startswith(f"Here's the result of running `cat -n` on {target}:\n     1\tdef f():")
    # the model's own calls come back in the history unchanged (relative path included)
    assert seen[-1]["messages"][2]["tool_calls"][0]["function"]["arguments"] == \
        '{"command": "create", "path": "y.py", "file_text": "def f():\\n    return 1\\n"}'
