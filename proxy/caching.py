"""Caches on the request path: reading cachetools caches cheaply, and a bounded memo for values that
are worked out from their key."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TypeVar

__all__ = ["Memo", "cached"]

K = TypeVar("K")
V = TypeVar("V")
D = TypeVar("D")


def cached(cache: MutableMapping[K, V], key: K, default: D) -> V | D:
    """`cache[key]`, or `default` when it is absent (or expired).

    What `cache.get(key, default)` answers, at a third of the cost for a TTLCache: its `get` asks
    `key in cache` (one expiry check) and then reads the entry (a second one); a subscript checks once.
    """
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
