"""GCRA state kept in this process: the `memory` backend, and the fail-open fallback of `redis`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cachetools import TLRUCache

from proxy.ratelimit.gcra import Limit, LimitState, evaluate

__all__ = ["MemoryCounters"]


class MemoryCounters:
    """One TAT per key, dropped as soon as it lies in the past (an expired TAT means a full allowance).

    The check runs without an await, so it is atomic on the event loop. `max_keys` bounds memory under a
    flood of distinct callers: the least recently seen caller is forgotten first.
    """

    def __init__(self, *, clock: Callable[[], float], max_keys: int = 100_000) -> None:
        self._tats: TLRUCache[str, int] = TLRUCache(
            maxsize=max_keys,
            ttu=lambda _key, tat, _now: tat,
            timer=lambda: round(clock() * 1_000_000),
        )

    def check(self, limits: Sequence[Limit]) -> tuple[LimitState, ...]:
        """Check and, if every limit admits the request, consume all of them."""
        with self._tats.timer as now:
            verdict = evaluate(limits, [self._tats.get(limit.key, 0) for limit in limits], int(now))
            if verdict.committed:
                for limit, tat in zip(limits, verdict.tats, strict=True):
                    self._tats[limit.key] = tat
        return verdict.states
