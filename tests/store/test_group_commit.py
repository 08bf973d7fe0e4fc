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
