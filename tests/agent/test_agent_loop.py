"""The agent loop against a real HTTP server on 127.0.0.1 replaying scripted OpenAI responses.

Each test asserts the trajectory recorded in the store (not just the return value) and the exit reason.
"""

from __future__ import annotations

import asyncio
import time

from engine.agent import AgentConfig, run_rollout
from engine.events import EventBus, MessageAdded, RolloutFinished, RolloutStarted
from engine.loopback import Reply, context_length_reply, error_reply, text_reply, tool_call_reply
from engine.models import make_client
from engine.tools.schema import openai_tools
from store.rollouts import get_messages, get_rollout


def client_for(srv, **kw):
    kw.setdefault("max_retries", 3)
    kw.setdefault("backoff_base_s", 0.01)
    return make_client("scripted", [srv.base_url], **kw)


async def go(srv, sb, store, task="Fix `total` in `pkg/mod.py`.", client=None, **cfg):
    return await run_rollout(client=client or client_for(srv), sandbox=sb, task_text=task,
                             config=AgentConfig(**cfg), store=store)


def roles(messages):
    return [m.role for m in messages]


async def test_tool_calls_and_each_reasoning_form_are_recorded(py_repo, sandboxes, server, store) -> None:
    sb = sandboxes(py_repo)
    path = f"{sb.display_root}/pkg/mod.py"
    srv = server([
        tool_call_reply("bash", {"command": "echo hello from $PWD"}, reasoning="look around",
                        reasoning_field="reasoning", call_id="c1"),
        tool_call_reply("str_replace_editor", {"command": "view", "path": path, "view_range": [15, 16]},
                        reasoning="read total", reasoning_field="reasoning_content", call_id="c2"),
        tool_call_reply("str_replace_editor", {"command": "str_replace", "path": path,
                                               "old_str": "return sum(values)", "new_str": "return sum(values or [])"},
                        content="Editing now.", reasoning="guard empty input", reasoning_field="think",
                        call_id="c3"),
        tool_call_reply("submit", {}, call_id="c4"),
    ])
    result = await go(srv, sb, store)
    assert result.exit_reason == "submitted" and result.error is None
    assert "+    return sum(values or [])" in result.patch
    stored = get_messages(store, result.rollout_id)
    assert roles(stored) == ["system", "user"] + ["assistant", "tool"] * 4
    assert [m.reasoning for m in stored if m.role == "assistant"] == \
        ["look around", "read total", "guard empty input", None]
    assert stored[6].content == "Editing now."  # <think> removed from content
    assert stored[3].tool_call_id == "c1" and stored[3].name == "bash"
    assert f"hello from {sb.display_root}" in stored[3].content
    assert "    15\tdef total(values):" in stored[5].content
    assert stored[9].name == "submit" and "+    return sum(values or [])" in stored[9].content
    a = stored[2]
    assert a.prompt_tokens == 10 and a.completion_tokens == 5 and a.model_latency_ms > 0
    assert stored[3].tool_time_ms > 0 and stored[3].tokens > 0
    row = get_rollout(store, result.rollout_id)
    assert (row.status, row.exit_reason, row.steps, row.prompt_tokens, row.completion_tokens) == \
        ("finished", "submitted", 4, 40, 20)
    assert row.patch == result.patch and row.patch_lines == 2
    # what went over the wire: the tool schema, and the tool results tied to their calls
    assert srv.requests[0]["tools"] == openai_tools()
    assert srv.requests[0]["temperature"] == 0.6
    sent = srv.requests[1]["messages"]
    assert sent[2]["tool_calls"][0]["id"] == "c1" and sent[3] == {
        "role": "tool", "content": stored[3].content, "tool_call_id": "c1", "name": "bash"}


