"""The site manifest at `/.well-known/mcp.json`: what an agent needs to know before its first call.

Shape, `manifest_version` 1 (keys are sorted on the wire; optional strings are left out when unset):

    {
      "manifest_version": 1,
      "name": "Example Blog",
      "description": "...",
      "documentation_url": "https://example.com/agents",
      "mcp": {"url": "http://localhost:8080/wp-json/mcp/mcp-adapter-default-server",
              "transport": "streamable-http",
              "protocol_versions": ["2025-11-25", "2025-06-18", "2024-11-05"]},
      "authentication": [
        {"type": "api_key", "in": "header", "name": "X-API-Key"},
        {"type": "oauth2",
         "protected_resource_metadata": "http://localhost:8080/.well-known/oauth-protected-resource/wp-json/...",
         "authorization_server_metadata": "http://localhost:8080/.well-known/oauth-authorization-server",
         "token_endpoint": "http://localhost:8080/oauth/token",
         "grant_types": ["authorization_code", "client_credentials", "refresh_token"]}
      ],
      "scopes": [{"name": "content:read", "description": "Read posts and pages"}],
      "toolsets": [{"name": "content", "description": "...", "enabled": true}],
      "anonymous": null
    }

`anonymous` is null when anonymous callers are refused, else `{"tools", "abilities", "commands"}`:
the names a caller without credentials may use, already filtered by the caller of this module
(hidden names must never reach it). Lists that are sets are sorted; `protocol_versions` and
`authentication` keep the given order, which is the preference. Nothing time- or replica-dependent
goes in, so the bytes and the ETag are the same on every replica and after every restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from proxy.discovery.conditional import Representation
from proxy.discovery.oauth_metadata import resource_url
from proxy.headers import X_API_KEY

__all__ = [
    "MANIFEST_PATH",
    "MANIFEST_VERSION",
    "UPSTREAM_PROTOCOL_VERSIONS",
    "AnonymousAccess",
    "ManifestInput",
    "OAuthAdvert",
    "ToolsetEntry",
    "build_manifest",
    "manifest_representation",
]

MANIFEST_PATH: Final = "/.well-known/mcp.json"
MANIFEST_VERSION: Final = 1

# What the WordPress mcp-adapter negotiates, newest first. The stateless 2026-07-28 revision belongs
# here only once the sidecar (or the upstream) answers `server/discover` for it.
UPSTREAM_PROTOCOL_VERSIONS: Final = ("2025-11-25", "2025-06-18", "2024-11-05")


@dataclass(frozen=True, slots=True)
class ToolsetEntry:
    name: str
    description: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class OAuthAdvert:
    """Where an OAuth client starts: the PRM URL (`prm_url`), the AS metadata URL
    (`as_metadata_url`), the token endpoint and the grant types the AS accepts."""

    protected_resource_metadata: str
    authorization_server_metadata: str
    token_endpoint: str
    grant_types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AnonymousAccess:
    """Names a caller without credentials may use; only ones that are allowed and not hidden."""

    tools: frozenset[str] = frozenset()
    abilities: frozenset[str] = frozenset()
    commands: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ManifestInput:
    """Everything the manifest says about one site. `base_url` is the public URL agents use (it may
    carry a sub-directory prefix); `api_key_header` None: API keys are not accepted; `oauth` None: no
    OAuth; `anonymous` None: anonymous callers are refused."""

    site_name: str
    base_url: str
    mcp_path: str
    description: str | None = None
    documentation_url: str | None = None
    transport: Literal["streamable-http"] = "streamable-http"
    protocol_versions: tuple[str, ...] = UPSTREAM_PROTOCOL_VERSIONS
    api_key_header: str | None = X_API_KEY
    oauth: OAuthAdvert | None = None
    scopes: Mapping[str, str] = field(default_factory=dict)
    toolsets: tuple[ToolsetEntry, ...] = ()
    anonymous: AnonymousAccess | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"base_url must be an http(s) URL without query or fragment: {self.base_url!r}")
        if not self.mcp_path.startswith("/"):
            raise ValueError(f"mcp_path must be an absolute path: {self.mcp_path!r}")
        if not self.protocol_versions or len(set(self.protocol_versions)) != len(self.protocol_versions):
            raise ValueError("protocol_versions must list each supported version once")
        names = [toolset.name for toolset in self.toolsets]
        if len(set(names)) != len(names):
            raise ValueError(f"toolset names must be unique: {sorted(names)}")


def build_manifest(manifest: ManifestInput) -> dict[str, Any]:
    """The manifest document as plain JSON data (see the module docstring for its shape)."""
    document: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "name": manifest.site_name,
        "mcp": {
            "url": resource_url(manifest.base_url, manifest.mcp_path),
            "transport": manifest.transport,
            "protocol_versions": list(manifest.protocol_versions),
        },
        "authentication": _authentication(manifest),
        "scopes": [
            {"name": name, "description": description}
            for name, description in sorted(manifest.scopes.items())
        ],
        "toolsets": [
            {"name": toolset.name, "description": toolset.description, "enabled": toolset.enabled}
            for toolset in sorted(manifest.toolsets, key=lambda toolset: toolset.name)
        ],
        "anonymous": _anonymous(manifest.anonymous),
    }
    if manifest.description is not None:
        document["description"] = manifest.description
    if manifest.documentation_url is not None:
        document["documentation_url"] = manifest.documentation_url
    return document


def manifest_representation(manifest: ManifestInput, *, last_modified: float) -> Representation:
    """The manifest as served: canonical JSON bytes with their ETag."""
    return Representation.of_json(build_manifest(manifest), last_modified=last_modified)


def _authentication(manifest: ManifestInput) -> list[dict[str, Any]]:
    methods: list[dict[str, Any]] = []
    if manifest.api_key_header is not None:
        methods.append({"type": "api_key", "in": "header", "name": manifest.api_key_header})
    if manifest.oauth is not None:
        methods.append(
            {
                "type": "oauth2",
                "protected_resource_metadata": manifest.oauth.protected_resource_metadata,
                "authorization_server_metadata": manifest.oauth.authorization_server_metadata,
                "token_endpoint": manifest.oauth.token_endpoint,
                "grant_types": sorted(set(manifest.oauth.grant_types)),
            }
        )
    return methods


def _anonymous(access: AnonymousAccess | None) -> dict[str, list[str]] | None:
    if access is None:
        return None
    return {
        "tools": sorted(access.tools),
        "abilities": sorted(access.abilities),
        "commands": sorted(access.commands),
    }
