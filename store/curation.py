"""The SQL behind curation: applying a FilterSpec, counting, pairs, histograms, stats, datasets.

Per-rollout message aggregates (mean tool-output tokens, token totals) live in `rollout_stats`,
filled with one GROUP BY over the messages of rollouts that lack a fresh row (see
`refresh_rollout_stats`); filters then join 1 row per rollout instead of scanning messages.
A read-only store cannot refresh, so missing rows are aggregated inline for that query.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from store.db import Store, StoreError
from store.filters import FilterSpec

# Token estimate where a message has no count: ~4 characters per token.
_EST = "coalesce(m.tokens, ceil((length(coalesce(m.content, '')) + length(coalesce(m.reasoning, ''))" \
       " + length(coalesce(CAST(m.tool_calls AS VARCHAR), ''))) / 4.0))"

_AGG_SELECT = f"""
    SELECT m.rollout_id,
           count(*) AS n_messages,
           count(*) FILTER (WHERE m.role = 'assistant') AS n_assistant,
           count(*) FILTER (WHERE m.role = 'tool') AS n_tool,
           coalesce(sum({_EST}) FILTER (WHERE m.role = 'tool'), 0) AS tool_tokens,
           coalesce(sum({_EST}), 0) AS total_tokens,
           count(*) FILTER (WHERE m.role = 'tool' AND m.tool_error) AS n_tool_errors
    FROM messages m
"""

_STALE = """
    SELECT r.id FROM rollouts r LEFT JOIN rollout_stats s ON s.rollout_id = r.id
    WHERE s.rollout_id IS NULL OR r.status <> 'finished'
       OR s.finished_at IS DISTINCT FROM r.finished_at
"""


def refresh_rollout_stats(store: Store, rollout_ids: Sequence[int] | None = None) -> int:
    """Recompute aggregates for the given rollouts, or for every rollout whose row is missing/stale.

    Returns how many rollouts were recomputed. No-op on a read-only store.
    """
    if store.read_only:
        return 0
    with store.lock:
        if rollout_ids is None:
            ids = [r[0] for r in store.fetchall(_STALE)]
        else:
            ids = list(rollout_ids)
        if not ids:
            return 0
        with store.transaction():
            store.execute("CREATE OR REPLACE TEMP TABLE _stale_ids (id INTEGER)")
            store.execute("INSERT INTO _stale_ids SELECT unnest(?)", [ids])
            store.execute("DELETE FROM rollout_stats WHERE rollout_id IN (SELECT id FROM _stale_ids)")
            store.execute(f"""
                INSERT INTO rollout_stats
                SELECT r.id, coalesce(a.n_messages, 0), coalesce(a.n_assistant, 0), coalesce(a.n_tool, 0),
                       coalesce(a.tool_tokens, 0), coalesce(a.total_tokens, 0),
                       coalesce(a.n_tool_errors, 0), r.finished_at
                FROM rollouts r JOIN _stale_ids i ON i.id = r.id
                LEFT JOIN ({_AGG_SELECT} WHERE m.rollout_id IN (SELECT id FROM _stale_ids)
                           GROUP BY m.rollout_id) a ON a.rollout_id = r.id
            """)
            store.execute("DROP TABLE _stale_ids")
        return len(ids)


# Per store: a cheap signature of the rollouts table when the derived data below was last built.
# While it is unchanged and no rollout is in flight, nothing is recomputed.
_FRESH: weakref.WeakKeyDictionary[Store, tuple[tuple, str]] = weakref.WeakKeyDictionary()
_SIGNATURE = ("SELECT count(*), max(id), max(finished_at), count(*) FILTER (WHERE status <> 'finished'),"
              " (SELECT count(*) FROM rollout_stats) FROM rollouts")

# The pair of each task: its latest T1 and latest T2 rollout (a resumed run may have left older,
# interrupted ones). Kept in per-connection TEMP tables (allowed on read-only connections too) and
# rebuilt when the signature changes, so counting pairs is one semi-join instead of a GROUP BY over
# every rollout on every keystroke.
_PAIR_TABLES = """
CREATE OR REPLACE TEMP TABLE _curation_pairs AS
    SELECT task_id, max(id) FILTER (WHERE stage = 'T1') AS t1_id, max(id) FILTER (WHERE stage = 'T2') AS t2_id
    FROM rollouts WHERE task_id IS NOT NULL AND stage IN ('T1', 'T2') GROUP BY task_id
    HAVING t1_id IS NOT NULL AND t2_id IS NOT NULL;
