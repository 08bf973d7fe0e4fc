"""Drawing a repo's held-out split: pairs kept for evaluation and never exported for training."""

from __future__ import annotations

import random
from dataclasses import dataclass

from store import evals as q
from store.db import Store, StoreError
from store.repos import require_repo


@dataclass(frozen=True)
class HeldoutSplit:
    repo: str
    fraction: float
    seed: int
    n_candidates: int
    newly_heldout: list[int]
    heldout: list[int]


def mark_heldout(store: Store, repo: str, fraction: float, seed: int = 0) -> HeldoutSplit:
    """Hold out `fraction` of the repo's usable pairs (seeded, so the same call draws the same tasks).

    Tasks already held out stay held out and count toward the fraction: a task that may have been
    evaluated never goes back into training data.
    """
    if not 0.0 < fraction < 1.0:
        raise StoreError(f"held-out fraction must be between 0 and 1 (exclusive), got {fraction}")
    row = require_repo(store, repo)
    candidates = q.heldout_candidates(store, row.id)
    already = set(q.heldout_task_ids(store, row.id))
    want = max(1, round(fraction * len(candidates))) if candidates else 0
    free = [t for t in candidates if t not in already]
    need = max(0, want - len(already & set(candidates)))
    new = sorted(random.Random(seed).sample(free, min(need, len(free))))
    q.record_heldout(store, repo_id=row.id, task_ids=new, fraction=fraction, seed=seed, n_candidates=len(candidates))
    return HeldoutSplit(repo, fraction, seed, len(candidates), new, q.heldout_task_ids(store, row.id))
