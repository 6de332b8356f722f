"""Canonical JSON: one document, one byte sequence, so its ETag agrees across replicas and restarts.

Keys are sorted and separators compact; dict insertion order, the replica and the Python run never
change the bytes. Lists keep their order: builders sort the lists whose order carries no meaning.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["canonical_json"]


def canonical_json(document: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no insignificant whitespace; NaN and infinities are refused."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
