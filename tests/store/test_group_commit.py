"""Store.write: writes queued from many threads are committed in order, in shared transactions,
and one failing write does not lose the others."""

from __future__ import annotations

import threading

import pytest

from store import Store


def _insert(store: Store, key: str, value: str) -> str:
    store.execute("INSERT INTO meta VALUES (?, ?)", [key, value])
    return key


def test_writes_commit_in_order_and_are_durable(tmp_path) -> None:
    path = tmp_path / "s.duckdb"
    store = Store.open(path)
    futures = [store.write(_insert, f"k{i:03d}", str(i)) for i in range(200)]
    assert [f.result(10) for f in futures] == [f"k{i:03d}" for i in range(200)]
    store.close()
    again = Store.open(path)
    rows = again.fetchall("SELECT key FROM meta WHERE key LIKE 'k%' ORDER BY key")
    assert [r[0] for r in rows] == [f"k{i:03d}" for i in range(200)]
    again.close()


def test_one_failing_write_does_not_sink_the_batch(tmp_path) -> None:
    store = Store.open(tmp_path / "s.duckdb")
    gate = threading.Event()
    blocker = store.write(lambda s: gate.wait(5))  # hold the writer so the next three share a batch
    ok1 = store.write(_insert, "a", "1")
    bad = store.write(_insert, "a", "duplicate key")  # meta.key is the primary key
    ok2 = store.write(_insert, "b", "2")
    gate.set()
    blocker.result(5)
    assert ok1.result(5) == "a" and ok2.result(5) == "b"
    with pytest.raises(Exception, match="(?i)constraint|duplicate"):
        bad.result(5)
    assert dict(store.fetchall("SELECT key, value FROM meta WHERE key IN ('a','b')")) == {"a": "1", "b": "2"}
    store.close()


def test_close_waits_for_queued_writes(tmp_path) -> None:
    path = tmp_path / "s.duckdb"
    store = Store.open(path)
    for i in range(50):
        store.write(_insert, f"c{i}", "x")
    store.close()
    again = Store.open(path)
    assert again.fetchone("SELECT count(*) FROM meta WHERE key LIKE 'c%'")[0] == 50
    again.close()


async def test_a_waiter_that_is_cancelled_does_not_lose_its_write_or_the_writer(tmp_path) -> None:
    """A TUI cancelling a run cancels the tasks awaiting writes: the queued rows still land and the
    writer thread keeps serving later writes."""
    import asyncio

    store = Store.open(tmp_path / "s.duckdb")
    gate = threading.Event()
    store.write(lambda s: gate.wait(5))  # hold the writer so the next write is still queued
    waiter = asyncio.ensure_future(asyncio.wrap_future(store.write(_insert, "queued", "1")))
    await asyncio.sleep(0)
    waiter.cancel()
    for _ in range(3):  # let the cancellation reach the queued write's future
        await asyncio.sleep(0)
    gate.set()
    assert store.write(_insert, "after", "2").result(5) == "after"
    assert dict(store.fetchall("SELECT key, value FROM meta WHERE key IN ('queued', 'after')")) == {
        "queued": "1", "after": "2"}
    store.close()


@pytest.mark.parametrize("rollouts", [2, 6])  # a few: one UPDATE each; many: one joined UPDATE
def test_merged_message_writes_land_in_order_with_each_rollouts_latest_totals(tmp_path, rollouts) -> None:
    """16 rollouts streaming: their queued messages become one INSERT, their totals one UPDATE;
    a message that cannot be stored (no role) fails alone."""
    from engine.trajectory import Message
    from store import rollouts as q

    store = Store.open(tmp_path / "s.duckdb")
    ids = [q.create_rollout(store, run_id=None, task_id=None, stage="T1", model="m", task_text="t")
           for _ in range(rollouts)]
    gate = threading.Event()
    store.write(lambda s: gate.wait(5))  # hold the writer so everything below shares one batch
    futures = []
    for step in range(4):
        for rid in ids:
            msg = Message("assistant", f"r{rid} step {step}")
            futures.append(store.write_merged(q.add_messages, (rid, step, msg, (step + 1, 10 * step, step, 0.5))))
    bad = store.write_merged(q.add_messages, (ids[0], 9, Message(None, "no role"), None))  # type: ignore[arg-type]
    gate.set()
    assert [f.result(5) for f in futures] == [None] * (4 * rollouts)
    with pytest.raises(Exception, match="(?i)constraint|null"):
        bad.result(5)
    for rid in ids:
        msgs = q.get_messages(store, rid)
        assert [m.content for m in msgs] == [f"r{rid} step {s}" for s in range(4)]
        row = q.get_rollout(store, rid)
        assert (row.steps, row.prompt_tokens, row.completion_tokens, row.cost) == (4, 30, 3, 0.5)
    store.close()
