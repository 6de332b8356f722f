"""CORS for the discovery documents, so browser-based MCP clients can read them.

The documents are public and read without credentials, so `Access-Control-Allow-Credentials` is
never sent and `*` is a safe setting. With a list of origins the answer depends on `Origin`, so
every response (200, 304, preflight, and those to an origin not listed) says `Vary: Origin`, or a
shared cache would hand one origin's answer to another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Final
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from proxy.errors import SidecarError

__all__ = [
    "ALLOW_HEADERS",
    "ALLOW_METHODS",
    "CORS_METHOD_NOT_ALLOWED",
    "CORS_ORIGIN_NOT_ALLOWED",
    "EXPOSE_HEADERS",
    "CorsSettings",
    "cors_headers",
    "preflight",
]

ALLOW_METHODS: Final = "GET, HEAD, OPTIONS"
ALLOW_HEADERS: Final = "Authorization, If-Modified-Since, If-None-Match, MCP-Protocol-Version"
# Cache-Control, Content-Type and Last-Modified are readable by scripts anyway (CORS-safelisted).
EXPOSE_HEADERS: Final = "ETag"

CORS_ORIGIN_NOT_ALLOWED: Final = "cors_origin_not_allowed"
CORS_METHOD_NOT_ALLOWED: Final = "cors_method_not_allowed"

_PREFLIGHT_METHODS: Final = frozenset({"GET", "HEAD"})


def _origin(entry: str) -> str:
    """`*`, or an origin in the form browsers send it: lower-case, no path, no trailing slash."""
    if entry == "*":
        return entry
    parts = urlsplit(entry.strip().lower())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("an origin such as https://app.example, or *")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError("an origin is scheme://host[:port] only, without path, query or user")
    return f"{parts.scheme}://{parts.netloc}"


class CorsSettings(BaseModel):
    """`allow_origins`: exact origins (`https://app.example`) or the single entry `*` (any origin);
    empty: no cross-origin reads. `max_age`: how long a browser may reuse a preflight answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow_origins: list[Annotated[str, AfterValidator(_origin)]] = []
    max_age: Annotated[int, Field(ge=0, le=86400)] = 600

    @field_validator("allow_origins")
    @classmethod
    def _wildcard_alone(cls, value: list[str]) -> list[str]:
        if "*" in value and len(value) > 1:
            raise ValueError("'*' allows every origin and must be the only entry")
        return value

    @property
    def any_origin(self) -> bool:
        return self.allow_origins == ["*"]

    def allows(self, origin: str) -> bool:
        return self.any_origin or origin.lower() in self.allow_origins


def cors_headers(origin: str | None, settings: CorsSettings, *, preflight: bool) -> dict[str, str]:
    """Headers to merge into a discovery response (any status). An origin not listed gets no
    `Access-Control-Allow-Origin`: the browser then withholds the response from the script."""
    headers: dict[str, str] = {}
    if settings.allow_origins and not settings.any_origin:
        headers["Vary"] = "Origin"
    if origin is None or not settings.allows(origin):
        return headers
    headers["Access-Control-Allow-Origin"] = "*" if settings.any_origin else origin
    if preflight:
        headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
        headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        headers["Access-Control-Max-Age"] = str(settings.max_age)
    else:
        headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    return headers


def preflight(headers: Mapping[str, str], settings: CorsSettings) -> dict[str, str]:
    """Headers of the 204 answering an OPTIONS request to a discovery route.

    A plain OPTIONS (no `Origin` or no `Access-Control-Request-Method`) just learns `Allow`. A CORS
    preflight from an origin not listed, or for a method other than GET/HEAD, is refused with 403 and
    a code saying which, so a developer sees why instead of a bare browser error. Requested headers
    are not checked: the browser compares them with `Access-Control-Allow-Headers` itself.
    """
    origin = headers.get("Origin")
    method = headers.get("Access-Control-Request-Method")
    if origin is not None and method is not None:
        if not settings.allows(origin):
            raise SidecarError(
                403,
                CORS_ORIGIN_NOT_ALLOWED,
                "this origin may not read the discovery documents (discovery.cors.allow_origins)",
                headers=cors_headers(origin, settings, preflight=True),
            )
        if method not in _PREFLIGHT_METHODS:
            raise SidecarError(
                403,
                CORS_METHOD_NOT_ALLOWED,
                f"discovery documents are read-only; allowed methods: {ALLOW_METHODS}",
                headers=cors_headers(origin, settings, preflight=True),
            )
    return {"Allow": ALLOW_METHODS, **cors_headers(origin, settings, preflight=method is not None)}
