"""Discovery settings of one site: how long documents may be cached, who may read them cross-origin,
and where else the manifest is served."""

from __future__ import annotations

from typing import Annotated, Final
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from proxy.discovery.cors import CorsSettings

__all__ = ["DEFAULT_FALLBACK_ROUTES", "DiscoverySettings"]

# Inside the plugin's own REST namespace, so hosts that only route /wp-json/* to the sidecar (no
# /.well-known) still expose the manifest. No mcp-adapter server is named "discovery" by default.
DEFAULT_FALLBACK_ROUTES: Final = ("/wp-json/mcp/discovery",)

_HTTP_URL: Final = TypeAdapter(AnyHttpUrl)


def _route(route: str) -> str:
    parts = urlsplit(route)
    if not route.startswith("/") or parts.netloc or parts.query or parts.fragment:
        raise ValueError("an absolute path such as /wp-json/mcp/discovery")
    if route.startswith("/.well-known/"):
        raise ValueError("a path outside /.well-known/ (the manifest is served there already)")
    return route


def _http_url(value: str) -> str:
    try:
        _HTTP_URL.validate_python(value)
    except ValidationError:
        raise ValueError("an http(s) URL such as https://example.com/docs") from None
    return value  # kept as written: the manifest shows what was configured


class DiscoverySettings(BaseModel):
    """`max_age_seconds`: Cache-Control max-age of every discovery document. `fallback_routes`: more
    paths serving the same manifest as `/.well-known/mcp.json`. `description` and `documentation_url`
    go into the manifest (and the URL into the PRM's `resource_documentation`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_age_seconds: Annotated[int, Field(ge=0, le=86400)] = 300
    cors: CorsSettings = CorsSettings()
    fallback_routes: list[Annotated[str, AfterValidator(_route)]] = list(DEFAULT_FALLBACK_ROUTES)
    description: str | None = None
    documentation_url: Annotated[str, AfterValidator(_http_url)] | None = None

    @field_validator("fallback_routes")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each route listed once")
        return value
