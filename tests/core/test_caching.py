"""proxy.caching: `cached` answers what `get` would, expired entries included; memos stay bounded."""

from __future__ import annotations

import pytest
from cachetools import LRUCache, TTLCache

from proxy.caching import ExpiringMemo, Memo, cached


@pytest.mark.parametrize("kind", [TTLCache, ExpiringMemo])
def test_a_ttl_entry_is_read_until_it_expires(kind: type) -> None:
    now = [0.0]
    cache = kind(maxsize=4, ttl=10, timer=lambda: now[0])
    cache["a"] = 1
    cache["none"] = None
    assert cached(cache, "a", -1) == 1
    assert cached(cache, "none", -1) is None  # a cached None is an answer, not a miss
    assert cached(cache, "b", -1) == -1
    now[0] = 10.0
    assert cached(cache, "a", -1) == -1
    assert cache.pop("a", -1) == -1


def test_plain_caches_and_dicts_too() -> None:
    lru: LRUCache[str, int] = LRUCache(maxsize=1)
    lru["a"] = 1
    lru["b"] = 2
    assert (cached(lru, "a", 0), cached(lru, "b", 0)) == (0, 2)
    assert cached({"k": "v"}, "k", None) == "v"


def test_a_memo_holds_at_most_maxsize_answers() -> None:
    memo: Memo[str, int] = Memo(maxsize=2)
    assert memo.remember("a", 1) == 1
    memo.remember("b", 2)
    memo.remember("b", 3)  # a key already held never empties it
    assert dict(memo) == {"a": 1, "b": 3}
    memo.remember("c", 4)  # full: emptied, then the new answer kept
    assert dict(memo) == {"c": 4}
    assert memo.get("a") is None


def test_a_memo_needs_room_for_one() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        Memo(maxsize=0)


def test_an_expiring_memo_forgets_and_stays_bounded() -> None:
    now = [0.0]
    memo: ExpiringMemo[str, int] = ExpiringMemo(2, 10, timer=lambda: now[0])
    memo["a"], memo["b"] = 1, 2
    memo["b"] = 3  # a key already held never empties it
    assert (memo["a"], memo["b"], len(memo)) == (1, 3, 2)
    assert memo.pop("a", None) == 1
    assert cached(memo, "a", None) is None
    memo["a"] = 4
    memo["c"] = 5  # full: emptied, then the new answer kept
    assert (len(memo), cached(memo, "a", None), memo["c"]) == (1, None, 5)
    now[0] = 9.5
    memo["d"] = 6  # remembered later: expires later
    now[0] = 10.0
    assert (cached(memo, "c", None), memo["d"]) == (None, 6)
    memo.clear()
    assert len(memo) == 0
    with pytest.raises(ValueError, match="maxsize"):
        ExpiringMemo(0, 10)
