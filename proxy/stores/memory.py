"""The in-process store: for tests and single-process development. Nothing survives the process.

Asyncio-safe without locks: no method awaits between reading and writing its state, so every call runs
as one uninterrupted step of the event loop (not thread-safe, and not meant to be).
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict, deque
from collections.abc import Mapping
from typing import Any

from proxy.stores.base import DuplicateRecord, Store
from proxy.stores.changes import oldest_first, retired, revoked, revoked_live, touched
from proxy.stores.codec import dump_record, dump_value, load_record, load_value
from proxy.stores.records import ApiKeyRecord, AuditRecord, ClientRecord, SigningKeyRecord

__all__ = ["MemoryStore"]


class MemoryStore(Store):
    """Dicts in one process. Free-form values and audit records are kept as JSON text, as the other
    backends keep them, so callers get fresh copies and non-JSON values fail here too."""

    def __init__(self, *, audit_max_len: int = 100_000) -> None:
        self._keys: dict[str, ApiKeyRecord] = {}
        self._key_ids_by_hash: dict[str, str] = {}
        self._clients: dict[str, ClientRecord] = {}
        self._revoked_tokens: dict[str, float | None] = {}  # jti -> revoked until (None: forever)
        self._epochs: dict[str, int] = {}
        self._grants: dict[tuple[str, str], tuple[str, float]] = {}  # (kind, hash) -> (data, expires_at)
        self._signing_keys: dict[str, SigningKeyRecord] = {}
        self._settings: dict[str, str] = {}
        self._audit: defaultdict[str, deque[str]] = defaultdict(lambda: deque(maxlen=audit_max_len))

    # lifecycle -----------------------------------------------------------------------------
    async def open(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to release; the data stays for as long as the object lives."""

    async def ping(self) -> None:
        """Always answers."""

    # API keys ------------------------------------------------------------------------------
    async def add_key(self, record: ApiKeyRecord) -> None:
        if record.id in self._keys or record.key_hash in self._key_ids_by_hash:
            raise DuplicateRecord(f"an API key with id {record.id!r} or the same hash exists already")
        self._keys[record.id] = record
        self._key_ids_by_hash[record.key_hash] = record.id

    async def get_key(self, key_id: str) -> ApiKeyRecord | None:
        return self._keys.get(key_id)

    async def key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        key_id = self._key_ids_by_hash.get(key_hash)
        return None if key_id is None else self._keys[key_id]

    async def list_keys(self, site: str) -> list[ApiKeyRecord]:
        return oldest_first(key for key in self._keys.values() if key.site == site)

    async def revoke_key(self, key_id: str, at: float) -> bool:
        key = self._keys.get(key_id)
        changed = None if key is None else revoked(key, at)
        if changed is not None:
            self._keys[key_id] = changed
        return changed is not None

    async def revoke_site_keys(self, site: str, at: float) -> int:
        changed = revoked_live([key for key in self._keys.values() if key.site == site], at)
        self._keys.update((key.id, key) for key in changed)
        return len(changed)

    async def touch_keys(self, last_used: Mapping[str, float]) -> None:
        for key_id, at in last_used.items():
            key = self._keys.get(key_id)
            changed = None if key is None else touched(key, at)
            if changed is not None:
                self._keys[key_id] = changed

    # OAuth clients -------------------------------------------------------------------------
    async def add_client(self, record: ClientRecord) -> None:
        if record.client_id in self._clients:
            raise DuplicateRecord(f"an OAuth client with id {record.client_id!r} exists already")
        self._clients[record.client_id] = record

    async def get_client(self, client_id: str) -> ClientRecord | None:
        return self._clients.get(client_id)

    async def list_clients(self, site: str) -> list[ClientRecord]:
        return oldest_first(client for client in self._clients.values() if client.site == site)

    async def remove_client(self, client_id: str) -> bool:
        return self._clients.pop(client_id, None) is not None

    # access-token revocation ---------------------------------------------------------------
    async def revoke_token(self, jti: str, expires_at: float | None) -> None:
        now = time.time()
        self._revoked_tokens = {
            old: until for old, until in self._revoked_tokens.items() if until is None or until > now
        }
        self._revoked_tokens[jti] = expires_at

    async def is_token_revoked(self, jti: str) -> bool:
        if jti not in self._revoked_tokens:
            return False
        until = self._revoked_tokens[jti]
        return until is None or until > time.time()

    async def get_epoch(self, scope: str) -> int:
        return self._epochs.get(scope, 0)

    async def bump_epoch(self, scope: str) -> int:
        self._epochs[scope] = self._epochs.get(scope, 0) + 1
        return self._epochs[scope]

    # one-time grants -----------------------------------------------------------------------
    async def put_grant(
        self, kind: str, handle_hash: str, data: Mapping[str, Any], expires_at: float
    ) -> None:
        text = dump_value(dict(data))
        now = time.time()
        self._grants = {handle: grant for handle, grant in self._grants.items() if grant[1] > now}
        self._grants[kind, handle_hash] = (text, expires_at)

    async def take_grant(self, kind: str, handle_hash: str) -> dict[str, Any] | None:
        grant = self._grants.pop((kind, handle_hash), None)
        if grant is None or grant[1] <= time.time():
            return None
        data: dict[str, Any] = load_value(grant[0])
        return data

    async def get_grant(self, kind: str, handle_hash: str) -> dict[str, Any] | None:
        grant = self._grants.get((kind, handle_hash))
        if grant is None or grant[1] <= time.time():
            return None
        data: dict[str, Any] = load_value(grant[0])
        return data

    # signing keys --------------------------------------------------------------------------
    async def list_signing_keys(self) -> list[SigningKeyRecord]:
        return oldest_first(self._signing_keys.values())

    async def add_signing_key(self, record: SigningKeyRecord) -> None:
        if record.kid in self._signing_keys:
            raise DuplicateRecord(f"a signing key with kid {record.kid!r} exists already")
        self._signing_keys[record.kid] = record

    async def retire_signing_key(self, kid: str, at: float) -> bool:
        key = self._signing_keys.get(kid)
        changed = None if key is None else retired(key, at)
        if changed is not None:
            self._signing_keys[kid] = changed
        return changed is not None

    # runtime settings ----------------------------------------------------------------------
    async def get_settings(self) -> dict[str, Any]:
        return {name: load_value(text) for name, text in self._settings.items()}

    async def set_setting(self, name: str, value: Any | None) -> None:
        if value is None:
            self._settings.pop(name, None)
        else:
            self._settings[name] = dump_value(value)

    # call log ------------------------------------------------------------------------------
    async def append_audit(self, record: AuditRecord) -> None:
        self._audit[record.site].append(dump_record(record))

    async def list_audit(self, site: str, limit: int = 100) -> list[AuditRecord]:
        newest = itertools.islice(reversed(self._audit.get(site, ())), max(limit, 0))
        return [load_record(AuditRecord, text) for text in newest]
