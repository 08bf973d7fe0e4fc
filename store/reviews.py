"""Human review verdicts on pairs, and the borderline-recall review queue.

A task can be reviewed many times; its *latest* verdict counts (that is what the curation filter
`verdicts` reads). Undo deletes the newest review row, so the previous verdict shows again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from store.db import Store, StoreError

VERDICTS = ("accept", "reject", "skip")

# The newest score row per (task, mode): the pipeline may rescore a pair.
_LATEST_SCORES = """
    SELECT task_id, mode, recall FROM scores
    QUALIFY row_number() OVER (PARTITION BY task_id, mode ORDER BY created_at DESC) = 1
"""
_LATEST_REVIEWS = """
    SELECT task_id, verdict, note, created_at FROM reviews
    QUALIFY row_number() OVER (PARTITION BY task_id ORDER BY id DESC) = 1
"""


@dataclass(frozen=True)
class Review:
    id: int
    task_id: int
    verdict: str
    note: str | None
    reviewer: str | None
    created_at: datetime | None


@dataclass(frozen=True)
class ReviewProgress:
    total: int       # pairs in the band
    reviewed: int    # of those, with an accept or reject verdict
    accepted: int
    rejected: int
    skipped: int     # latest verdict "skip": still waiting in the queue

    @property
    def remaining(self) -> int:
        return self.total - self.reviewed


@dataclass(frozen=True)
class ReviewItem:
    """What a reviewer needs to judge one pair."""

    task_id: int
    run_id: int
    function: str | None
    file: str | None
    category: str | None
    instruction: str | None
    state: str
    pr_text: str | None
    patch_t1: str | None
    patch_t2: str | None
    recall_sera: float | None
    recall_per_file: float | None
    verdict: str | None
    note: str | None


def add_review(store: Store, task_id: int, verdict: str, note: str | None = None,
               reviewer: str | None = None) -> Review:
    """Record a verdict (accept | reject | skip) for a task at once."""
    if verdict not in VERDICTS:
        raise StoreError(f"unknown verdict {verdict!r}; use one of {', '.join(VERDICTS)}")
    if store.fetchone("SELECT 1 FROM tasks WHERE id=?", [task_id]) is None:
        raise StoreError(f"no task with id {task_id}")
    rid = store.insert_returning_id(
        "INSERT INTO reviews (task_id, verdict, note, reviewer) VALUES (?, ?, ?, ?) RETURNING id",
        [task_id, verdict, note or None, reviewer],
    )
    review = get_review(store, rid)
    assert review is not None
    return review


def get_review(store: Store, review_id: int) -> Review | None:
    rows = store.fetchdicts("SELECT * FROM reviews WHERE id=?", [review_id])
    return _review(rows[0]) if rows else None


def set_note(store: Store, task_id: int, note: str) -> Review:
    """Attach a note to the task's latest review (a note needs a verdict to belong to)."""
    row = store.fetchone("SELECT max(id) FROM reviews WHERE task_id=?", [task_id])
    if row is None or row[0] is None:
        raise StoreError(f"task {task_id} has no review yet; give a verdict first")
    store.execute("UPDATE reviews SET note=? WHERE id=?", [note or None, row[0]])
    review = get_review(store, int(row[0]))
    assert review is not None
    return review


def undo_last_review(store: Store, task_ids: list[int] | None = None) -> Review | None:
    """Delete the newest review (among `task_ids` when given) and return it; None if there is none."""
    sql, params = "SELECT * FROM reviews", []
    if task_ids is not None:
        if not task_ids:
            return None
        sql += f" WHERE task_id IN ({', '.join('?' * len(task_ids))})"
        params = list(task_ids)
    with store.lock:
        rows = store.fetchdicts(sql + " ORDER BY id DESC LIMIT 1", params)
        if not rows:
            return None
        store.execute("DELETE FROM reviews WHERE id=?", [rows[0]["id"]])
    return _review(rows[0])


def history(store: Store, task_id: int) -> list[Review]:
    return [_review(d) for d in store.fetchdicts("SELECT * FROM reviews WHERE task_id=? ORDER BY id",
                                                 [task_id])]


def latest_verdicts(store: Store, task_ids: list[int] | None = None) -> dict[int, str]:
    """task id -> its latest verdict (tasks never reviewed are absent)."""
    sql, params = f"SELECT task_id, verdict FROM ({_LATEST_REVIEWS})", []
    if task_ids is not None:
        if not task_ids:
            return {}
        sql += f" WHERE task_id IN ({', '.join('?' * len(task_ids))})"
        params = list(task_ids)
    return {int(t): v for t, v in store.fetchall(sql, params)}


