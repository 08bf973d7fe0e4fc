"""Opening the workspace database: migrations, reopening, version and file checks, locking."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from store import (
    SCHEMA_VERSION,
    NotADatabaseError,
    SchemaTooNewError,
    Store,
    StoreError,
    StoreLockedError,
)
from store.migrations import MIGRATIONS
from store.repos import add_repo, list_repos

ROOT = Path(__file__).resolve().parents[2]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_file_is_migrated_to_the_current_version(tmp_path: Path) -> None:
    db = tmp_path / "ws" / "sera.duckdb"
    with Store.open(db) as s:
        assert s.schema_version() == SCHEMA_VERSION == len(MIGRATIONS)
        tables = {r[0] for r in s.fetchall("SELECT table_name FROM information_schema.tables")}
    assert {"meta", "repos", "runs", "tasks", "rollouts", "messages", "prs", "scores", "reviews", "datasets",
            "dataset_examples", "train_runs", "train_metrics", "eval_runs", "eval_results"} <= tables


def test_empty_file_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "sera.duckdb"
    db.touch()  # e.g. made by mkstemp: nothing in it to lose
    with Store.open(db) as s:
        assert s.schema_version() == SCHEMA_VERSION


def test_each_migration_step_upgrades_an_older_database(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    conn = duckdb.connect(str(db))
    conn.execute(MIGRATIONS[0])
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    conn.execute("INSERT INTO repos (name, path) VALUES ('kept', '/src/kept')")
    conn.close()
    with Store.open(db) as s:
        assert s.schema_version() == SCHEMA_VERSION
        assert [r.name for r in list_repos(s)] == ["kept"]


def test_reopen_keeps_data(tmp_path: Path) -> None:
    db = tmp_path / "sera.duckdb"
    with Store.open(db) as s:
        add_repo(s, "demo", "/src/demo", "abc123", languages={"python": 3})
    with Store.open(db) as s:
        (repo,) = list_repos(s)
        assert (repo.name, repo.path, repo.head_commit, repo.languages) == ("demo", "/src/demo", "abc123",
                                                                           {"python": 3})
        assert s.schema_version() == SCHEMA_VERSION  # no migration re-run
    with Store.open(db, read_only=True) as ro:
        assert [r.name for r in list_repos(ro)] == ["demo"]


def test_newer_schema_version_is_refused_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "sera.duckdb"
    Store.open(db).close()
    conn = duckdb.connect(str(db))
    conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", [str(SCHEMA_VERSION + 5)])
    conn.close()
    before = digest(db)
    for read_only in (False, True):
        with pytest.raises(SchemaTooNewError) as err:
            Store.open(db, read_only=read_only)
        msg = str(err.value)
        assert "\n" not in msg and str(SCHEMA_VERSION + 5) in msg and "upgrade" in msg
    assert digest(db) == before


@pytest.mark.parametrize("content", [b"", b"hello, this is a text file\n", os.urandom(20_000)],
                         ids=["read-only-empty", "text", "random"])
def test_non_duckdb_file_is_a_clear_error_and_untouched(tmp_path: Path, content: bytes) -> None:
    db = tmp_path / "sera.duckdb"
    db.write_bytes(content)
    read_only = content == b""  # a writable open treats a 0-byte file as new (see above)
    with pytest.raises(StoreError) as err:
        Store.open(db, read_only=read_only)
    assert "\n" not in str(err.value) and str(db) in str(err.value)
    assert db.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sera.duckdb"]  # no .wal left behind


def test_corrupt_duckdb_file_is_a_clear_error_and_untouched(tmp_path: Path) -> None:
    db = tmp_path / "sera.duckdb"
    with Store.open(db) as s:
        add_repo(s, "demo", "/src/demo", None)
    data = bytearray(db.read_bytes())
    data[12_288:14_288] = b"\xff" * 2000  # scribble over the first data block
    db.write_bytes(bytes(data))
    before = digest(db)
    with pytest.raises(NotADatabaseError) as err:
        Store.open(db)
    msg = str(err.value)
    assert "\n" not in msg and "not a readable" in msg and "untouched" in msg
    assert digest(db) == before


def test_duckdb_file_of_another_application_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "analytics.duckdb"
    conn = duckdb.connect(str(db))
    conn.execute("CREATE TABLE sales (id INTEGER, amount DOUBLE)")
    conn.execute("INSERT INTO sales VALUES (1, 9.5)")
    conn.close()
    before = digest(db)
    with pytest.raises(NotADatabaseError, match="not a SERA workspace"):
        Store.open(db)
    assert digest(db) == before
    # even with a table called meta that is not ours
    conn = duckdb.connect(str(db))
    conn.execute("CREATE TABLE meta (k INTEGER)")
    conn.close()
    before = digest(db)
    with pytest.raises(NotADatabaseError, match="not a SERA workspace"):
        Store.open(db)
    assert digest(db) == before


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        Store.open(tmp_path)


def test_read_only_open_refuses_writes(tmp_path: Path) -> None:
    db = tmp_path / "sera.duckdb"
    Store.open(db).close()
    with Store.open(db, read_only=True) as ro:
        assert ro.read_only and ro.snapshot_of is None
        for sql in ("INSERT INTO repos (name, path) VALUES ('x', '/x')", "  update repos SET path='y'",
                    "WITH t AS (SELECT 1) INSERT INTO repos (name, path) SELECT 'z', '/z' FROM t"):
            with pytest.raises(StoreError, match="read-only"):
                ro.execute(sql)
    with pytest.raises(StoreError, match="no database"):
        Store.open(tmp_path / "missing.duckdb", read_only=True)


def test_read_only_open_in_the_process_that_writes(tmp_path: Path) -> None:
    """The TUI may ask for a read-only view while its own engine writes the same file."""
    db = tmp_path / "sera.duckdb"
    with Store.open(db) as writer:
        add_repo(writer, "a", "/a", None)
        with Store.open(db, read_only=True) as ro:
            assert [r.name for r in list_repos(ro)] == ["a"]
            with pytest.raises(StoreError, match="read-only"):
                add_repo(ro, "b", "/b", None)


# -- a second process --------------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys
    from store import Store
    from store.repos import add_repo
    s = Store.open(sys.argv[1])
    add_repo(s, "held", "/held", None)
    print("ready", flush=True)
    sys.stdin.read()   # hold the write lock until the test closes our stdin
    s.close()
""")


