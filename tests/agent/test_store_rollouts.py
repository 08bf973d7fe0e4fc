"""store/rollouts.py: messages round-trip field for field; rollout rows carry their end state."""

from __future__ import annotations

from engine.trajectory import Message, ToolCall
from store import rollouts as q


def test_messages_round_trip_every_field(store) -> None:
    rid = q.create_rollout(store, run_id=None, task_id=None, stage="T1", model="m", task_text="do it",
                           worktree="/tmp/wt")
    msgs = [
        Message(role="system", content="sys", tokens=1),
        Message(role="assistant", content="", reasoning="think", tool_calls=[
            ToolCall("c1", "bash", '{"command": "ls"}'), ToolCall("c2", "bash", '{"broken')],
            tokens=5, prompt_tokens=100, completion_tokens=5, model_latency_ms=12.5),
        Message(role="tool", content="a.py\n", tool_call_id="c1", name="bash", tokens=2, tool_time_ms=3.25),
        Message(role="tool", content="bad JSON", tool_call_id="c2", name="bash", tool_error=True),
    ]
    for i, m in enumerate(msgs):
        q.add_message(store, rid, i, m, progress=(1, 100, 5, 0.01) if m.role == "assistant" else None)
    assert q.get_messages(store, rid) == msgs
    assert q.count_messages(store, rid) == 4
    row = q.get_rollout(store, rid)
    assert (row.status, row.steps, row.prompt_tokens, row.cost, row.worktree) == ("running", 1, 100, 0.01, "/tmp/wt")
    patch = "--- a/x.py\n+++ b/x.py\n@@ -1 +1,2 @@\n-a = 1\n+a = 2\n+b = 3\n"
    q.finish_rollout(store, rid, "submitted", patch, 3, 300, 15, 0.02)
    row = q.get_rollout(store, rid)
    assert (row.status, row.exit_reason, row.patch_lines, row.steps, row.error) == \
        ("finished", "submitted", 3, 3, None)
    assert row.finished_at is not None
    other = q.create_rollout(store, run_id=5, task_id=9, stage="T2", model="m", task_text="t")
    assert [r.id for r in q.list_rollouts(store, run_id=5)] == [other]
    assert [r.id for r in q.list_rollouts(store, task_id=9)] == [other]
    assert q.get_rollout(store, 999) is None
