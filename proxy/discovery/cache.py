"""Built discovery documents, kept while what they are built from stays the same.

Clients poll the manifest; rebuilding it (the anonymous view, canonical JSON, sha256) on every poll
is waste. A document is kept under the inputs it was built from (the site's enabled toolsets, the
anonymous user's capabilities, the signing key ids) and every kept one is forgotten when the config
generation changes (a reload), so a changed input always gives a freshly built document.

`Last-Modified` is the time this process first served a document's current bytes, in whole seconds
and always later than the date of the bytes they replaced (a change within one second is dated a
second ahead, which the Last-Modified header never shows early: proxy.discovery.conditional), so an
If-Modified-Since naming older bytes never matches newer ones. Switches and WordPress capabilities
change the manifest without touching any file, so no file time could say when it changed. The date
is therefore per replica; the content ETag is the validator every replica agrees on.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Hashable

from cachetools import LRUCache

from proxy.discovery.conditional import Representation

__all__ = ["RepresentationCache"]


class RepresentationCache:
    """`get(document, inputs, build)`: the representation of `document` (a stable name such as
    `("demo", "manifest")`) built from `inputs`; `build` runs only when they are new."""

    def __init__(self, *, maxsize: int = 1024, clock: Callable[[], float] = time.time) -> None:
        self._built: LRUCache[Hashable, Representation] = LRUCache(maxsize=maxsize)
        self._since: dict[Hashable, tuple[str, float]] = {}  # document -> (current ETag, served since)
        self._generation: object = None
        self._clock = clock

    def bind(self, generation: object) -> None:
        """Forget every built document when the config generation (the Runtime) is another one."""
        if generation is not self._generation:
            self._built.clear()
            self._generation = generation

    def get(self, document: Hashable, inputs: Hashable, build: Callable[[], object]) -> Representation:
        key = (document, inputs)
        rep = self._built.get(key)
        if rep is None:
            rep = Representation.of_json(build(), last_modified=0.0)
        since = self._served_since(document, rep.etag)
        if rep.last_modified != since:
            rep = dataclasses.replace(rep, last_modified=since)
            self._built[key] = rep
        return rep

    def _served_since(self, document: Hashable, etag: str) -> float:
        seen = self._since.get(document)
        if seen is None or seen[0] != etag:
            now = float(int(self._clock()))
            # strictly later than the bytes it replaces, even within one second: an If-Modified-Since
            # carrying the old date must never match the new bytes
            seen = (etag, now if seen is None else max(now, seen[1] + 1))
            self._since[document] = seen
        return seen[1]
