"""One rule for how long a credential lives, shared by API keys and access tokens.

Lifetimes are whole hours from 1 to a week, or 0 for "never expires": an operator choice that must be
explicit, since such a credential only dies by revocation.
"""

from __future__ import annotations

__all__ = ["MAX_TTL_HOURS", "check_ttl_hours", "expires_at"]

MAX_TTL_HOURS = 168


def check_ttl_hours(value: object, *, what: str) -> int:
    """Return `value` if it is a valid lifetime in hours, else raise ValueError naming `what`."""
    if isinstance(value, bool) or not isinstance(value, int) or not (0 <= value <= MAX_TTL_HOURS):
        raise ValueError(
            f"{what} must be a whole number of hours from 1 to {MAX_TTL_HOURS}, or 0 for never expires;"
            f" got {value!r}"
        )
    return value


def expires_at(now: float, ttl_hours: int) -> float | None:
    """The expiry instant of a credential issued at `now`; None when it never expires."""
    return None if ttl_hours == 0 else now + ttl_hours * 3600
