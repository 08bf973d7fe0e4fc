"""--map-tools: the model sees its SWE-agent tools; Claude Code gets Read/Write/Edit/Bash calls."""

from __future__ import annotations

import json

import anthropic

from engine.loopback import tool_call_reply
from engine.proxy.tool_map import ToolMapper

CLAUDE_TOOLS = [{"name": n, "description": n, "input_schema": {"type": "object", "properties": {}}}
                for n in ("Read", "Write", "Edit", "Bash", "Glob", "Task", "WebFetch")]
SYSTEM = [{"type": "text", "text": "You are Claude Code.\nWorking directory: /home/u/proj\n",
           "cache_control": {"type": "ephemeral"}}]


def test_model_sees_swe_tools_and_claude_code_gets_read(proxy_for):
    url, upstream = proxy_for([
        tool_call_reply("str_replace_editor", {"command": "view", "path": "pkg/mod.py", "view_range": [3, 7]},
                        call_id="call_v"),
        tool_call_reply("str_replace_editor", {"command": "str_replace", "path": "/home/u/proj/pkg/mod.py",
                                               "old_str": "a = 1", "new_str": "a = 2"}, call_id="call_e"),
    ], map_tools=True)
    c = anthropic.Anthropic(base_url=url, api_key="k", max_retries=0)
    msgs = [{"role": "user", "content": "fix it"}]
    with c.messages.stream(model="m", max_tokens=64, system=SYSTEM, tools=CLAUDE_TOOLS, messages=msgs) as s:
        first = s.get_final_message()
    sent_tools = [t["function"]["name"] for t in upstream.requests[0]["tools"]]
    assert sent_tools == ["bash", "str_replace_editor", "submit"]  # Glob, Task, WebFetch… dropped
    use = first.content[0]
    assert first.stop_reason == "tool_use"
    assert (use.name, use.input) == ("Read", {"file_path": "/home/u/proj/pkg/mod.py", "offset": 3, "limit": 5})

    # Claude Code runs Read and sends back `     3→text` lines; the model gets cat -n lines.
    read_out = "     3→a = 1\n     4→b = 2\n"
    second = c.messages.create(model="m", max_tokens=64, system=SYSTEM, tools=CLAUDE_TOOLS, messages=msgs + [
        {"role": "assistant", "content": [use.model_dump()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": read_out}]}])
    edit = second.content[0]
    assert (edit.name, edit.input) == ("Edit", {"file_path": "/home/u/proj/pkg/mod.py", "old_string": "a = 1",
                                                "new_string": "a = 2"})
    history = upstream.requests[1]["messages"]
    assert history[2]["tool_calls"][0]["function"] == {
        "name": "str_replace_editor",
        "arguments": json.dumps({"command": "view", "path": "pkg/mod.py", "view_range": [3, 7]})}
    assert history[3]["content"] == ("Here's the result of running `cat -n` on /home/u/proj/pkg/mod.py:\n"
                                     "     3\ta = 1\n     4\tb = 2\n")


def test_submit_ends_the_turn_with_visible_text(proxy_for):
    url, _ = proxy_for([tool_call_reply("submit", {}, content="Done."), tool_call_reply("submit", {}, content=""),
                        tool_call_reply("submit", {}, content="")], map_tools=True)
    c = anthropic.Anthropic(base_url=url, api_key="k", max_retries=0)
    kw = dict(model="m", max_tokens=16, tools=CLAUDE_TOOLS, messages=[{"role": "user", "content": "x"}])
    msg = c.messages.create(**kw)
    assert msg.stop_reason == "end_turn" and [(b.type, b.text) for b in msg.content] == [("text", "Done.")]
    # Claude Code nudges the model again after an empty reply, so an empty submit still says something
    assert [b.text for b in c.messages.create(**kw).content] == ["Submitted."]
    with c.messages.stream(**kw) as s:
        final = s.get_final_message()
    assert [b.text for b in final.content] == ["Submitted."] and final.stop_reason == "end_turn"


def test_read_output_formats_become_cat_n():
    for claude_out in ("     3→a = 1\n     4→b = 2\n", "3\ta = 1\n4\tb = 2\n"):
        assert ToolMapper.result_to_swe("Read", claude_out) == "     3\ta = 1\n     4\tb = 2\n"


def test_mapping_rules_both_ways(tmp_path):
    m = ToolMapper(cwd=str(tmp_path))
    assert m.to_claude("1", "bash", '{"command": "ls"}') == ("Bash", {"command": "ls"})
    assert m.to_claude("2", "str_replace_editor", json.dumps(
        {"command": "create", "path": "new.py", "file_text": "x = 1\n"})) == (
        "Write", {"file_path": str(tmp_path / "new.py"), "content": "x = 1\n"})
    name, inp = m.to_claude("3", "str_replace_editor", json.dumps({"command": "view", "path": str(tmp_path)}))
    assert name == "Bash" and "-maxdepth 2" in inp["command"]
    # insert has no Claude Code tool: it becomes a small python edit run through Bash, and it works
    f = tmp_path / "f.txt"
    f.write_text("one\nthree\n")
    name, inp = m.to_claude("4", "str_replace_editor", json.dumps(
        {"command": "insert", "path": "f.txt", "insert_line": 1, "new_str": "two"}))
    import subprocess

    subprocess.run(["bash", "-c", inp["command"]], check=True, capture_output=True)
    assert f.read_text() == "one\ntwo\nthree\n"
    # back: remembered ids round-trip exactly; unknown ids use the rules
    assert m.to_swe("4", "Bash", inp)[0] == "str_replace_editor"
    fresh = ToolMapper()
    assert fresh.to_swe("x", "Edit", {"file_path": "/a", "old_string": "o", "new_string": "n"}) == (
        "str_replace_editor", json.dumps({"command": "str_replace", "path": "/a", "old_str": "o", "new_str": "n"}))
    assert fresh.to_swe("y", "Read", {"file_path": "/a", "offset": 10, "limit": 5})[1] == json.dumps(
        {"command": "view", "path": "/a", "view_range": [10, 14]})
