"""Opening the workspace database: migrations, single-writer locking, clear errors.

DuckDB lets one process write a file. The engine writes through one `Store` per process; all
access goes through `Store.lock` so worker threads (the TUI's) and asyncio tasks can share it.
"""

from __future__ import annotations

import queue
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from store.migrations import MIGRATIONS

T = TypeVar("T")

SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    """A store problem with a one-line message fit for the user."""


class StoreLockedError(StoreError):
    def __init__(self, path: Path, pid: int | None, holder: str | None):
        self.path, self.pid, self.holder = path, pid, holder
        who = f"PID {pid}" + (f" ({Path(holder).name})" if holder else "") if pid else "another process"
        # The UI shows the part before ";" as its banner.
        super().__init__(
            f"database {path} is in use by {who}; only one process can write it: stop that one, or "
            "read a snapshot (the TUI and read-only commands do that by themselves)"
        )


class SchemaTooNewError(StoreError):
    pass


class NotADatabaseError(StoreError):
    pass


_LOCK_RE = re.compile(r"Conflicting lock is held in (?P<holder>.+?) \(PID (?P<pid>\d+)\)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _classify(path: Path, exc: Exception) -> StoreError:
    text = str(exc)
    m = _LOCK_RE.search(text)
    if m or "Could not set lock" in text:
        return StoreLockedError(path, int(m["pid"]) if m else None, m["holder"] if m else None)
    if ("not a valid DuckDB database" in text or "Corrupt database file" in text
            or "Serialization" in text or "checksum" in text):
        return NotADatabaseError(f"{path} is not a readable SERA/DuckDB database ({_first_line(exc)}); "
                                 "it was left untouched")
    return StoreError(f"cannot open {path}: {_first_line(exc)}")


_SAME_PROCESS_RE = "different configuration"
_READ_ONLY_RE = re.compile(r"read-only mode|read-only database|attached in read-only", re.I)


class Store:
    """One DuckDB connection, serialized by a re-entrant lock."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, path: Path, *, read_only: bool,
                 snapshot_of: Path | None = None):
        self.conn = conn
        self.path = path
        self.read_only = read_only
        # When the real file was locked by another writer we opened a copy; the UI shows a banner.
        self.snapshot_of = snapshot_of
        self.locked_by: StoreLockedError | None = None  # set on snapshots: who holds the real file
        self._snapshot_dir: Path | None = None
        self.lock = threading.RLock()
        self._tx_depth = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._batch_results: dict[Future, Any] = {}  # writer thread only
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()

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
        if not read_only and path.exists() and path.stat().st_size == 0 \
                and not path.with_name(path.name + ".wal").exists():
            # A 0-byte file (touch, mkstemp) holds nothing; DuckDB refuses it, so start afresh.
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        enforce_read_only = False
        try:
            conn = duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            if read_only and _SAME_PROCESS_RE in str(exc):
                # This process already has the file open for writing; DuckDB allows only one
                # configuration per file and process, so share it and refuse writes ourselves.
                conn = cls._connect_or_raise(path)
                enforce_read_only = True
            else:
                err = _classify(path, exc)
                if isinstance(err, StoreLockedError) and (snapshot_if_locked or read_only):
                    return cls._open_snapshot(path, err)
                raise err from None
        store = cls(conn, path, read_only=read_only)
        try:
            store._check_and_migrate(write=False if enforce_read_only else None)
        except StoreError:
            conn.close()
            raise
        except duckdb.Error as exc:
            conn.close()
            raise _classify(path, exc) from None
        return store

    @staticmethod
    def _connect_or_raise(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            raise _classify(path, exc) from None

    @classmethod
    def _open_snapshot(cls, path: Path, err: StoreLockedError) -> "Store":
        """A read-only copy of a file another process holds for writing (DuckDB refuses readers then)."""
        tmp = Path(tempfile.mkdtemp(prefix="sera-snapshot-"))
        copy = tmp / path.name
        try:
            shutil.copy2(path, copy)
            wal = path.with_name(path.name + ".wal")
            if wal.exists():
                shutil.copy2(wal, copy.with_name(copy.name + ".wal"))
            # Replay the copied WAL into the copy (ours alone), then reopen it truly read-only.
            duckdb.connect(str(copy)).close()
            conn = duckdb.connect(str(copy), read_only=True)
        except (OSError, duckdb.Error) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise StoreError(f"{err} (and a read-only snapshot failed: {_first_line(exc)})") from None
        store = cls(conn, path, read_only=True, snapshot_of=path)
        store.locked_by = err
        store._snapshot_dir = tmp
        try:
            store._check_and_migrate(write=False)
        except StoreError:
            store.close()
            raise
        except duckdb.Error as exc:
            store.close()
            raise _classify(path, exc) from None
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
            raise NotADatabaseError(
                f"{self.path} is a DuckDB file but not a SERA workspace; refusing to touch it")
        if version < SCHEMA_VERSION:
            if not write:
                raise StoreError(
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
            try:
                row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                return int(row[0]) if row else 0
            except (duckdb.Error, ValueError, TypeError):
                raise NotADatabaseError(
                    f"{self.path} is a DuckDB file but not a SERA workspace; refusing to touch it") from None

    # -- access ------------------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | dict | None = None) -> duckdb.DuckDBPyConnection:
        with self.lock:
            if self.read_only and _is_write(sql):
                raise StoreError("the database is open read-only")
            try:
                return self.conn.execute(sql, params or [])
            except duckdb.Error as exc:
                if self.read_only and _READ_ONLY_RE.search(str(exc)):
                    raise StoreError("the database is open read-only") from None
                raise

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
        """BEGIN…COMMIT; nested use joins the outer transaction (a batch of group-committed writes)."""
        with self.lock:
            if self._tx_depth:
                self._tx_depth += 1
                try:
                    yield
                finally:
                    self._tx_depth -= 1
                return
            self.conn.execute("BEGIN TRANSACTION")
            self._tx_depth = 1
            try:
                yield
            except BaseException:
                self._tx_depth = 0
                self.conn.execute("ROLLBACK")
                raise
            else:
                self._tx_depth = 0
                self.conn.execute("COMMIT")

    # -- group commit --------------------------------------------------------------------------
    def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """Run `fn(self, *args, **kwargs)` on the store's writer thread; the future resolves once the
        write is committed. Writes queued meanwhile share one transaction, so 16 rollouts persisting
        each message as it exists pay one disk sync per batch instead of one per message. Order of
        submission is kept."""
        return self._enqueue(fn, args, kwargs, merged=False)

    def write_merged(self, fn_many: Callable[..., Any], item: Any) -> Future[None]:
        """Like write(), for a write that many callers make at once (a rollout's next message):
        consecutive queued items with the same `fn_many` run as one `fn_many(self, items)` call, so
        it can write them in one statement. DuckDB spends ~1 ms parsing and planning each INSERT;
        one statement for 16 rows costs about as much as two."""
        return self._enqueue(fn_many, (item,), {}, merged=True)

    def _enqueue(self, fn: Callable[..., Any], args: tuple, kwargs: dict, *, merged: bool) -> Future[Any]:
        future: Future[Any] = Future()
        # Running from the start: a caller that stops waiting (a cancelled task) cannot cancel a
        # write that is already queued; it still lands, in order.
        future.set_running_or_notify_cancel()
        with self._writer_lock:
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_loop, name="store-writer", daemon=True)
                self._writer.start()
            self._queue.put((fn, args, kwargs, future, merged))
        return future

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < 512:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            self._run_batch(batch)

    def resolve(self, value: Any) -> Any:
        """On the writer thread: `value`, or the result of the earlier queued write whose Future it is
        (committed in an earlier batch or run earlier in this one). Lets a write refer to a row that an
        earlier, not yet committed write creates (a rollout's first messages and the rollout)."""
        if not isinstance(value, Future):
            return value
        if value in self._batch_results:
            return self._batch_results[value]
        if not value.done():
            raise StoreError("a write refers to the result of a write queued after it")
        return value.result()

    def _run_batch(self, batch: list) -> None:
        results: list[Any] = []
        self._batch_results = {}
        try:
            with self.transaction():
                i = 0
                while i < len(batch):
                    fn, args, kwargs, fut, merged = batch[i]
                    if not merged:
                        results.append(fn(self, *args, **kwargs))
                        self._batch_results[fut] = results[-1]
                        i += 1
                        continue
                    j = i
                    while j < len(batch) and batch[j][4] and batch[j][0] is fn:
                        j += 1
                    fn(self, [entry[1][0] for entry in batch[i:j]])
                    results.extend([None] * (j - i))
                    i = j
        except BaseException:
            self._batch_results = {}
            if len(batch) == 1:
                _fut = batch[0][3]
                _fut.set_exception(sys.exc_info()[1] or StoreError("write failed"))
                return
            # One bad write must not sink the others: redo them one transaction each.
            for entry in batch:
                self._run_batch([entry])
            return
        self._batch_results = {}
        for entry, result in zip(batch, results):
            entry[3].set_result(result)

    def flush_writes(self, timeout: float | None = None) -> None:
        """Block until everything queued with write() so far is committed."""
        if self._writer is not None:
            self.write(lambda _s: None).result(timeout)

    def close(self) -> None:
        with self._writer_lock:
            if self._writer is not None:
                self._queue.put(None)
                self._writer.join()
                self._writer = None
        with self.lock:
            self.conn.close()
            if self._snapshot_dir is not None:
                shutil.rmtree(self._snapshot_dir, ignore_errors=True)
                self._snapshot_dir = None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_WRITE_RE = re.compile(
    r"^\s*(INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|TRUNCATE|MERGE)\b",
    re.I)


def _is_write(sql: str) -> bool:
    return bool(_WRITE_RE.match(sql))