def _band_sql(mode: str, repo: str | None, run_id: int | None) -> tuple[str, list]:
    if mode not in ("sera", "per-file"):
        raise StoreError(f"unknown recall mode {mode!r}; use sera or per-file")
    sql = f"""
        FROM tasks t
        JOIN ({_LATEST_SCORES}) s ON s.task_id = t.id AND s.mode = ?
        LEFT JOIN ({_LATEST_REVIEWS}) r ON r.task_id = t.id
        LEFT JOIN repos rp ON rp.id = t.repo_id
        WHERE s.recall IS NOT NULL AND s.recall >= ? AND s.recall <= ?
    """
    params: list = [mode]
    extra = ""
    if repo is not None:
        extra += " AND rp.name = ?"
    if run_id is not None:
        extra += " AND t.run_id = ?"
    return sql + extra, params


def _band_params(params: list, lo: float, hi: float, repo: str | None, run_id: int | None) -> list:
    out = [*params, lo, hi]
    if repo is not None:
        out.append(repo)
    if run_id is not None:
        out.append(run_id)
    return out


def _check_band(lo: float, hi: float) -> None:
    if not (0.0 <= lo <= hi <= 1.0):
        raise StoreError(f"borderline band must satisfy 0 <= lo <= hi <= 1, got {lo}-{hi}")


def borderline_queue(store: Store, lo: float = 0.4, hi: float = 0.8, mode: str = "sera",
                     include_reviewed: bool = False, *, repo: str | None = None,
                     run_id: int | None = None) -> list[int]:
    """Task ids whose recall (in `mode`) lies in [lo, hi], in review order.

    Unreviewed pairs come first, then skipped ones; accepted/rejected pairs only with
    include_reviewed. Within a group: by task id (stable across sessions).
    """
    _check_band(lo, hi)
    body, params = _band_sql(mode, repo, run_id)
    if not include_reviewed:
        body += " AND (r.verdict IS NULL OR r.verdict = 'skip')"
    order = "ORDER BY (r.verdict IS NOT NULL), t.id"
    rows = store.fetchall(f"SELECT t.id {body} {order}", _band_params(params, lo, hi, repo, run_id))
    return [int(r[0]) for r in rows]


def review_progress(store: Store, lo: float = 0.4, hi: float = 0.8, mode: str = "sera", *,
                    repo: str | None = None, run_id: int | None = None) -> ReviewProgress:
    _check_band(lo, hi)
    body, params = _band_sql(mode, repo, run_id)
    row = store.fetchone(
        f"""SELECT count(*),
                   count(*) FILTER (WHERE r.verdict IN ('accept', 'reject')),
                   count(*) FILTER (WHERE r.verdict = 'accept'),
                   count(*) FILTER (WHERE r.verdict = 'reject'),
                   count(*) FILTER (WHERE r.verdict = 'skip')
            {body}""",
        _band_params(params, lo, hi, repo, run_id),
    )
    assert row is not None
    return ReviewProgress(*(int(x) for x in row))


def review_item(store: Store, task_id: int) -> ReviewItem:
    """The instruction, PR, both patches, recall in both modes and the latest verdict of a task."""
    rows = store.fetchdicts(
        f"""
        SELECT t.id, t.run_id, t.function, t.file, t.category, t.instruction, t.state,
               (SELECT pr_text FROM prs p WHERE p.task_id = t.id
                ORDER BY p.accepted DESC, p.attempt DESC LIMIT 1) AS pr_text,
               (SELECT patch FROM rollouts o WHERE o.task_id = t.id AND o.stage = 'T1'
                ORDER BY o.id DESC LIMIT 1) AS patch_t1,
               (SELECT patch FROM rollouts o WHERE o.task_id = t.id AND o.stage = 'T2'
                ORDER BY o.id DESC LIMIT 1) AS patch_t2,
               (SELECT recall FROM ({_LATEST_SCORES}) s WHERE s.task_id = t.id AND s.mode = 'sera')
                   AS recall_sera,
               (SELECT recall FROM ({_LATEST_SCORES}) s WHERE s.task_id = t.id AND s.mode = 'per-file')
                   AS recall_per_file,
               r.verdict, r.note
        FROM tasks t LEFT JOIN ({_LATEST_REVIEWS}) r ON r.task_id = t.id
        WHERE t.id = ?
        """,
        [task_id],
    )
    if not rows:
        raise StoreError(f"no task with id {task_id}")
    d = rows[0]
    return ReviewItem(
        task_id=int(d["id"]), run_id=int(d["run_id"]), function=d["function"], file=d["file"],
        category=d["category"], instruction=d["instruction"], state=d["state"], pr_text=d["pr_text"],
        patch_t1=d["patch_t1"], patch_t2=d["patch_t2"], recall_sera=d["recall_sera"],
        recall_per_file=d["recall_per_file"], verdict=d["verdict"], note=d["note"],
    )


def _review(d: dict) -> Review:
    return Review(int(d["id"]), int(d["task_id"]), d["verdict"], d["note"], d["reviewer"], d["created_at"])
