"""The records the stores keep: plain frozen data, no behaviour, no secrets in the clear."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ApiKeyRecord", "AuditRecord", "ClientRecord", "SigningKeyRecord"]


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key. Only the keyed hash of the raw key is kept; the raw key is shown once at issue."""

    id: str
    site: str
    key_hash: str
    label: str
    wp_user: str
    scopes: tuple[str, ...]
    profile: str | None
    created_at: float
    expires_at: float | None  # None: never expires
    last_used_at: float | None = None
    revoked_at: float | None = None


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """An OAuth client. Confidential clients have a secret hash; public clients (PKCE only) have none."""

    client_id: str
    site: str
    name: str
    wp_user: str
    scopes: tuple[str, ...]
    secret_hash: str | None
    redirect_uris: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ("client_credentials",)
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class SigningKeyRecord:
    """An asymmetric token-signing key. `private_pem` is the PEM of the private key (PKCS#8)."""

    kid: str
    algorithm: str
    private_pem: str
    created_at: float
    retired_at: float | None = None  # retired keys neither sign nor verify: retiring kills their tokens


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One tool call (allowed or denied), attributed to the principal and WordPress user that made it."""

    id: str
    at: float
    site: str
    request_id: str
    principal_kind: str
    principal_id: str
    wp_user: str | None
    method: str
    tool: str | None
    ability: str | None
    decision: str  # "allowed" | "denied"
    reason: str  # stable code, e.g. "ok", "insufficient_scope"
    status: int
    duration_ms: float
    extra: dict[str, Any] = field(default_factory=dict)
