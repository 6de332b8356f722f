"""The one store interface. Every backend (memory, sqlite, redis) passes the same contract suite.

Every write is atomic: a failed call leaves nothing half-written. Backends raise `StoreUnavailable`
when the underlying store cannot be reached, so callers can fail closed with a clear error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from proxy.stores.records import ApiKeyRecord, AuditRecord, ClientRecord, SigningKeyRecord

__all__ = ["DuplicateRecord", "Store", "StoreError", "StoreUnavailable"]


class StoreError(Exception):
    """Base of every store failure."""


class StoreUnavailable(StoreError):
    """The backing store cannot be reached (connection refused, timeout, closed file)."""


class DuplicateRecord(StoreError):
    """A record with the same identity exists already."""


class Store(ABC):
    """Persistence for credentials, one-time grants, runtime settings and the call log."""

    # lifecycle -----------------------------------------------------------------------------
    @abstractmethod
    async def open(self) -> None:
        """Connect / create schema (migrations run here). Idempotent."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections. Idempotent."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers now (used by /readyz)."""

    # API keys ------------------------------------------------------------------------------
    @abstractmethod
    async def add_key(self, record: ApiKeyRecord) -> None:
        """Insert a key; DuplicateRecord if its id or hash exists."""

    @abstractmethod
    async def get_key(self, key_id: str) -> ApiKeyRecord | None: ...

    @abstractmethod
    async def key_by_hash(self, key_hash: str) -> ApiKeyRecord | None: ...

    @abstractmethod
    async def list_keys(self, site: str) -> list[ApiKeyRecord]:
        """All keys of a site (revoked and expired included), oldest first (ties: by id)."""

    @abstractmethod
    async def revoke_key(self, key_id: str, at: float) -> bool:
        """Mark one key revoked; False if unknown or revoked already."""

    @abstractmethod
    async def revoke_site_keys(self, site: str, at: float) -> int:
        """Revoke every key of a site live at `at` (neither revoked nor expired); returns how many."""

    @abstractmethod
    async def touch_keys(self, last_used: Mapping[str, float]) -> None:
        """Record last-used times for many keys in one write (never moves a time backwards).

        Unknown key ids are ignored: a key may vanish between use and flush."""

    # OAuth clients -------------------------------------------------------------------------
    @abstractmethod
    async def add_client(self, record: ClientRecord) -> None:
        """Insert a client; DuplicateRecord if the client_id exists."""

    @abstractmethod
    async def get_client(self, client_id: str) -> ClientRecord | None: ...

    @abstractmethod
    async def list_clients(self, site: str) -> list[ClientRecord]:
        """All clients of a site, oldest first (ties: by client_id)."""

    @abstractmethod
    async def remove_client(self, client_id: str) -> bool:
        """Delete a client; False if unknown."""

    # access-token revocation ---------------------------------------------------------------
    @abstractmethod
    async def revoke_token(self, jti: str, expires_at: float | None) -> None:
        """Deny a token id until it would have expired anyway (None: forever).

        Revoking the same id again replaces its expiry; expired revocations are purged by the store."""

    @abstractmethod
    async def is_token_revoked(self, jti: str) -> bool: ...

    @abstractmethod
    async def get_epoch(self, scope: str) -> int:
        """Revoke-all counter for a scope such as 'site:demo' or 'client:abc'; 0 when never bumped."""

    @abstractmethod
    async def bump_epoch(self, scope: str) -> int:
        """Atomically increment and return the new epoch (tokens minted under an older one are dead)."""

    # one-time grants (authorization codes, refresh tokens) ---------------------------------
    @abstractmethod
    async def put_grant(
        self, kind: str, handle_hash: str, data: Mapping[str, Any], expires_at: float
    ) -> None:
        """Store a single-use grant under the hash of its handle, replacing any grant there.

        `data` must be JSON-serialisable (TypeError or ValueError otherwise, before anything is written)."""

    @abstractmethod
    async def take_grant(self, kind: str, handle_hash: str) -> dict[str, Any] | None:
        """Atomically fetch and delete a grant: of two concurrent takes at most one gets it.

        Expired grants are never returned."""

    @abstractmethod
    async def get_grant(self, kind: str, handle_hash: str) -> dict[str, Any] | None:
        """Read a grant without consuming it (None when absent or expired).

        For long-lived records kept as grants (an upstream credential read on every call); one-time
        grants are always taken."""

    # signing keys --------------------------------------------------------------------------
    @abstractmethod
    async def list_signing_keys(self) -> list[SigningKeyRecord]:
        """All signing keys, oldest first (ties: by kid)."""

    @abstractmethod
    async def add_signing_key(self, record: SigningKeyRecord) -> None:
        """Insert a signing key; DuplicateRecord if its kid exists."""

    @abstractmethod
    async def retire_signing_key(self, kid: str, at: float) -> bool:
        """Stop signing with a key (it still verifies); False if unknown or retired already."""

    # runtime settings (switches, overrides) ------------------------------------------------
    @abstractmethod
    async def get_settings(self) -> dict[str, Any]:
        """Every runtime setting as name -> JSON value (switches, rate-limit overrides)."""

    @abstractmethod
    async def set_setting(self, name: str, value: Any | None) -> None:
        """Set a JSON value, or delete it with None."""

    # call log ------------------------------------------------------------------------------
    @abstractmethod
    async def append_audit(self, record: AuditRecord) -> None:
        """Append one record durably before returning."""

    @abstractmethod
    async def list_audit(self, site: str, limit: int = 100) -> list[AuditRecord]:
        """The last `limit` records appended for a site, latest first (capped backends drop the oldest)."""
