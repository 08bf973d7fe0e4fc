"""The transformers server answers the `openai` SDK with tool calls parsed from a tiny model's output."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from engine.serve.openai_app import create_app
from engine.serve.threaded import ServerThread
from engine.tools.schema import openai_tools

CALL = '<think>I should list the files.</think>\n<tool_call>\n{"name": "bash", "arguments": {"command": "ls -la"}}\n</tool_call>'


@pytest.fixture
def serve(forced_backend):
    servers = []

    def start(text: str):
        srv = ServerThread(create_app(forced_backend(text))).start()
        servers.append(srv)
        return openai.OpenAI(base_url=srv.url + "/v1", api_key="none", max_retries=0), srv.url

    yield start
    for s in servers:
        s.stop()


def test_tool_call_non_streaming(serve):
    client, _ = serve(CALL)
    r = client.chat.completions.create(model="tiny", tools=openai_tools(), max_tokens=64, messages=[
        {"role": "system", "content": "You are an agent."}, {"role": "user", "content": "list files"}])
    msg = r.choices[0].message
    assert r.choices[0].finish_reason == "tool_calls"
    assert len(msg.tool_calls) == 1
    call = msg.tool_calls[0]
    assert call.function.name == "bash" and json.loads(call.function.arguments) == {"command": "ls -la"}
    assert msg.model_extra["reasoning_content"] == "I should list the files."
    assert not msg.content
    assert r.usage.prompt_tokens > 50 and r.usage.completion_tokens > 5


def test_tool_call_streaming(serve):
    client, _ = serve(CALL)
    stream = client.chat.completions.create(model="tiny", tools=openai_tools(), max_tokens=64, stream=True,
                                            stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": "list files"}])
    reasoning, calls, finish, usage = "", [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for ch in chunk.choices:
            reasoning += (ch.delta.model_extra or {}).get("reasoning_content") or ""
            calls += ch.delta.tool_calls or []
            finish = ch.finish_reason or finish
    assert reasoning == "I should list the files."
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [("bash", {"command": "ls -la"})]
    assert finish == "tool_calls" and usage.completion_tokens > 5


def test_plain_text_streams_in_pieces_and_history_with_tool_calls_renders(serve):
    client, _ = serve("Hello world, the tests pass.")
    history = [
        {"role": "user", "content": "run tests"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "bash", "arguments": '{"command": "pytest"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "3 passed"},
    ]
    pieces = [c.choices[0].delta.content for c in client.chat.completions.create(
        model="tiny", tools=openai_tools(), messages=history, max_tokens=64, stream=True)
        if c.choices and c.choices[0].delta.content]
    assert "".join(pieces) == "Hello world, the tests pass." and len(pieces) > 3
    r = client.chat.completions.create(model="tiny", messages=history, max_tokens=64, stop=[", the"])
    assert r.choices[0].message.content == "Hello world" and r.choices[0].finish_reason == "stop"


def test_malformed_tool_call_stays_content(serve):
    client, _ = serve("<tool_call>not json</tool_call>")
    r = client.chat.completions.create(model="tiny", tools=openai_tools(), max_tokens=32,
                                       messages=[{"role": "user", "content": "x"}])
    assert r.choices[0].message.tool_calls is None
    assert r.choices[0].message.content == "<tool_call>not json</tool_call>"


def test_models_and_bad_requests(serve):
    client, url = serve("ok")
    assert [m.id for m in client.models.list().data] == ["tiny"]
    with pytest.raises(openai.BadRequestError, match="does not exist"):
        client.chat.completions.create(model="other", messages=[{"role": "user", "content": "x"}])
    r = httpx.post(url + "/v1/chat/completions", json={"messages": []})
    assert r.status_code == 400 and "messages" in r.json()["error"]["message"]
    r = httpx.post(url + "/v1/chat/completions", content=b"{oops")
    assert r.status_code == 400


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("choice,rest,args", [
    ("required", 'bash", "arguments": {"command": "ls"}}\n</tool_call>', {"command": "ls"}),
    ({"type": "function", "function": {"name": "bash"}}, '{"command": "pwd"}}\n</tool_call>', {"command": "pwd"}),
])
def test_tool_choice_required_or_named_puts_the_call_in_the_models_mouth(serve, choice, rest, args, stream):
    """The model only writes the rest of the call: its opening (and the name, when named) is ours."""
    client, _ = serve(rest)
    kw = dict(model="tiny", tools=openai_tools(), tool_choice=choice, max_tokens=64,
              messages=[{"role": "user", "content": "go"}])
    if stream:
        calls = [c for chunk in client.chat.completions.create(stream=True, **kw) for ch in chunk.choices
                 for c in ch.delta.tool_calls or []]
    else:
        calls = client.chat.completions.create(**kw).choices[0].message.tool_calls
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [("bash", args)]


def test_unusable_tool_choice_is_a_clear_400(serve):
    _, url = serve("ok")
    base = {"messages": [{"role": "user", "content": "x"}], "tools": openai_tools()}
    for choice, words in (({"type": "function", "function": {"name": "rm_rf"}}, "not among the request's tools"),
                          ("always", "tool_choice must be"), ("required", "needs tools")):
        body = dict(base, tool_choice=choice) if words != "needs tools" else {"messages": base["messages"],
                                                                              "tool_choice": choice}
        r = httpx.post(url + "/v1/chat/completions", json=body)
        assert r.status_code == 400 and words in r.json()["error"]["message"], r.text
