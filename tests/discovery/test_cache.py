"""The representation cache: built once per inputs, forgotten on a new generation, and dated so an
If-Modified-Since naming older bytes never matches newer ones."""

from __future__ import annotations

from proxy.discovery.cache import RepresentationCache


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_built_once_per_inputs() -> None:
    cache = RepresentationCache(clock=Clock(1000.5))
    built: list[int] = []

    def build(value: int) -> dict[str, int]:
        built.append(value)
        return {"v": value}

    first = cache.get("doc", 1, lambda: build(1))
    assert cache.get("doc", 1, lambda: build(1)) is first
    other = cache.get("doc", 2, lambda: build(2))
    assert built == [1, 2]
    assert other.etag != first.etag
    assert first.last_modified == 1000.0  # whole seconds


def test_a_new_generation_rebuilds_but_keeps_the_date_of_unchanged_bytes() -> None:
    clock = Clock(1000.0)
    cache = RepresentationCache(clock=clock)
    cache.bind("generation-1")
    first = cache.get("doc", None, lambda: {"v": 1})
    clock.now = 2000.0
    cache.bind("generation-2")
    built: list[int] = []

    def build() -> dict[str, int]:
        built.append(1)
        return {"v": 1}

    again = cache.get("doc", None, build)
    assert built == [1]
    assert again.etag == first.etag
    assert again.last_modified == 1000.0


def test_changed_bytes_are_dated_later_than_the_bytes_they_replace() -> None:
    clock = Clock(1000.2)
    cache = RepresentationCache(clock=clock)
    first = cache.get("doc", "a", lambda: {"v": "a"})
    clock.now = 1000.7  # the same second
    second = cache.get("doc", "b", lambda: {"v": "b"})
    assert (first.last_modified, second.last_modified) == (1000.0, 1001.0)
    clock.now = 1500.0
    back = cache.get("doc", "a", lambda: {"v": "a"})  # kept bytes, but they are new again
    assert back.etag == first.etag
    assert back.last_modified == 1500.0
    assert cache.get("doc", "a", lambda: {"v": "a"}) is back


def test_documents_are_dated_independently() -> None:
    clock = Clock(1000.0)
    cache = RepresentationCache(clock=clock)
    cache.get("one", None, lambda: {"v": 1})
    clock.now = 1200.0
    assert cache.get("two", None, lambda: {"v": 1}).last_modified == 1200.0
    assert cache.get("one", None, lambda: {"v": 1}).last_modified == 1000.0
