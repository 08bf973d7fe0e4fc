"""The proxy answers the official `anthropic` SDK from a scripted OpenAI-compatible upstream."""

from __future__ import annotations

import anthropic
import httpx
import pytest

from engine.loopback import text_reply, tool_call_reply

WEATHER = {"name": "get_weather", "description": "weather for a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def client(url: str, key: str = "k") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key=key, max_retries=0)


def test_non_streaming_text_with_reasoning_and_system_blocks(proxy_for):
    url, upstream = proxy_for([text_reply("Hello there", reasoning="user greets", prompt_tokens=12,
                                          completion_tokens=3)])
    msg = client(url).messages.create(
        model="claude-test", max_tokens=64,
        system=[{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "hi"}])
    assert [b.type for b in msg.content] == ["thinking", "text"]
    assert msg.content[0].thinking == "user greets" and msg.content[1].text == "Hello there"
    assert msg.stop_reason == "end_turn" and msg.model == "claude-test"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (12, 3)
    sent = upstream.requests[0]
    assert sent["model"] == "student"
    assert sent["messages"] == [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "hi"}]


def test_think_tags_in_content_become_thinking(proxy_for):
    url, _ = proxy_for([text_reply("42", reasoning="6*7", reasoning_field="think")])
    msg = client(url).messages.create(model="m", max_tokens=16, messages=[{"role": "user", "content": "q"}])
    assert [(b.type, getattr(b, "thinking", None) or getattr(b, "text", None)) for b in msg.content] == [
        ("thinking", "6*7"), ("text", "42")]


def test_streaming_is_incremental_and_complete(proxy_for):
    long = "word " * 40
    url, _ = proxy_for([text_reply(long, reasoning="thinking hard about it", reasoning_field="think")])
    with client(url).messages.stream(model="m", max_tokens=64,
                                     messages=[{"role": "user", "content": "go"}]) as stream:
        events = list(stream)
        final = stream.get_final_message()
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    deltas = [e for e in events if e.type == "content_block_delta"]
    # the upstream sent 16-char chunks: many deltas, not one buffered block
    assert sum(1 for d in deltas if d.delta.type == "text_delta") >= 10
    assert any(d.delta.type == "thinking_delta" for d in deltas)
    assert final.content[0].thinking == "thinking hard about it"
    assert final.content[1].text == long and final.stop_reason == "end_turn"


def test_raw_sse_has_ping_and_beta_query_accepted(proxy_for):
    url, _ = proxy_for([text_reply("ok")])
    r = httpx.post(f"{url}/v1/messages?beta=true", headers={"x-api-key": "k", "anthropic-beta": "made-up-2099"},
                   json={"model": "m", "max_tokens": 8, "stream": True,
                         "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    names = [line[7:] for line in r.text.splitlines() if line.startswith("event: ")]
    assert names[:2] == ["message_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    assert "content_block_start" in names and "content_block_stop" in names


@pytest.mark.parametrize("stream", [False, True])
def test_tool_use_round_trip(proxy_for, stream):
    url, upstream = proxy_for([
        tool_call_reply("get_weather", {"city": "Paris"}, content="Let me check.", call_id="call_w1"),
        text_reply("It is sunny in Paris."),
    ])
    c = client(url)
    msgs = [{"role": "user", "content": "Weather in Paris?"}]
    if stream:
        with c.messages.stream(model="m", max_tokens=64, tools=[WEATHER], messages=msgs) as s:
            events = list(s)
            first = s.get_final_message()
        assert any(e.type == "content_block_delta" and e.delta.type == "input_json_delta" for e in events)
    else:
        first = c.messages.create(model="m", max_tokens=64, tools=[WEATHER], messages=msgs)
    assert first.stop_reason == "tool_use"
    use = [b for b in first.content if b.type == "tool_use"][0]
    assert (use.id, use.name, use.input) == ("call_w1", "get_weather", {"city": "Paris"})
    second = c.messages.create(model="m", max_tokens=64, tools=[WEATHER], messages=msgs + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny, 21C"},
                                     {"type": "text", "text": "and?"}]},
    ])
    assert second.content[0].text == "It is sunny in Paris."
    sent = upstream.requests[1]
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["messages"][1]["tool_calls"][0]["function"] == {"name": "get_weather",
                                                                "arguments": '{"city": "Paris"}'}
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": "call_w1", "content": "sunny, 21C"}
    assert sent["messages"][3] == {"role": "user", "content": "and?"}


