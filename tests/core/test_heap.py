"""settle_heap: the start-up heap is frozen out of collections and young collections are rarer."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from proxy.heap import YOUNG_THRESHOLD, settle_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_settle_heap_freezes_what_is_loaded_and_raises_the_young_threshold() -> None:
    _, middle, old = gc.get_threshold()
    settle_heap()
    assert gc.get_freeze_count() > 1000  # modules, config, everything loaded so far
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, old)
    assert gc.isenabled()  # cycles are still collected, only less often
