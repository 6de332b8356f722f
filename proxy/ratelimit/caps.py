"""Result-size caps: keep `limit`, `per_page` and the like within what the caller's tier may ask for."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["clamp_arguments"]

_DIGITS = re.compile(r"[0-9]+")


def _within(value: Any, cap: int) -> bool:
    """A whole number from 1 to cap, as a JSON number or a decimal string (WordPress accepts both)."""
    whole_float = isinstance(value, float) and value.is_integer()
    if whole_float or (isinstance(value, str) and _DIGITS.fullmatch(value)):
        value = int(value)
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= cap


def _clamp(container: dict[str, Any], path: list[str], cap: int) -> None:
    head, *rest = path
    if head not in container:
        return
    if not rest:
        if not _within(container[head], cap):
            container[head] = cap
        return
    child = container[head]
    if isinstance(child, Mapping):
        container[head] = copied = dict(child)  # copy on write: the caller's arguments stay untouched
        _clamp(copied, rest, cap)


def clamp_arguments(arguments: Mapping[str, Any], caps: Mapping[str, int]) -> dict[str, Any]:
    """A copy of the tool arguments with each capped parameter (a name or dotted path such as
    `parameters.limit` for abilities called through execute-ability) at most its cap.

    A present value stays only if it is a whole number from 1 to the cap. Anything else becomes the
    cap: a larger number, but also 0 or -1 (which many WordPress queries read as "no limit"), null and
    strings like "all". An absent parameter stays absent: the tool's own default applies.
    """
    result = dict(arguments)
    for path, cap in caps.items():
        _clamp(result, path.split("."), cap)
    return result
