"""HTTP conditional GET (RFC 9110 section 13) over a fixed representation: 200, 304 or 412.

Discovery documents are fetched often and change rarely; a client that sends back the ETag it holds
gets an empty 304. Precedence follows RFC 9110 section 13.2.2: If-None-Match decides when present,
If-Modified-Since only when it is absent, and only for GET and HEAD. A precondition that does not
parse is ignored, as if it had not been sent, so a garbled header costs a full 200, never a wrong 304.

If-None-Match uses the weak comparison (section 13.1.2): a cache or an nginx with gzip in front may
hand the client `W/"..."` for our strong tag, and that still names the same content.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Final, Literal

from multidict import MultiMapping

from proxy.discovery.canonical import canonical_json

__all__ = ["JSON_CONTENT_TYPE", "Outcome", "Representation", "evaluate", "response_headers"]

JSON_CONTENT_TYPE: Final = "application/json"

# One list member: optional whitespace, then optionally an entity-tag (RFC 9110 section 8.8.3).
_LIST_MEMBER = re.compile(r'[ \t]*(?P<tag>(?:W/)?"(?P<opaque>[^"\x00-\x20\x7f]*)")?[ \t]*')

# The three HTTP-date forms a recipient must accept (RFC 9110 section 5.6.7); anything else is invalid.
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_LONG_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME = r"\d{2}:\d{2}:\d{2}"
_HTTP_DATE = re.compile(
    rf"{_DAY}, \d{{2}} {_MONTH} \d{{4}} {_TIME} GMT"  # IMF-fixdate
    rf"|{_LONG_DAY}, \d{{2}}-{_MONTH}-\d{{2}} {_TIME} GMT"  # obsolete RFC 850
    rf"|{_DAY} {_MONTH} [ \d]\d {_TIME} \d{{4}}"  # obsolete asctime
)


@dataclass(frozen=True, slots=True)
class Representation:
    """The bytes served for a resource. `etag` is derived from the body (strong, sha256, quoted), so
    every replica serving the same bytes sends the same tag. `last_modified` (epoch seconds) is the
    caller's: when the content last changed, not when this process built it."""

    body: bytes
    content_type: str
    last_modified: float
    etag: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "etag", f'"{hashlib.sha256(self.body).hexdigest()}"')

    @classmethod
    def of_json(cls, document: object, *, last_modified: float) -> Representation:
        """A JSON document in its canonical form (sorted keys, compact)."""
        return cls(canonical_json(document), JSON_CONTENT_TYPE, last_modified)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to send: `status` 200 (body for GET, none for HEAD), 304 (not modified, no body) or 412
    (If-None-Match matched on a method other than GET/HEAD). CORS headers, Vary included, are merged
    on top by the caller for every status."""

    status: Literal[200, 304, 412]
    headers: Mapping[str, str]
    body: bytes = b""


def response_headers(rep: Representation, *, max_age: int, now: float | None = None) -> dict[str, str]:
    """Validators and freshness, sent on 200 and repeated on 304 (RFC 9110 section 15.4.5).

    Last-Modified is never later than `now` (section 8.8.2.1); a representation dated ahead (see
    proxy.discovery.cache) shows the present until the clock reaches its date, and the older date a
    client then sends never matches it."""
    shown = min(rep.last_modified, time.time() if now is None else now)
    return {
        "ETag": rep.etag,
        "Last-Modified": email.utils.formatdate(shown, usegmt=True),
        "Cache-Control": f"public, max-age={max_age}",
    }


def evaluate(
    method: str,
    headers: Mapping[str, str],
    rep: Representation,
    *,
    max_age: int,
    now: float | None = None,
) -> Outcome:
    """Answer a request for `rep` given its preconditions.

    `headers` should be case-insensitive (aiohttp's `request.headers`); with a multidict, repeated
    field lines are combined as RFC 9110 section 5.3 says. `now` (epoch seconds) defaults to the clock:
    an If-Modified-Since later than it is invalid and ignored (section 13.1.3).
    """
    method = method.upper()
    safe = method in ("GET", "HEAD")
    validators = response_headers(rep, max_age=max_age, now=now)
    tags = _entity_tags(_field(headers, "If-None-Match"))
    if tags is not None:
        if _none_match_fails(tags, rep.etag):
            return Outcome(304, validators) if safe else Outcome(412, {"ETag": rep.etag})
    elif safe and _not_modified_since(_field(headers, "If-Modified-Since"), rep, now):
        return Outcome(304, validators)
    full = {**validators, "Content-Type": rep.content_type, "Content-Length": str(len(rep.body))}
    return Outcome(200, full, b"" if method == "HEAD" else rep.body)


def _field(headers: Mapping[str, str], name: str) -> str | None:
    if isinstance(headers, MultiMapping):
        lines = headers.getall(name, [])
        return ", ".join(lines) if lines else None
    return headers.get(name)


def _entity_tags(value: str | None) -> tuple[str, ...] | None:
    """`("*",)` for a star, the quoted opaque tags (weakness dropped) of a list, or None when the
    field is absent or not a valid list (then it is ignored)."""
    if value is None:
        return None
    if value.strip(" \t") == "*":
        return ("*",)
    tags: list[str] = []
    pos = 0
    while True:
        member = _LIST_MEMBER.match(value, pos)
        assert member is not None  # every part of the pattern is optional
        if member.group("tag") is not None:
            tags.append(f'"{member.group("opaque")}"')
        pos = member.end()
        if pos == len(value):
            return tuple(tags)
        if value[pos] != ",":
            return None
        pos += 1


def _none_match_fails(tags: tuple[str, ...], etag: str) -> bool:
    """True when the resource matches: `*` (it exists) or any tag equal under weak comparison."""
    return tags == ("*",) or etag in tags


def _not_modified_since(value: str | None, rep: Representation, now: float | None) -> bool:
    if value is None or not _HTTP_DATE.fullmatch(value.strip(" \t")):
        return False
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip(" \t"))
    except (ValueError, OverflowError):
        return False  # e.g. 31 Feb: the right shape, no such day
    since = parsed.replace(tzinfo=parsed.tzinfo or UTC).timestamp()  # asctime carries no zone: GMT
    if since > (time.time() if now is None else now):
        return False
    # Last-Modified is sent in whole seconds, so compare what the client could have seen.
    return int(rep.last_modified) <= since