async def test_bad_tool_calls_get_error_observations_and_the_loop_goes_on(py_repo, sandboxes, server, store):
    sb = sandboxes(py_repo)
    srv = server([
        tool_call_reply("bash", '{"command": "ls"'),  # malformed JSON
        tool_call_reply("python", {"code": "print(1)"}),  # unknown tool
        tool_call_reply("bash", {}),  # missing required argument
        tool_call_reply("str_replace_editor", {"command": "view", "path": "/etc/passwd"}),  # outside
        text_reply("I believe I am done."),  # no tool call: nudged
        tool_call_reply("submit", {}),
    ])
    result = await go(srv, sb, store)
    assert result.exit_reason == "submitted" and result.steps == 6
    stored = get_messages(store, result.rollout_id)
    tools = [m for m in stored if m.role == "tool"]
    assert [m.tool_error for m in tools] == [True, True, True, True, False]
    assert "not valid JSON" in tools[0].content
    assert stored[2].tool_calls[0].arguments == '{"command": "ls"'  # the raw text is kept as data
    assert "Unknown tool `python`" in tools[1].content and "bash" in tools[1].content
    assert "Missing required argument(s) for `bash`: command" in tools[2].content
    assert "outside the repository" in tools[3].content
    nudge = stored[stored.index(next(m for m in stored if m.role == "assistant" and not m.tool_calls)) + 1]
    assert nudge.role == "user" and "did not call a tool" in nudge.content
    assert result.patch == ""


async def test_429_then_success_is_retried(py_repo, sandboxes, server, store) -> None:
    sb = sandboxes(py_repo)
    srv = server([error_reply(429, "Rate limit reached", err_type="rate_limit_error"),
                  Reply({}, drop_connection=True),  # a connection reset is retried too
                  tool_call_reply("submit", {})])
    result = await go(srv, sb, store)
    assert result.exit_reason == "submitted"
    assert len(srv.requests) == 3
    assert roles(get_messages(store, result.rollout_id)) == ["system", "user", "assistant", "tool"]


async def test_500s_past_the_retry_budget_end_as_model_error(py_repo, sandboxes, server, store) -> None:
    sb = sandboxes(py_repo)
    srv = server([tool_call_reply("bash", {"command": "true"})] +
                 [error_reply(500, "upstream exploded", err_type="server_error")] * 3)
    result = await go(srv, sb, store, client=client_for(srv, max_retries=2))
    assert result.exit_reason == "model_error"
    assert "upstream exploded" in result.error and "3 attempts" in result.error
    assert len(srv.requests) == 4  # the first turn, then 1 try + 2 retries
    row = get_rollout(store, result.rollout_id)
    assert row.exit_reason == "model_error" and "upstream exploded" in row.error and row.steps == 1
    assert roles(get_messages(store, result.rollout_id)) == ["system", "user", "assistant", "tool"]


async def test_context_length_400_ends_as_context_exceeded_without_retrying(py_repo, sandboxes, server, store):
    sb = sandboxes(py_repo)
    srv = server([context_length_reply(), tool_call_reply("submit", {})])
    result = await go(srv, sb, store)
    assert result.exit_reason == "context_exceeded" and "maximum context length" in result.error
    assert len(srv.requests) == 1
    assert get_rollout(store, result.rollout_id).exit_reason == "context_exceeded"


async def test_max_context_tokens_is_checked_before_sending(py_repo, sandboxes, server, store) -> None:
    sb = sandboxes(py_repo)
    srv = server([tool_call_reply("submit", {})])
    result = await go(srv, sb, store, max_context_tokens=100)  # the task prompt alone is bigger
    assert result.exit_reason == "context_exceeded" and srv.requests == []
    # usage reported by the server counts: a huge prompt_tokens ends the next turn before it is sent
    srv2 = server([tool_call_reply("bash", {"command": "true"}, prompt_tokens=30000), tool_call_reply("submit", {})])
    result = await go(srv2, sandboxes(py_repo), store, max_context_tokens=30000)
    assert result.exit_reason == "context_exceeded" and len(srv2.requests) == 1


async def test_step_limit(py_repo, sandboxes, server, store) -> None:
    sb = sandboxes(py_repo)
    srv = server([tool_call_reply("bash", {"command": f"echo {i} >> log.txt"}) for i in range(5)])
    result = await go(srv, sb, store, step_limit=3)
    assert result.exit_reason == "step_limit" and result.steps == 3 and len(srv.requests) == 3
    assert "+2" in result.patch  # what it did so far is still recorded
    assert get_rollout(store, result.rollout_id).exit_reason == "step_limit"


async def test_cancel_event_stops_a_rollout_mid_call(py_repo, sandboxes, server, store) -> None:
    sb = sandboxes(py_repo)
    srv = server(lambda req: tool_call_reply("bash", {"command": "sleep 30"}))
    cancel = asyncio.Event()
    t0 = time.monotonic()
    task = asyncio.create_task(run_rollout(client=client_for(srv), sandbox=sb, task_text="x",
                                           config=AgentConfig(), store=store, cancel=cancel))
    await asyncio.sleep(1.0)  # inside `sleep 30`
    cancel.set()
    result = await task
    assert result.exit_reason == "cancelled" and time.monotonic() - t0 < 10
    assert get_rollout(store, result.rollout_id).exit_reason == "cancelled"


