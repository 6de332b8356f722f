"""One decorator per backend turns the driver's exceptions into the store's own.

Callers then only ever see `StoreUnavailable` (fail closed with a clear error) or `StoreError`.
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
            work = method(*args, **kwargs)
            try:
                return await (asyncio.shield(work) if shielded else work)
            except unavailable as exc:
                raise StoreUnavailable(f"{backend} is unreachable: {exc}") from exc
            except failed as exc:
                raise StoreError(f"{backend} failed: {exc}") from exc

        return call

    return decorate
