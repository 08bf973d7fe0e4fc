"""Opening the workspace database: migrations, single-writer locking, clear errors.

DuckDB lets one process write a file. The engine writes through one `Store` per process; all
access goes through `Store.lock` so worker threads (the TUI's) and asyncio tasks can share it.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from store.migrations import MIGRATIONS

SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    """A store problem with a one-line message fit for the user."""


class StoreLockedError(StoreError):
    def __init__(self, path: Path, pid: int | None, holder: str | None):
        self.path, self.pid, self.holder = path, pid, holder
        who = f"PID {pid}" + (f" ({holder})" if holder else "") if pid else "another process"
        super().__init__(
            f"database {path} is in use by {who}; open it read-only (--read-only) or stop that process"
        )


class SchemaTooNewError(StoreError):
    pass


class NotADatabaseError(StoreError):
    pass


_LOCK_RE = re.compile(r"Conflicting lock is held in (?P<holder>.+?) \(PID (?P<pid>\d+)\)")


def _classify(path: Path, exc: Exception) -> StoreError:
    text = str(exc)
    m = _LOCK_RE.search(text)
    if m or "Could not set lock" in text:
        return StoreLockedError(path, int(m["pid"]) if m else None, m["holder"] if m else None)
    if "not a valid DuckDB database" in text or "Serialization" in text or "Corrupt" in text.title():
        return NotADatabaseError(f"{path} is not a readable SERA/DuckDB database ({text.splitlines()[0]})")
    return StoreError(f"cannot open {path}: {text.splitlines()[0] if text else type(exc).__name__}")


class Store:
    """One DuckDB connection, serialized by a re-entrant lock."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, path: Path, *, read_only: bool,
                 snapshot_of: Path | None = None):
        self.conn = conn
        self.path = path
        self.read_only = read_only
        # When the real file was locked by another writer we opened a copy; the UI shows a banner.
        self.snapshot_of = snapshot_of
        self.lock = threading.RLock()

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False,
             snapshot_if_locked: bool = False) -> "Store":
        """Open (creating and migrating when writable) the database at `path`.

        read_only: never writes. snapshot_if_locked: when another process holds the write lock,
        open a read-only copy of the file instead of failing (DuckDB refuses even readers while a
        writer holds the file).
        """
        path = Path(path)
        if path.is_dir():
            raise StoreError(f"{path} is a directory, not a database file")
        if read_only and not path.exists():
            raise StoreError(f"no database at {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            err = _classify(path, exc)
            if isinstance(err, StoreLockedError) and (snapshot_if_locked or read_only):
                return cls._open_snapshot(path, err)
            raise err from None
        store = cls(conn, path, read_only=read_only)
        try:
            store._check_and_migrate()
        except Exception:
            conn.close()
            raise
        return store

    @classmethod
    def _open_snapshot(cls, path: Path, err: StoreLockedError) -> "Store":
        tmp = Path(tempfile.mkdtemp(prefix="sera-snapshot-"))
        copy = tmp / path.name
        shutil.copy2(path, copy)
        wal = path.with_name(path.name + ".wal")
        if wal.exists():
            shutil.copy2(wal, copy.with_name(copy.name + ".wal"))
        try:
            # Not read_only: DuckDB may need to replay the copied WAL; the copy is ours alone.
            conn = duckdb.connect(str(copy))
        except duckdb.Error as exc:
            raise StoreError(f"{err} (and a read-only snapshot failed: {str(exc).splitlines()[0]})") from None
        store = cls(conn, path, read_only=True, snapshot_of=path)
        store._check_and_migrate(write=False)
        store.locked_by = err
        return store

    def _check_and_migrate(self, write: bool | None = None) -> None:
        write = (not self.read_only) if write is None else write
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise SchemaTooNewError(
                f"{self.path} has schema version {version}, newer than this SERA Workbench "
                f"understands ({SCHEMA_VERSION}); upgrade sera-workbench to open it"
            )
        if version == 0 and self._has_foreign_tables():
            raise NotADatabaseError(f"{self.path} is a DuckDB file but not a SERA workspace; refusing to touch it")
        if version < SCHEMA_VERSION:
            if not write:
                raise SchemaTooNewError(
                    f"{self.path} has schema version {version}; open it writable once to migrate"
                    f" to {SCHEMA_VERSION}"
                )
            for v in range(version, SCHEMA_VERSION):
                with self.transaction():
                    self.conn.execute(MIGRATIONS[v])
                    self.conn.execute(
                        "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(v + 1)]
                    )

    def _has_foreign_tables(self) -> bool:
        rows = self.conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema='main'"
        ).fetchone()
        return bool(rows and rows[0])

    def schema_version(self) -> int:
        with self.lock:
            has_meta = self.conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name='meta'"
            ).fetchone()[0]
            if not has_meta:
                return 0
            row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            return int(row[0]) if row else 0

    # -- access ------------------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | dict | None = None) -> duckdb.DuckDBPyConnection:
        with self.lock:
            if self.read_only and _is_write(sql):
                raise StoreError("the database is open read-only")
            return self.conn.execute(sql, params or [])

    def fetchall(self, sql: str, params: Sequence[Any] | dict | None = None) -> list[tuple]:
        with self.lock:
            return self.execute(sql, params).fetchall()

    def fetchone(self, sql: str, params: Sequence[Any] | dict | None = None) -> tuple | None:
        with self.lock:
            return self.execute(sql, params).fetchone()

    def fetchdicts(self, sql: str, params: Sequence[Any] | dict | None = None) -> list[dict[str, Any]]:
        with self.lock:
            cur = self.execute(sql, params)
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, row)) for row in cur.fetchall()]

    def insert_returning_id(self, sql: str, params: Sequence[Any] | dict | None = None) -> int:
        """Run an INSERT … RETURNING id and give the id."""
        row = self.fetchone(sql, params)
        assert row is not None
        return int(row[0])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.lock:
            self.conn.execute("BEGIN TRANSACTION")
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_WRITE_RE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|CREATE|DROP|ALTER)\b", re.I)


def _is_write(sql: str) -> bool:
    return bool(_WRITE_RE.match(sql))