CREATE OR REPLACE TEMP TABLE _curation_pair_rollouts AS
    SELECT t1_id AS rollout_id FROM _curation_pairs UNION ALL SELECT t2_id FROM _curation_pairs;
"""


def _stats_source(store: Store) -> str:
    """SQL of a relation with one aggregate row per rollout, fresh for this query (and, as a side
    effect, fresh pair tables)."""
    with store.lock:
        sig = store.conn.execute(_SIGNATURE).fetchone()
        memo = _FRESH.get(store)
        if memo is not None and memo[0] == sig and not sig[3]:
            return memo[1]
        if not store.read_only:
            refresh_rollout_stats(store)
            sig = store.conn.execute(_SIGNATURE).fetchone()
            source = "rollout_stats"
        else:
            stale = store.conn.execute(f"SELECT count(*) FROM ({_STALE})").fetchone()
            source = "rollout_stats" if not stale[0] else f"""(
                SELECT * FROM rollout_stats WHERE rollout_id NOT IN ({_STALE})
                UNION ALL SELECT *, NULL FROM ({_AGG_SELECT} WHERE m.rollout_id IN ({_STALE})
                GROUP BY m.rollout_id))"""
        store.conn.execute(_PAIR_TABLES)
        _FRESH[store] = (sig, source)
        return source


# -- the filtered selection ----------------------------------------------------------------------

_BASE_COLUMNS = """
    r.id AS rollout_id, r.task_id, r.run_id, r.stage, r.source, r.model, r.status, r.exit_reason,
    r.patch_lines, r.steps, r.started_at, r.finished_at,
    coalesce(st.n_messages, 0) AS n_messages,
    coalesce(st.total_tokens, 0) AS total_tokens,
    coalesce(st.tool_tokens, 0) AS tool_tokens,
    CASE WHEN coalesce(st.n_tool, 0) = 0 THEN 0.0 ELSE st.tool_tokens / st.n_tool END AS mean_tool_tokens,
    coalesce(st.n_tool_errors, 0) AS n_tool_errors,
    t.state, t.category, t.function, t.file, t.instruction,
    sc.recall, rv.verdict, rp.name AS repo, src.source_ref