def test_count_tokens_and_models(proxy_for):
    url, upstream = proxy_for([])
    c = client(url)
    small = c.messages.count_tokens(model="m", messages=[{"role": "user", "content": "hi"}])
    big = c.messages.count_tokens(model="m", messages=[{"role": "user", "content": "hello world " * 200}],
                                  tools=[WEATHER])
    assert 0 < small.input_tokens < big.input_tokens
    assert [m.id for m in c.models.list().data] == ["student"]
    assert upstream.requests == []  # answered locally


def test_api_key_refused_without_or_with_wrong_key(proxy_for):
    url, upstream = proxy_for([text_reply("secret")], api_key="s3cret")
    for bad in ("", "wrong"):
        with pytest.raises(anthropic.AuthenticationError) as err:
            client(url, bad or "none").messages.create(model="m", max_tokens=8,
                                                       messages=[{"role": "user", "content": "x"}])
        assert err.value.body["error"]["type"] == "authentication_error"
    assert httpx.get(f"{url}/v1/models").status_code == 401
    assert upstream.requests == []
    ok = anthropic.Anthropic(base_url=url, auth_token="s3cret", api_key=None, max_retries=0)
    assert ok.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "x"}]).content[0].text \
        == "secret"


@pytest.mark.parametrize("body,needle", [
    (b"{not json", "not valid JSON"),
    (b"[]", "JSON object"),
    (b'{"model":"m","messages":[{"role":"user","content":"x"}]}', "max_tokens"),
    (b'{"model":"m","max_tokens":5,"messages":[]}', "messages"),
    (b'{"model":"m","max_tokens":5,"messages":[{"role":"robot","content":"x"}]}', "role"),
])
def test_malformed_requests_get_anthropic_errors(proxy_for, body, needle):
    url, upstream = proxy_for([])
    r = httpx.post(f"{url}/v1/messages", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400
    err = r.json()
    assert err["type"] == "error" and err["error"]["type"] == "invalid_request_error"
    assert needle in err["error"]["message"]
    assert upstream.requests == []


def test_malformed_via_sdk_and_oversized(proxy_for):
    url, _ = proxy_for([], max_body_bytes=2000)
    with pytest.raises(anthropic.BadRequestError, match="max_tokens"):
        client(url).messages.create(model="m", max_tokens=0, messages=[{"role": "user", "content": "x"}])
    r = httpx.post(f"{url}/v1/messages", json={"model": "m", "max_tokens": 5,
                                               "messages": [{"role": "user", "content": "x" * 5000}]})
    assert r.status_code == 413 and r.json()["error"]["type"] == "request_too_large"


def test_images_rejected_clearly(proxy_for):
    url, upstream = proxy_for([text_reply("never")])
    with pytest.raises(anthropic.BadRequestError) as err:
        client(url).messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "text", "text": "what is this?"}]}])
    assert "image content is not supported" in err.value.body["error"]["message"]
    assert upstream.requests == []


def test_upstream_error_becomes_anthropic_error(proxy_for):
    from engine.loopback import context_length_reply

    url, _ = proxy_for([context_length_reply()])
    with pytest.raises(anthropic.BadRequestError, match="maximum context length"):
        client(url).messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "x"}])


def test_system_role_turns_join_the_system_prompt(proxy_for):
    # Claude Code sends {"role": "system"} turns inside `messages`.
    url, upstream = proxy_for([text_reply("ok")])
    r = httpx.post(f"{url}/v1/messages", json={"model": "m", "max_tokens": 8, "system": "top", "messages": [
        {"role": "user", "content": "hi"}, {"role": "system", "content": "agent types: none"}]})
    assert r.status_code == 200
    assert upstream.requests[0]["messages"] == [{"role": "system", "content": "top\n\nagent types: none"},
                                                {"role": "user", "content": "hi"}]


def test_unreachable_upstream_is_an_api_error():
    from engine.proxy.app import ProxyConfig, create_app
    from engine.serve.threaded import ServerThread, free_port

    with ServerThread(create_app(ProxyConfig(upstream=f"http://127.0.0.1:{free_port()}/v1", model="m"))) as p:
        for stream in (False, True):
            r = httpx.post(f"{p.url}/v1/messages", json={"model": "m", "max_tokens": 8, "stream": stream,
                                                         "messages": [{"role": "user", "content": "x"}]}, timeout=30)
            assert r.status_code == 502
            assert r.json()["error"]["type"] == "api_error" and "upstream unreachable" in r.json()["error"]["message"]