async def test_events_are_emitted_for_every_message(py_repo, sandboxes, server, store) -> None:
    sb = sandboxes(py_repo)
    srv = server([tool_call_reply("bash", {"command": "true"}), tool_call_reply("submit", {})])
    bus, seen = EventBus(), []
    bus.subscribe(seen.append)
    result = await run_rollout(client=client_for(srv), sandbox=sb, task_text="t", config=AgentConfig(),
                               store=store, bus=bus, run_id=7, task_id=3, stage="T1")
    assert isinstance(seen[0], RolloutStarted) and seen[0].rollout_id == result.rollout_id
    added = [e for e in seen if isinstance(e, MessageAdded)]
    assert [e.index for e in added] == list(range(6))
    assert all(e.run_id == 7 and e.task_id == 3 and e.stage == "T1" for e in added)
    assert isinstance(seen[-1], RolloutFinished) and seen[-1].exit_reason == "submitted"
    row = get_rollout(store, result.rollout_id)
    assert (row.run_id, row.task_id, row.stage) == (7, 3, "T1")


async def test_two_rollouts_run_concurrently(py_repo, sandboxes, server, store) -> None:
    """Tool commands do not block the event loop: two 2 s commands overlap."""
    srv = server(lambda req: tool_call_reply("submit", {}) if len(req["messages"]) > 2
                 else tool_call_reply("bash", {"command": "sleep 2"}))
    boxes = [sandboxes(py_repo) for _ in range(2)]
    t0 = time.monotonic()
    results = await asyncio.gather(*(go(srv, sb, store) for sb in boxes))
    assert [r.exit_reason for r in results] == ["submitted", "submitted"]
    assert time.monotonic() - t0 < 3.6  # one after the other would take more than 4 s


async def test_works_without_a_store(py_repo, sandboxes, server) -> None:
    sb = sandboxes(py_repo)
    srv = server([tool_call_reply("submit", {})])
    result = await run_rollout(client=client_for(srv), sandbox=sb, task_text="t", config=AgentConfig())
    assert result.rollout_id is None and result.exit_reason == "submitted" and len(result.messages) == 4
    assert srv.requests[0]["messages"][1]["content"].count(sb.display_root) >= 2  # the task prompt names the repo


async def test_first_model_call_does_not_wait_for_the_checkout(py_repo, workspace, server, store) -> None:
    """A rollout on a checkout still being made: the model is asked at once, the view waits for the
    files, and the patch is the same as on a ready checkout."""
    from engine.sandbox import start_sandbox

    gate = asyncio.Event()
    checkout_done_at: list[float] = []

    async def slow(fn, *args, **kw):  # the checkout is held until the first model request arrives
        await gate.wait()
        sb = await asyncio.to_thread(fn, *args, **kw)
        checkout_done_at.append(time.monotonic())
        return sb

    asked_at: list[float] = []

    def respond(req):
        if not asked_at:
            asked_at.append(time.monotonic())
        turn = sum(1 for m in req["messages"] if m["role"] == "assistant")
        path = f"{sb.display_root}/pkg/mod.py"  # known before the checkout exists
        return [tool_call_reply("str_replace_editor", {"command": "view", "path": path, "view_range": [15, 16]}),
                tool_call_reply("str_replace_editor", {"command": "str_replace", "path": path,
                                "old_str": "return sum(values)", "new_str": "return sum(values or [])"}),
                tool_call_reply("submit", {})][turn]

    srv = server(respond)
    sb = start_sandbox(py_repo, "HEAD", workspace.runs_dir, run=slow)
    client = client_for(srv)
    # The gate opens on the first request: the checkout cannot have been ready for it.
    orig = client.complete

    async def complete(*a, **kw):
        job = asyncio.ensure_future(orig(*a, **kw))
        await asyncio.sleep(0.05)
        gate.set()
        return await job

    client.complete = complete
    result = await go(srv, sb, store, client=client)
    assert result.exit_reason == "submitted", result.error
    assert asked_at[0] < checkout_done_at[0]
    stored = get_messages(store, result.rollout_id)
    assert "    15\tdef total(values):" in stored[3].content  # the view saw the real file
    assert "+    return sum(values or [])" in result.patch
    await asyncio.to_thread(sb.close)
    assert not sb.root.exists()