"""


_LEAN_COLUMNS = "r.id AS rollout_id, r.task_id, r.stage"


def _filtered_sql(store: Store, spec: FilterSpec, columns: str = _BASE_COLUMNS) -> tuple[str, list[Any]]:
    """SELECT <columns> over rollouts passing `spec`, with its parameters.

    Joins are added only when a filter or the full column list needs them: counting is what the
    Curate screen does on every keystroke, and most of its cost is joins nobody reads.
    """
    full = columns == _BASE_COLUMNS
    stats_source = _stats_source(store)  # also keeps the pair tables fresh
    params: list[Any] = []
    where: list[str] = []
    if spec.stage == "both":
        where.append("r.stage IN ('T1', 'T2', 'imported')")
    elif spec.stage in ("T1", "T2"):
        where.append("r.stage = ?")
        params.append(spec.stage)
    else:
        raise StoreError(f"unknown stage {spec.stage!r} (T1, T2 or both)")
    if spec.min_recall is not None:
        where.append("sc.recall >= ?")
        params.append(float(spec.min_recall))
    if spec.states:
        where.append("list_contains(?, t.state)")
        params.append(list(spec.states))
    if spec.submitted_only:
        where.append("r.exit_reason = 'submitted'")
    if spec.max_patch_lines is not None:
        where.append("coalesce(r.patch_lines, 0) <= ?")
        params.append(int(spec.max_patch_lines))
    if spec.max_mean_tool_tokens is not None:
        where.append("(CASE WHEN coalesce(st.n_tool, 0) = 0 THEN 0.0 ELSE st.tool_tokens / st.n_tool END) <= ?")
        params.append(float(spec.max_mean_tool_tokens))
    if spec.max_steps is not None:
        where.append("coalesce(r.steps, 0) <= ?")
        params.append(int(spec.max_steps))
    if spec.categories:
        where.append("list_contains(?, t.category)")
        params.append(list(spec.categories))
    if spec.verdicts:
        where.append("list_contains(?, coalesce(rv.verdict, 'unreviewed'))")
        params.append(list(spec.verdicts))
    if spec.repo:
        where.append("rp.name = ?")
        params.append(spec.repo)
    if spec.run_id is not None:
        where.append("r.run_id = ?")
        params.append(int(spec.run_id))
    if spec.since is not None:
        where.append("CAST(r.started_at AS DATE) >= ?")
        params.append(spec.since)
    if spec.until is not None:
        where.append("CAST(r.started_at AS DATE) <= ?")
        params.append(spec.until)
    if not getattr(spec, "include_heldout", False):
        where.append("NOT coalesce(t.heldout, false)")
    if spec.sources:
        where.append("list_contains(?, r.source)")
        params.append(list(spec.sources))

    joins: list[str] = []
    join_params: list[Any] = []
    need = {alias for alias in ("t.", "sc.", "rv.", "rp.", "st.", "src.") if alias in columns}
    need |= {alias for alias in ("t.", "sc.", "rv.", "rp.", "st.") if any(alias in w for w in where)}
    if full or need & {"t.", "rp."}:
        joins.append("LEFT JOIN tasks t ON t.id = r.task_id")
    if full or "rp." in need:
        joins.append("LEFT JOIN runs ru ON ru.id = r.run_id")
        joins.append("LEFT JOIN repos rp ON rp.id = coalesce(t.repo_id, ru.repo_id)")
    if full or "sc." in need:
        joins.append("LEFT JOIN (SELECT task_id, arg_max(recall, created_at) AS recall FROM scores"
                     " WHERE mode = ? GROUP BY task_id) sc ON sc.task_id = r.task_id")
        join_params.append(spec.recall_mode)
    if full or "rv." in need:
        joins.append("LEFT JOIN (SELECT task_id, arg_max(verdict, id) AS verdict FROM reviews GROUP BY task_id) rv"
                     " ON rv.task_id = r.task_id")
    if full or "st." in need:
        joins.append(f"LEFT JOIN {stats_source} st ON st.rollout_id = r.id")
    if full or "src." in need:
        joins.append("LEFT JOIN rollout_sources src ON src.rollout_id = r.id")
    sql = f"SELECT {columns} FROM rollouts r {' '.join(joins)} WHERE {' AND '.join(where)}"
    return sql, join_params + params


def count_rollouts(store: Store, spec: FilterSpec) -> int:
    with store.lock:
        sql, params = _filtered_sql(store, spec, "r.id")
        return int(store.fetchone(f"SELECT count(*) FROM ({sql})", params)[0])


def select_rollouts(store: Store, spec: FilterSpec, limit: int | None = None, offset: int = 0,
                    order: str = "rollout_id") -> list[dict[str, Any]]:
    """Rows (dicts) of the selected rollouts with their task, score, review and message aggregates."""
    if order not in {"rollout_id", "recall", "total_tokens", "steps", "patch_lines"}:
        raise StoreError(f"cannot order by {order!r}")
    with store.lock:
        sql, params = _filtered_sql(store, spec)
        tail = f" ORDER BY {order}, rollout_id"
        if limit is not None:
            tail += " LIMIT ? OFFSET ?"
            params = [*params, int(limit), int(offset)]
        return store.fetchdicts(f"SELECT * FROM ({sql}){tail}", params)


# -- pairs (a task with a T1 and a T2 rollout) ---------------------------------------------------

def _pairs_sql(store: Store, spec: FilterSpec, lean: bool = False) -> tuple[str, list[Any]]:
    """Tasks whose T1 and T2 exist and whose stage(s) chosen by `spec.stage` pass the filters.

    lean: only task ids (for counting)."""
    both = FilterSpec.from_dict({**spec.to_dict(), "stage": "both"})
    if spec.stage not in ("T1", "T2", "both"):
        raise StoreError(f"unknown stage {spec.stage!r} (T1, T2 or both)")
    need = {"both": "count(DISTINCT f.stage) = 2", "T1": "bool_or(f.stage = 'T1')",
            "T2": "bool_or(f.stage = 'T2')"}[spec.stage]
    if lean:
        sql, params = _filtered_sql(store, both, _LEAN_COLUMNS)
        return f"""
            SELECT f.task_id FROM ({sql}) f
            WHERE f.rollout_id IN (SELECT rollout_id FROM _curation_pair_rollouts)
            GROUP BY f.task_id HAVING {need}""", params
    sql, params = _filtered_sql(store, both)
    pairs = f"""
        WITH f AS ({sql})
        SELECT p.task_id, p.t1_id, p.t2_id, any_value(f.state) AS state, any_value(f.category) AS category,
               any_value(f.function) AS function, any_value(f.file) AS file, any_value(f.recall) AS recall,
               any_value(f.verdict) AS verdict, any_value(f.repo) AS repo, any_value(f.run_id) AS run_id,
               max(f.patch_lines) FILTER (WHERE f.stage = 'T1') AS t1_patch_lines,
               max(f.patch_lines) FILTER (WHERE f.stage = 'T2') AS t2_patch_lines,
               max(f.steps) FILTER (WHERE f.stage = 'T2') AS t2_steps,
               max(f.mean_tool_tokens) AS max_mean_tool_tokens
        FROM f JOIN _curation_pairs p ON p.task_id = f.task_id
        WHERE f.rollout_id IN (p.t1_id, p.t2_id)
        GROUP BY p.task_id, p.t1_id, p.t2_id
        HAVING {need}
    """
    return pairs, params


def count_pairs(store: Store, spec: FilterSpec) -> int:
    with store.lock:
        sql, params = _pairs_sql(store, spec, lean=True)
        return int(store.fetchone(f"SELECT count(*) FROM ({sql})", params)[0])


def select_pairs(store: Store, spec: FilterSpec, limit: int | None = None, offset: int = 0) -> list[dict]:
    with store.lock:
        sql, params = _pairs_sql(store, spec)
        tail = " ORDER BY task_id"
        if limit is not None:
            tail += " LIMIT ? OFFSET ?"
            params = [*params, int(limit), int(offset)]
        return store.fetchdicts(f"SELECT * FROM ({sql}){tail}", params)


# -- histograms and stats ------------------------------------------------------------------------

@dataclass(frozen=True)
class Bin:
    lo: float
    hi: float
    count: int


def recall_histogram(store: Store, spec: FilterSpec, bins: int = 10) -> dict[str, Any]:
    """Recall of the distinct tasks among the selected rollouts, in `bins` equal bins over [0, 1].

    Recall 1.0 falls in the last bin. Tasks with undefined recall (NULL) are counted apart.
    """
    if bins < 1:
        raise StoreError("bins must be >= 1")
    with store.lock:
        sql, params = _filtered_sql(store, spec, "r.task_id, sc.recall")  # joins scores only
        rows = store.fetchall(f"""
            WITH t AS (SELECT DISTINCT task_id, recall FROM ({sql}) WHERE task_id IS NOT NULL)
            SELECT CASE WHEN recall IS NULL THEN -1 ELSE least(CAST(floor(recall * ?) AS INTEGER), ? - 1) END
                   AS b, count(*) FROM t GROUP BY b""", [*params, bins, bins])
    counts = dict(rows)
    return {
        "bins": [Bin(i / bins, (i + 1) / bins, int(counts.get(i, 0))) for i in range(bins)],
        "undefined": int(counts.get(-1, 0)),
    }


_DIST = ("min", "p25", "median", "p75", "p90", "max", "mean")


def _distribution(store: Store, sql: str, params: list[Any], column: str) -> dict[str, float | None]:
    row = store.fetchone(f"""
        SELECT min({column}), quantile_cont({column}, 0.25), median({column}), quantile_cont({column}, 0.75),
               quantile_cont({column}, 0.9), max({column}), avg({column}) FROM ({sql})""", params)
    return {k: (float(v) if v is not None else None) for k, v in zip(_DIST, row or [None] * 7)}


def stats(store: Store, spec: FilterSpec, bins: int = 10) -> dict[str, Any]:
    """What `sera stats` shows: counts by state/stage/category/source, recall histogram, distributions."""
    with store.lock:
        sql, params = _filtered_sql(store, spec)
        total = int(store.fetchone(f"SELECT count(*) FROM ({sql})", params)[0])

        def by(col: str) -> dict[str, int]:
            rows = store.fetchall(
                f"SELECT coalesce(CAST({col} AS VARCHAR), '(none)') AS k, count(*) AS n FROM ({sql})"
                " GROUP BY k ORDER BY n DESC, k", params)
            return {k: int(n) for k, n in rows}

        tasks = int(store.fetchone(f"SELECT count(DISTINCT task_id) FROM ({sql})", params)[0])
        hist = recall_histogram(store, spec, bins)
        return {
            "rollouts": total,
            "tasks": tasks,
            "pairs": count_pairs(store, spec),
            "by_state": by("state"),
            "by_stage": by("stage"),
            "by_category": by("category"),
            "by_source": by("source"),
            "by_exit_reason": by("exit_reason"),
            "recall_histogram": [{"lo": b.lo, "hi": b.hi, "count": b.count} for b in hist["bins"]],
            "recall_undefined": hist["undefined"],
            "total_tokens": _distribution(store, sql, params, "total_tokens"),
            "mean_tool_tokens": _distribution(store, sql, params, "mean_tool_tokens"),
            "steps": _distribution(store, sql, params, "steps"),
            "patch_lines": _distribution(store, sql, params, "patch_lines"),
            "filters": spec.to_dict(),
        }


# -- messages in bulk (export) -------------------------------------------------------------------

def load_messages(store: Store, rollout_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Messages of many rollouts with one query, in order, as dicts in engine.trajectory.Message's
    shape (the store does not import the engine; callers use Message.from_dict)."""
    out: dict[int, list[dict[str, Any]]] = {int(i): [] for i in rollout_ids}
    if not out:
        return out
    cur = store.execute(
        "SELECT rollout_id, role, content, reasoning, CAST(tool_calls AS VARCHAR) AS tool_calls, tool_call_id,"
        " name, tokens, prompt_tokens, completion_tokens, model_latency_ms, tool_time_ms, tool_error"
        # The BETWEEN lets DuckDB skip row groups by their min/max (messages arrive in rollout order).
        " FROM messages WHERE rollout_id BETWEEN ? AND ? AND rollout_id IN (SELECT unnest(?::INTEGER[]))"
        " ORDER BY rollout_id, idx", [min(out), max(out), list(out)])
    cols = [d[0] for d in cur.description]
    for row in cur.fetchall():
        d = dict(zip(cols, row))
        calls = d.pop("tool_calls")
        d["tool_calls"] = [{"id": str(c.get("id") or ""), "name": str(c.get("name") or ""),
                            "arguments": _arguments_text(c.get("arguments"))}
                           for c in (json.loads(calls) if calls else None) or []]
        d["tool_error"] = bool(d["tool_error"])
        out[d.pop("rollout_id")].append(d)
    return out


