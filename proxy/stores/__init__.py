"""Persistence behind one interface: memory, SQLite (the default) and Redis (shared by replicas)."""

from __future__ import annotations

from pathlib import Path

from proxy.stores.base import DuplicateRecord, Store, StoreError, StoreUnavailable
from proxy.stores.memory import MemoryStore
from proxy.stores.records import ApiKeyRecord, AuditRecord, ClientRecord, SigningKeyRecord
from proxy.stores.redis import RedisStore
from proxy.stores.settings import StoreSettings
from proxy.stores.sqlite import SqliteStore

__all__ = [
    "ApiKeyRecord",
    "AuditRecord",
    "ClientRecord",
    "DuplicateRecord",
    "MemoryStore",
    "RedisStore",
    "SigningKeyRecord",
    "SqliteStore",
    "Store",
    "StoreError",
    "StoreSettings",
    "StoreUnavailable",
    "create_store",
]


def create_store(settings: StoreSettings, *, base_dir: Path | None = None) -> Store:
    """The configured backend, not yet opened. A relative SQLite path is resolved against `base_dir`
    (the config file's folder) and its folder is created, so a fresh install needs no setup."""
    if settings.backend == "memory":
        return MemoryStore(audit_max_len=settings.audit_cap)
    if settings.backend == "redis":
        assert settings.redis_url is not None  # the settings validator guarantees it
        return RedisStore(
            settings.redis_url,
            settings.prefix,
            timeout_seconds=settings.timeout_seconds,
            audit_max_len=settings.audit_cap,
        )
    path = Path(settings.path).expanduser()
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteStore(
        path,
        timeout_seconds=settings.timeout_seconds,
        audit_batch_seconds=settings.audit_batch_ms / 1000,
        audit_max_len=settings.audit_cap,
    )