@pytest.fixture
def held_db(tmp_path: Path):
    """A workspace database held open for writing by another process: (path, pid)."""
    db = tmp_path / "sera.duckdb"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield db, proc.pid
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def test_second_writer_gets_a_one_line_error_naming_the_pid(held_db) -> None:
    db, pid = held_db
    with pytest.raises(StoreLockedError) as err:
        Store.open(db)
    assert err.value.pid == pid
    msg = str(err.value)
    assert f"PID {pid}" in msg and "python" in msg and "snapshot" in msg and "\n" not in msg


def test_read_only_and_snapshot_open_work_while_locked_and_refuse_writes(held_db) -> None:
    db, pid = held_db
    for kwargs in ({"read_only": True}, {"snapshot_if_locked": True}):
        s = Store.open(db, **kwargs)
        try:
            assert s.read_only and s.snapshot_of == db
            assert s.locked_by is not None and s.locked_by.pid == pid
            assert [r.name for r in list_repos(s)] == ["held"]  # sees what the holder wrote
            with pytest.raises(StoreError, match="read-only"):
                add_repo(s, "mine", "/mine", None)
            with pytest.raises(StoreError, match="read-only"):
                s.execute("CREATE TABLE t (x INTEGER)")
            copy_dir = s._snapshot_dir
            assert copy_dir is not None and copy_dir.exists()
        finally:
            s.close()
        assert not copy_dir.exists()  # the private copy goes away with the store