def _arguments_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


# -- imported rollouts ---------------------------------------------------------------------------

def add_imported_rollout(store: Store, *, run_id: int, source: str, source_ref: str | None,
                         source_path: str, task_text: str | None, model: str | None, exit_reason: str,
                         patch: str | None, patch_lines: int, messages: Iterable[Any],
                         cost: float = 0.0, prompt_tokens: int = 0, completion_tokens: int = 0,
                         error: str | None = None) -> int:
    """Write a finished rollout read from another agent's trajectory, with all its messages
    (engine.trajectory.Message objects)."""
    msgs = list(messages)
    steps = sum(1 for m in msgs if m.role == "assistant")
    with store.lock, store.transaction():
        rid = store.insert_returning_id(
            "INSERT INTO rollouts (run_id, task_id, stage, source, model, task_text, status, exit_reason, patch,"
            " patch_lines, steps, prompt_tokens, completion_tokens, cost, error, finished_at)"
            " VALUES (?, NULL, 'imported', ?, ?, ?, 'finished', ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp)"
            " RETURNING id",
            [run_id, source, model, task_text, exit_reason, patch, patch_lines, steps, prompt_tokens,
             completion_tokens, cost, error])
        store.execute("INSERT INTO rollout_sources VALUES (?, ?, ?)", [rid, source_ref, source_path])
        if msgs:
            store.conn.executemany(
                "INSERT INTO messages (rollout_id, idx, role, content, reasoning, tool_calls, tool_call_id, name,"
                " tokens, tool_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [[rid, i, m.role, m.content, m.reasoning,
                  json.dumps([{"id": c.id, "name": c.name, "arguments": c.arguments} for c in m.tool_calls])
                  if m.tool_calls else None, m.tool_call_id, m.name, m.tokens, m.tool_error]
                 for i, m in enumerate(msgs)])
    refresh_rollout_stats(store, [rid])
    return rid


