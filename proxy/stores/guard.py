"""One decorator per backend turns the driver's exceptions into the store's own, and keeps cancellations.

Callers then only ever see `StoreUnavailable` (fail closed with a clear error) or `StoreError`.

A driver may swallow a cancellation that lands during a call (redis-py does: it writes each command
under `asyncio.wait_for`, which on Python 3.11 drops a cancellation that arrives once the write is
done), and the cancelled task then runs on: a background loop would never stop, and shutdown would
wait for it forever. So after every call, a cancellation requested during it (`Task.cancelling()` went
up) is raised again, whatever the call returned or raised. A cancellation already pending before the
call (cleanup code running after one) is left alone.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from proxy.stores.base import StoreError, StoreUnavailable

__all__ = ["translating"]

P = ParamSpec("P")
T = TypeVar("T")
Method = Callable[P, Coroutine[Any, Any, T]]


def translating(
    *,
    backend: str,
    unavailable: tuple[type[Exception], ...],
    failed: type[Exception],
    shielded: bool = False,
) -> Callable[[Method[P, T]], Method[P, T]]:
    """Decorate store methods: `unavailable` errors become StoreUnavailable, other `failed` ones StoreError.

    `shielded` lets a call finish even when its caller is cancelled, so a cancellation can never stop
    a transaction between its BEGIN and its COMMIT/ROLLBACK (the caller still sees CancelledError).
    """

    def decorate(method: Method[P, T]) -> Method[P, T]:
        @functools.wraps(method)
        async def call(*args: P.args, **kwargs: P.kwargs) -> T:
            task = asyncio.current_task()
            requested = task.cancelling() if task is not None else 0
            work = method(*args, **kwargs)
            try:
                result = await (asyncio.shield(work) if shielded else work)
            except unavailable as exc:
                _keep_cancellation(task, requested)
                raise StoreUnavailable(f"{backend} is unreachable: {exc}") from exc
            except failed as exc:
                _keep_cancellation(task, requested)
                raise StoreError(f"{backend} failed: {exc}") from exc
            _keep_cancellation(task, requested)
            return result

        return call

    return decorate


def _keep_cancellation(task: asyncio.Task[Any] | None, requested: int) -> None:
    """Raise CancelledError if `task` was cancelled since it had `requested` pending cancellations."""
    if task is not None and task.cancelling() > requested:
        raise asyncio.CancelledError
