"""OAuth scope strings (RFC 6749 §3.3): parsed once into ordered, de-duplicated tuples."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["check_scopes", "format_scope", "parse_scope"]

# scope-token = 1*( %x21 / %x23-5B / %x5D-7E ): visible ASCII without '"' and '\'.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """The scopes in first-seen order without repeats; ValueError on an empty or ill-formed token."""
    result: dict[str, None] = {}
    for scope in scopes:
        if not isinstance(scope, str) or not _SCOPE_TOKEN.fullmatch(scope):
            raise ValueError(
                f"{scope!r} is not a valid scope (visible ASCII, no spaces, quotes or backslashes)"
            )
        result[scope] = None
    return tuple(result)


def parse_scope(text: str) -> tuple[str, ...]:
    """Split a space-separated scope parameter; ValueError when a token is ill-formed."""
    return check_scopes(token for token in text.split(" ") if token)


def format_scope(scopes: Iterable[str]) -> str:
    return " ".join(scopes)