def imported_refs(store: Store, source_path: str) -> set[str | None]:
    """Instance refs already imported from this file (re-importing a file adds only what is new)."""
    return {r[0] for r in store.fetchall("SELECT source_ref FROM rollout_sources WHERE source_path = ?",
                                         [source_path])}


# -- datasets ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DatasetRow:
    id: int
    name: str
    path: str
    format: str
    filters: dict[str, Any]
    tokenizer: str | None
    max_len: int | None
    n_examples: int


@dataclass(frozen=True)
class DatasetExample:
    rollout_id: int
    position: int
    truncation_ratio: float
    n_tokens: int


def dataset_name_taken(store: Store, name: str) -> bool:
    return bool(store.fetchone("SELECT count(*) FROM datasets WHERE name = ?", [name])[0])


def record_dataset(store: Store, *, name: str, path: str, format: str, filters: dict[str, Any],
                   tokenizer: str | None, max_len: int | None,
                   examples: Sequence[DatasetExample]) -> int:
    if dataset_name_taken(store, name):
        raise StoreError(f"a dataset named {name!r} already exists; choose another --name")
    with store.lock, store.transaction():
        did = store.insert_returning_id(
            "INSERT INTO datasets (name, path, format, filters, tokenizer, max_len, n_examples)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [name, path, format, json.dumps(filters), tokenizer, max_len, len(examples)])
        if examples:  # one statement: executemany is row by row
            store.execute(
                "INSERT INTO dataset_examples SELECT ?, unnest(?::INTEGER[]), unnest(?::INTEGER[]),"
                " unnest(?::DOUBLE[]), unnest(?::INTEGER[])",
                [did, [e.rollout_id for e in examples], [e.position for e in examples],
                 [e.truncation_ratio for e in examples], [e.n_tokens for e in examples]])
    return did


def get_dataset(store: Store, name: str) -> tuple[DatasetRow, list[DatasetExample]]:
    rows = store.fetchdicts("SELECT * FROM datasets WHERE name = ?", [name])
    if not rows:
        raise StoreError(f"no dataset named {name!r}")
    d = rows[0]
    filters = d["filters"]
    ds = DatasetRow(d["id"], d["name"], d["path"], d["format"],
                    json.loads(filters) if isinstance(filters, str) else (filters or {}),
                    d["tokenizer"], d["max_len"], int(d["n_examples"] or 0))
    ex = [DatasetExample(int(r), int(p), float(t), int(n)) for r, p, t, n in store.fetchall(
        "SELECT rollout_id, position, truncation_ratio, n_tokens FROM dataset_examples"
        " WHERE dataset_id = ? ORDER BY position", [ds.id])]
    return ds, ex


def rollout_meta(store: Store, rollout_ids: Sequence[int], recall_mode: str = "sera") -> dict[int, dict]:
    """The per-example `meta` fields for export, by rollout id."""
    if not rollout_ids:
        return {}
    rows = store.fetchdicts("""
        SELECT r.id AS rollout_id, r.task_id, r.stage, r.source, r.model, r.exit_reason, r.patch_lines,
               sc.recall, t.category, src.source_ref
        FROM rollouts r LEFT JOIN tasks t ON t.id = r.task_id
        LEFT JOIN (SELECT task_id, arg_max(recall, created_at) AS recall FROM scores WHERE mode = ?
                   GROUP BY task_id) sc ON sc.task_id = r.task_id
        LEFT JOIN rollout_sources src ON src.rollout_id = r.id
        WHERE r.id IN (SELECT unnest(?::INTEGER[]))""", [recall_mode, list(rollout_ids)])
    return {int(d["rollout_id"]): d for d in rows}
