"""Record factories for the store tests: valid defaults, override what a test is about."""

from __future__ import annotations

from typing import Any

from proxy.stores.records import ApiKeyRecord, AuditRecord, ClientRecord, SigningKeyRecord

__all__ = ["make_audit", "make_client", "make_key", "make_signing_key"]


def make_key(key_id: str = "key-1", **changes: Any) -> ApiKeyRecord:
    fields: dict[str, Any] = {
        "id": key_id,
        "site": "demo",
        "key_hash": f"hash-of-{key_id}",
        "label": f"label {key_id}",
        "wp_user": "editor",
        "scopes": ("mcp:tools", "mcp:read"),
        "profile": None,
        "created_at": 1_700_000_000.123456,
        "expires_at": None,
    }
    return ApiKeyRecord(**{**fields, **changes})


def make_client(client_id: str = "client-1", **changes: Any) -> ClientRecord:
    fields: dict[str, Any] = {
        "client_id": client_id,
        "site": "demo",
        "name": f"client {client_id}",
        "wp_user": "editor",
        "scopes": ("mcp:tools",),
        "secret_hash": f"secret-hash-of-{client_id}",
        "redirect_uris": ("https://agent.example/callback",),
        "grant_types": ("authorization_code", "refresh_token"),
        "created_at": 1_700_000_000.5,
    }
    return ClientRecord(**{**fields, **changes})


def make_signing_key(kid: str = "kid-1", **changes: Any) -> SigningKeyRecord:
    fields: dict[str, Any] = {
        "kid": kid,
        "algorithm": "ES256",
        "private_pem": f"-----BEGIN PRIVATE KEY-----\n{kid}\n-----END PRIVATE KEY-----\n",
        "created_at": 1_700_000_000.0,
    }
    return SigningKeyRecord(**{**fields, **changes})


def make_audit(record_id: str = "audit-1", **changes: Any) -> AuditRecord:
    fields: dict[str, Any] = {
        "id": record_id,
        "at": 1_700_000_000.25,
        "site": "demo",
        "request_id": f"req-{record_id}",
        "principal_kind": "api_key",
        "principal_id": "key-1",
        "wp_user": "editor",
        "method": "tools/call",
        "tool": "wp_get_post",
        "ability": "core/get-post",
        "decision": "allowed",
        "reason": "ok",
        "status": 200,
        "duration_ms": 12.5,
        "extra": {"arguments": {"id": 7}, "tags": ["a", "b"]},
    }
    return AuditRecord(**{**fields, **changes})
