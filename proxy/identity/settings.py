"""The identity settings an operator may change: lifetimes and cache times, validated once at start.

The pepper and the issuer URL are not here: the pepper is a secret (read from the environment or a
secret file by the config loader) and the issuer follows from the public URL of the site.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from proxy.identity.lifetimes import MAX_TTL_HOURS

__all__ = ["IdentitySettings"]


class IdentitySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Lifetimes in hours: 1..168, or 0 for never expires (such credentials die only by revocation).
    api_key_default_ttl_hours: int = Field(default=168, ge=0, le=MAX_TTL_HOURS)
    access_token_ttl_hours: int = Field(default=1, ge=0, le=MAX_TTL_HOURS)
    refresh_token_ttl_hours: int = Field(default=720, ge=1, le=24 * 365)
    authorization_code_ttl_seconds: float = Field(default=60, gt=0, le=600)
    # POST /oauth/register (RFC 7591) for MCP clients that start from the site URL alone. Open to anyone:
    # it only creates public PKCE clients, which get nothing until a WordPress user approves them.
    dynamic_client_registration: bool = True
    # How late API-key last-used times reach the store (and how many are lost on a crash).
    last_used_flush_seconds: float = Field(default=60, gt=0)
    # How long a revocation made elsewhere (another replica, the CLI) may go unnoticed here, for API keys
    # and tokens alike: lookups are cached that long so an authenticated request costs no store trip.
    # 0 checks the store on every request.
    revocation_cache_seconds: float = Field(default=5, ge=0, le=300)
    # How long a replica keeps signing with a key another replica rotated away from or retired.
    signing_key_refresh_seconds: float = Field(default=300, gt=0)
    # At most one store read per this many seconds for tokens with an unknown key id.
    signing_key_reload_cooldown_seconds: float = Field(default=10, ge=0)
