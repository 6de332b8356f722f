"""A short circuit breaker for the shared store, so that an outage costs one timeout, not one per request."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["StoreBreaker"]


class StoreBreaker:
    """After a failure the store is skipped for `cooldown` seconds; then the next request tries it again.

    There is no permanently tripped state: one success closes the breaker.
    """

    def __init__(self, *, cooldown: float, clock: Callable[[], float]) -> None:
        self._cooldown = cooldown
        self._clock = clock
        self._down = False
        self._until = 0.0

    def open_for(self) -> float:
        """Seconds the store is still skipped; 0 when it should be tried."""
        return max(self._until - self._clock(), 0.0) if self._down else 0.0

    def failed(self) -> bool:
        """Record a failure; True when it starts an outage (the store was healthy until now)."""
        started = not self._down
        self._down = True
        self._until = self._clock() + self._cooldown
        return started

    def succeeded(self) -> bool:
        """Record a success; True when it ends an outage."""
        ended = self._down
        self._down = False
        return ended
