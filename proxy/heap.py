"""Garbage-collector settings for a long-running server, applied once everything is loaded.

Two costs dominated a proxied request before this (measured with bench/, see bench/README.md):
- Full collections walk every object in the process: the modules, config, rules and pools loaded at
  start (over 100k objects), on a schedule set by how many objects survive young collections, which
  in-flight requests always do. Freezing the start-up heap takes it out of every later collection.
- Young collections every 700 net allocations fire every few dozen requests just from requests in
  flight. Requests leave no garbage cycles behind on the hot path, so a higher threshold costs no
  memory there and still collects cycles (error paths make some) in batches.
"""

from __future__ import annotations

import gc

__all__ = ["settle_heap"]

# Net container allocations before a young collection (CPython's default is 700).
YOUNG_THRESHOLD = 10_000


def settle_heap() -> None:
    """Collect what start-up left behind, freeze the rest, and make young collections rarer."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
