"""GCRA arithmetic, shared by every backend so that memory and Redis decide alike.

A limit's whole state is one number, its TAT (theoretical arrival time): the moment the caller's backlog
would be drained at the sustained rate. A request is admitted when, after adding its cost in emission
intervals (one, or one per call of a batch), the backlog still fits in the tolerance (capacity x
interval). Unlike fixed windows there is no edge at which a second full burst opens. Times are integer
microseconds: exact at the boundary, no float drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Limit", "LimitState", "Verdict", "evaluate"]

_US = 1_000_000


@dataclass(frozen=True, slots=True)
class Limit:
    """One limit a request must pass: its policy name (for headers), storage key, rate, and `cost`: how
    many requests this one counts as against it (the calls of a JSON-RPC batch, say)."""

    name: str
    key: str
    capacity: int
    interval_us: int
    window: int
    cost: int = 1

    @property
    def tolerance_us(self) -> int:
        return self.capacity * self.interval_us

    @property
    def increment_us(self) -> int:
        """How far admitting this request moves the TAT."""
        return self.cost * self.interval_us


@dataclass(frozen=True, slots=True)
class LimitState:
    """One limit after a request.

    `allowed`: this limit alone would admit the request. `remaining`: requests that could still go now.
    `reset_after`: seconds until the full burst is back. `retry_after`: whole seconds (rounded up)
    until this limit admits this request (at its cost) again; 0 when it admits it now.
    """

    name: str
    limit: int
    window: int
    allowed: bool
    remaining: int
    reset_after: float
    retry_after: int


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of checking several limits together: all of them consumed, or none."""

    committed: bool
    tats: tuple[int, ...]
    states: tuple[LimitState, ...]


def _state(limit: Limit, tat: int, now: int, *, allowed: bool) -> LimitState:
    """Describe a limit whose TAT after this request is `tat` (advanced if consumed, else unchanged)."""
    backlog = max(tat - now, 0)
    remaining = max((limit.tolerance_us - backlog) // limit.interval_us, 0)
    wait_us = backlog + limit.increment_us - limit.tolerance_us  # until this request (its cost) fits
    return LimitState(
        name=limit.name,
        limit=limit.capacity,
        window=limit.window,
        allowed=allowed,
        remaining=remaining,
        reset_after=backlog / _US,
        retry_after=0 if allowed else -(-wait_us // _US),
    )


def evaluate(limits: Sequence[Limit], tats: Sequence[int], now: int) -> Verdict:
    """Check every limit against its stored TAT (0 if none) at `now`; consume all only if all admit.

    All-or-nothing matters: a request refused by a per-tool limit must not eat into the principal's
    overall allowance, and the other way round.
    """
    current = [max(tat, now) for tat in tats]
    admits = [
        tat + limit.increment_us - now <= limit.tolerance_us
        for limit, tat in zip(limits, current, strict=True)
    ]
    committed = all(admits)
    after = tuple(
        tat + limit.increment_us if committed else tat for limit, tat in zip(limits, current, strict=True)
    )
    states = tuple(
        _state(limit, tat, now, allowed=ok) for limit, tat, ok in zip(limits, after, admits, strict=True)
    )
    return Verdict(committed=committed, tats=after, states=states)
