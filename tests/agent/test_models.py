"""Model clients: OpenAI-compatible parsing, retries and load balancing; Anthropic mapping; prices."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engine.agent import AgentConfig, run_rollout
from engine.loopback import error_reply, text_reply
from engine.models import ContextExceededError, ModelError, make_client
from engine.models.prices import PriceTable
from engine.models.reasoning import split_think
from engine.trajectory import Message, ToolCall
from store.rollouts import get_messages

USER = [Message(role="system", content="sys"), Message(role="user", content="hi")]


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content", "think"])
async def test_reasoning_in_each_form_is_separated_from_content(server, field: str) -> None:
    srv = server([text_reply("The answer.", reasoning="Let me think.", reasoning_field=field)])
    comp = await make_client("m", [srv.base_url]).complete(USER, None)
    assert comp.message.reasoning == "Let me think." and comp.message.content == "The answer."
    assert (comp.prompt_tokens, comp.completion_tokens) == (10, 5)


def test_split_think_variants() -> None:
    assert split_think("<think>a</think>\n\nb") == ("a", "b")
    assert split_think("only reasoning</think>answer") == ("only reasoning", "answer")  # tag opened by template
    assert split_think("plain") == (None, "plain")


def _dead_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connection refused
    return f"http://127.0.0.1:{port}/v1"


async def test_failing_endpoint_is_skipped_and_healthy_ones_share_the_load(server) -> None:
    a = server(lambda req: text_reply("a"))
    b = server(lambda req: text_reply("b"))
    client = make_client("m", [_dead_url(), a.base_url, b.base_url], max_retries=3, backoff_base_s=0.01,
                         cooldown_s=60)
    answers = [(await client.complete(USER, None)).message.content for _ in range(6)]
    dead = client.pool.endpoints[0]
    assert dead.requests == 1  # tried once, then cooled down
    assert len(a.requests) == 3 and len(b.requests) == 3
    assert answers.count("a") == 3 and answers.count("b") == 3


async def test_non_retryable_errors_fail_fast(server) -> None:
    srv = server([error_reply(401, "bad key", err_type="authentication_error")])
    with pytest.raises(ModelError, match="bad key"):
        await make_client("m", [srv.base_url], backoff_base_s=0.01).complete(USER, None)
    assert len(srv.requests) == 1
    srv = server([error_reply(400, "prompt is too long for this model")])
    with pytest.raises(ContextExceededError):
        await make_client("m", [srv.base_url], backoff_base_s=0.01).complete(USER, None)


async def test_cost_comes_from_the_price_table(server, tmp_path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[prices]\n"my-model" = { input = 2.0, output = 10.0 }\n')
    prices = PriceTable.from_config(cfg)
    srv = server([text_reply("x", prompt_tokens=1_000_000, completion_tokens=100_000),
                  text_reply("x", prompt_tokens=1000, completion_tokens=1000)])
    comp = await make_client("my-model", [srv.base_url], prices=prices).complete(USER, None)
    assert comp.cost == pytest.approx(2.0 + 1.0)
    comp = await make_client("some-local-model", [srv.base_url], prices=prices).complete(USER, None)
    assert comp.cost == 0.0  # unknown model: free, no crash
    assert PriceTable().cost("claude-sonnet-4-20250514", 1_000_000, 0) == pytest.approx(3.0)  # dated name
    assert PriceTable.from_config(tmp_path / "missing.toml").cost("nope", 5, 5) == 0.0


# -- Anthropic -----------------------------------------------------------------------------------
class MessagesServer:
    """A tiny Anthropic Messages API server: POST /v1/messages answers from a script."""

    def __init__(self, script: list[tuple[int, dict]]):
        self.script, self.requests = list(script), []
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                status, reply = outer.script.pop(0)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def amsg(content: list[dict], stop="tool_use", inp=12, out=7) -> tuple[int, dict]:
    return 200, {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "content": content,
                 "stop_reason": stop, "stop_sequence": None, "usage": {"input_tokens": inp, "output_tokens": out}}


@pytest.fixture
def messages_server():
    made = []

    def _make(script):
        s = MessagesServer(script)
        made.append(s)
        return s

    yield _make
    for s in made:
        s.stop()


async def test_anthropic_maps_thinking_tool_use_and_tool_results(messages_server) -> None:
    srv = messages_server([
        amsg([{"type": "thinking", "thinking": "check the file", "signature": "sig"},
              {"type": "text", "text": "Looking."},
              {"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {"command": "ls"}}]),
        (529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        amsg([{"type": "text", "text": "Done."}], stop="end_turn"),
    ])
    client = make_client("claude-sonnet-4-test", [srv.base_url], provider="anthropic", api_key="k",
                         backoff_base_s=0.01)
    comp = await client.complete(USER, [{"type": "function", "function": {
        "name": "bash", "description": "run", "parameters": {"type": "object", "properties": {}}}}])
    m = comp.message
    assert (m.reasoning, m.content) == ("check the file", "Looking.")
    assert m.tool_calls == [ToolCall("toolu_1", "bash", '{"command": "ls"}')]
    assert comp.prompt_tokens == 12 and comp.cost == pytest.approx((12 * 3 + 7 * 15) / 1e6)
    first = srv.requests[0]["body"]
    assert first["system"] == "sys" and first["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "hi"}]}]
    assert first["tools"][0]["input_schema"] == {"type": "object", "properties": {}}
    h = srv.requests[0]["headers"]
    assert h.get("x-api-key") == "k" or h.get("Authorization") == "Bearer k"
    history = USER + [m, Message(role="tool", content="a.py", tool_call_id="toolu_1", name="bash")]
    comp = await client.complete(history, None)  # the 529 is retried
    assert comp.message.content == "Done." and len(srv.requests) == 3
    sent = srv.requests[2]["body"]["messages"]
    assert sent[1]["role"] == "assistant" and sent[1]["content"][-1] == {
        "type": "tool_use", "id": "toolu_1", "name": "bash", "input": {"command": "ls"}}
    assert sent[2] == {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                                    "content": "a.py"}]}


async def test_anthropic_context_error_and_a_full_rollout(messages_server, py_repo, sandboxes, store) -> None:
    srv = messages_server([(400, {"type": "error", "error": {
        "type": "invalid_request_error", "message": "prompt is too long: 250000 tokens > 200000 maximum"}})])
    client = make_client("claude-x", [srv.base_url], provider="anthropic", api_key="k", backoff_base_s=0.01)
    with pytest.raises(ContextExceededError):
        await client.complete(USER, None)
    sb = sandboxes(py_repo)
    srv = messages_server([
        amsg([{"type": "tool_use", "id": "t1", "name": "bash", "input": {"command": "echo hi > hi.txt"}}]),
        amsg([{"type": "thinking", "thinking": "done", "signature": "s"},
              {"type": "tool_use", "id": "t2", "name": "submit", "input": {}}]),
    ])
    client = make_client("claude-x", [srv.base_url], provider="anthropic", api_key="k")
    result = await run_rollout(client=client, sandbox=sb, task_text="make hi.txt", config=AgentConfig(),
                               store=store)
    assert result.exit_reason == "submitted" and "+hi" in result.patch
    stored = get_messages(store, result.rollout_id)
    assert [m.role for m in stored] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert stored[4].reasoning == "done" and stored[3].tool_call_id == "t1"


async def test_demo_client_is_labelled_and_unknown_provider_refused() -> None:
    client = make_client("demo", provider="demo")
    assert client.label == "demo — not a language model"
    with pytest.raises(ValueError, match="unknown provider"):
        make_client("m", provider="bedrock")  # type: ignore[arg-type]
