"""Discovery documents (site manifest, OAuth metadata), their conditional GET and CORS; pure, no aiohttp.

A route handler builds a `Representation` once per config load (`manifest_representation`, or
`Representation.of_json` over `protected_resource_metadata` / `authorization_server_metadata`), then
per request: `evaluate(...)` for the status, headers and body, with `cors_headers(...)` merged on
top; OPTIONS answers 204 with `preflight(...)`.
"""

from proxy.discovery.canonical import canonical_json
from proxy.discovery.conditional import JSON_CONTENT_TYPE, Outcome, Representation, evaluate, response_headers
from proxy.discovery.cors import CorsSettings, cors_headers, preflight
from proxy.discovery.manifest import (
    MANIFEST_PATH,
    UPSTREAM_PROTOCOL_VERSIONS,
    AnonymousAccess,
    ManifestInput,
    OAuthAdvert,
    ToolsetEntry,
    build_manifest,
    manifest_representation,
)
from proxy.discovery.oauth_metadata import (
    as_metadata_paths,
    as_metadata_url,
    authorization_server_metadata,
    prm_paths,
    prm_url,
    protected_resource_metadata,
    resource_url,
)
from proxy.discovery.settings import DiscoverySettings

__all__ = [
    "JSON_CONTENT_TYPE",
    "MANIFEST_PATH",
    "UPSTREAM_PROTOCOL_VERSIONS",
    "AnonymousAccess",
    "CorsSettings",
    "DiscoverySettings",
    "ManifestInput",
    "OAuthAdvert",
    "Outcome",
    "Representation",
    "ToolsetEntry",
    "as_metadata_paths",
    "as_metadata_url",
    "authorization_server_metadata",
    "build_manifest",
    "canonical_json",
    "cors_headers",
    "evaluate",
    "manifest_representation",
    "preflight",
    "prm_paths",
    "prm_url",
    "protected_resource_metadata",
    "resource_url",
    "response_headers",
]
