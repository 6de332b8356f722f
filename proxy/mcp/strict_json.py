"""Strict JSON for bodies the sidecar decides on: one reading that cannot differ from the upstream's.

A guard that parses a body differently from the server behind it can be walked around (two `method`
keys, a `NaN`, a 10k-deep array that kills the parser). So client bodies are read strictly: UTF-8 only,
no duplicate keys, no NaN/Infinity, bounded nesting. Each refusal carries a stable `reason`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NoReturn

__all__ = ["DEFAULT_MAX_DEPTH", "StrictJsonError", "dump_json", "load_json", "nesting_exceeds"]

DEFAULT_MAX_DEPTH = 64


class StrictJsonError(ValueError):
    """A body that is not strict JSON; `reason` is the stable snake_case code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _refuse_constant(name: str) -> NoReturn:
    raise StrictJsonError("invalid_json", f"{name} is not valid JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):  # fast path above; only a body with a duplicate pays for the search
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise StrictJsonError("duplicate_key", f"duplicate object key {key[:60]!r}")
            seen.add(key)
    return obj


# Built once: json.loads with any keyword argument builds a new decoder (and its scanner) per call.
_STRICT = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_refuse_constant)
# What _STRICT.decode runs, called without its two Python frames (typeshed does not declare it).
_SCAN: Callable[[str, int], tuple[Any, int]] = _STRICT.scan_once  # type: ignore[attr-defined]
_CONTAINERS = (dict, list)  # a tuple: `dict | list` would build a union object on every call


def nesting_exceeds(value: Any, limit: int) -> bool:
    """True when arrays/objects nest deeper than `limit`; iterative, so any depth is safe to measure."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, _CONTAINERS))
    return False


def load_json(body: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Decode `body` strictly, or raise StrictJsonError: not_utf8, invalid_json, duplicate_key, too_deep."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StrictJsonError("not_utf8", f"body is not valid UTF-8 (byte {exc.start})") from None
    try:
        value = _decode(text)
    except StrictJsonError:
        raise
    except RecursionError:
        raise StrictJsonError("too_deep", f"JSON nests deeper than {max_depth} levels") from None
    except ValueError as exc:  # JSONDecodeError, and int() refusing a number with too many digits
        raise StrictJsonError("invalid_json", f"body is not valid JSON: {exc}") from None
    if (
        isinstance(value, _CONTAINERS)
        and _may_nest_deeper(text, max_depth)
        and nesting_exceeds(value, max_depth)
    ):
        raise StrictJsonError("too_deep", f"JSON nests deeper than {max_depth} levels")
    return value


def _decode(text: str) -> Any:
    """`_STRICT.decode(text)`, with the usual body (a value and nothing around it) scanned in one C call;
    anything else (surrounding whitespace, extra data, no value at all) goes the long way, for its
    exact error."""
    try:
        value, end = _SCAN(text, 0)
    except StopIteration:
        return _STRICT.decode(text)
    return value if end == len(text) else _STRICT.decode(text)


def _may_nest_deeper(text: str, limit: int) -> bool:
    """False when the text holds too few brackets to nest deeper than `limit` (two C-speed counts, none
    for a text that short), so the usual small message skips the walk; brackets inside strings only
    make this more cautious."""
    return len(text) > limit and text.count("[") + text.count("{") > limit


_COMPACT = json.JSONEncoder(separators=(",", ":"))  # built once, not per call as json.dumps(...) would


def dump_json(value: Any) -> str:
    """Compact JSON, ASCII-escaped so any string (even a lone surrogate from upstream) survives encoding."""
    return _COMPACT.encode(value)
