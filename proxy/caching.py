"""Caches on the request path: reading cachetools caches cheaply, and a bounded memo for values that
are worked out from their key."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

__all__ = ["ExpiringMemo", "Memo", "cached"]

K = TypeVar("K")
V = TypeVar("V")
D = TypeVar("D")
K_contra = TypeVar("K_contra", contravariant=True)
V_co = TypeVar("V_co", covariant=True)


class _Subscriptable(Protocol[K_contra, V_co]):
    def __getitem__(self, key: K_contra, /) -> V_co: ...


def cached(cache: _Subscriptable[K, V], key: K, default: D) -> V | D:
    """`cache[key]`, or `default` when it is absent (or expired): one expiry check, where a mapping's
    `get(key, default)` asks `key in cache` and then reads the entry (two)."""
    try:
        return cache[key]
    except KeyError:
        return default


class Memo(dict[K, V]):
    """A dict of at most `maxsize` remembered answers, emptied when full.

    For answers that are worked out again at will (a parsed route, an opened session id, a derived
    object): a hit is one C-level `dict.get`, where a cachetools LRUCache costs five Python calls
    (get, __contains__, __getitem__ and its recency update) on every request. Emptying when full keeps
    memory bounded under a flood of distinct keys; the keys still in use come straight back. Not for
    state that must survive (rate-limit counters keep their LRU).
    """

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize

    def remember(self, key: K, value: V) -> V:
        if len(self) >= self.maxsize and key not in self:
            self.clear()
        self[key] = value
        return value


class ExpiringMemo(Generic[K, V]):
    """Answers remembered for `ttl` seconds (at most `maxsize`, emptied when full): the caches read on
    every request (API keys, capabilities, upstream credentials, token revocations).

    What a cachetools TTLCache does for them at a third of the cost: a read is one Python call, a dict
    lookup and a clock read, where TTLCache's goes through three Python calls and a timer context.
    There is no recency order to keep: when full, the keys still in use come straight back. An expired
    entry is dropped when it is next read.
    """

    __slots__ = ("_entries", "_timer", "ttl")

    def __init__(self, maxsize: int, ttl: float, timer: Callable[[], float] = time.monotonic) -> None:
        self._entries: Memo[K, tuple[float, V]] = Memo(maxsize)  # (expires at, answer)
        self._timer = timer
        self.ttl = ttl

    def __getitem__(self, key: K) -> V:
        expires, value = self._entries[key]
        if self._timer() < expires:
            return value
        del self._entries[key]
        raise KeyError(key)

    def __setitem__(self, key: K, value: V) -> None:
        self._entries.remember(key, (self._timer() + self.ttl, value))

    def __len__(self) -> int:
        return len(self._entries)

    def pop(self, key: K, default: D) -> V | D:
        """Forget `key`; its answer if it was still fresh, else `default`."""
        entry = self._entries.pop(key, None)
        return entry[1] if entry is not None and self._timer() < entry[0] else default

    def clear(self) -> None:
        self._entries.clear()
