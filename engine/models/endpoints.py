"""Several base URLs for one model: round-robin over healthy endpoints, with bounded retries.

A failing endpoint (5xx, 429, timeout, connection reset) is skipped for a cool-down that grows with
consecutive failures; requests go to the healthy ones. Retries use exponential backoff with full
jitter and stop after `max_retries`; the last error becomes a ModelError.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from engine.models.base import ModelError

C = TypeVar("C")
T = TypeVar("T")


@dataclass
class Endpoint(Generic[C]):
    url: str
    client: C
    failures: int = 0  # consecutive
    down_until: float = 0.0
    requests: int = 0

    def healthy(self, now: float) -> bool:
        return now >= self.down_until


class RetryableError(Exception):
    """Raised by a client's request function for errors worth another try (maybe elsewhere)."""

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class EndpointPool(Generic[C]):
    def __init__(self, endpoints: list[Endpoint[C]], *, cooldown_s: float = 5.0, max_cooldown_s: float = 120.0):
        if not endpoints:
            raise ValueError("at least one endpoint is needed")
        self.endpoints = endpoints
        self.cooldown_s = cooldown_s
        self.max_cooldown_s = max_cooldown_s
        self._next = 0

    def pick(self) -> Endpoint[C]:
        now = time.monotonic()
        n = len(self.endpoints)
        for i in range(n):
            ep = self.endpoints[(self._next + i) % n]
            if ep.healthy(now):
                self._next = (self._next + i + 1) % n
                return ep
        # All cooling down: the one that recovers first.
        return min(self.endpoints, key=lambda e: e.down_until)

    def mark_ok(self, ep: Endpoint[C]) -> None:
        ep.failures = 0
        ep.down_until = 0.0

    def mark_failed(self, ep: Endpoint[C]) -> None:
        ep.failures += 1
        if len(self.endpoints) > 1:  # a lone endpoint is never skipped: backoff does the waiting
            cool = min(self.max_cooldown_s, self.cooldown_s * 2 ** (ep.failures - 1))
            ep.down_until = time.monotonic() + cool


async def with_retries(pool: EndpointPool[C], request: Callable[[Endpoint[C]], Awaitable[T]], *,
                       max_retries: int, backoff_base_s: float = 0.5, backoff_max_s: float = 30.0) -> T:
    """Run `request` on a picked endpoint; on RetryableError back off and try again (bounded)."""
    last: RetryableError | None = None
    for attempt in range(max_retries + 1):
        ep = pool.pick()
        ep.requests += 1
        try:
            result = await request(ep)
        except RetryableError as exc:
            pool.mark_failed(ep)
            last = exc
            if attempt == max_retries:
                break
            delay = random.uniform(0.5, 1.0) * min(backoff_max_s, backoff_base_s * 2 ** attempt)
            if exc.retry_after_s is not None:
                delay = max(delay, min(exc.retry_after_s, backoff_max_s))
            await asyncio.sleep(delay)
            continue
        pool.mark_ok(ep)
        return result
    raise ModelError(f"gave up after {max_retries + 1} attempts: {last}")


def retry_after(headers: object) -> float | None:
    """Seconds from a Retry-After header, if any (numeric form only)."""
    try:
        value = headers.get("retry-after") if headers is not None else None  # type: ignore[attr-defined]
        return float(value) if value else None
    except (TypeError, ValueError):
        return None
