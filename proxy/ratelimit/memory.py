"""GCRA state kept in this process: the `memory` backend, and the fail-open fallback of `redis`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cachetools import LRUCache

from proxy.ratelimit.gcra import Limit, LimitState, evaluate

__all__ = ["MemoryCounters"]


class MemoryCounters:
    """One TAT per key, at most `max_keys` of them: the least recently seen caller is forgotten first,
    which bounds memory under a flood of distinct callers.

    A TAT in the past means a full allowance, exactly as no TAT does, so stale entries need no expiry:
    they wait for eviction (a plain LRU is several times cheaper per request than a time-aware cache).
    The check runs without an await, so it is atomic on the event loop.
    """

    def __init__(self, *, clock: Callable[[], float], max_keys: int = 100_000) -> None:
        self._clock = clock
        self._tats: LRUCache[str, int] = LRUCache(maxsize=max_keys)

    def check(self, limits: Sequence[Limit]) -> tuple[LimitState, ...]:
        """Check and, if every limit admits the request, consume all of them."""
        now = round(self._clock() * 1_000_000)
        tats = self._tats
        verdict = evaluate(limits, [tats.get(limit.key, 0) for limit in limits], now)
        if verdict.committed:
            for limit, tat in zip(limits, verdict.tats, strict=True):
                tats[limit.key] = tat
        return verdict.states
