"""The record changes every backend applies the same way, kept here so the rules live in one place.

The one-record changes return the changed record, or None when the change does not apply (nothing to
write), which is what makes revoking, retiring and touching idempotent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TypeVar

from proxy.stores.records import ApiKeyRecord, ClientRecord, SigningKeyRecord

__all__ = ["oldest_first", "retired", "revoked", "revoked_live", "touched"]

Aged = TypeVar("Aged", ApiKeyRecord, ClientRecord, SigningKeyRecord)


def _age(record: ApiKeyRecord | ClientRecord | SigningKeyRecord) -> tuple[float, str]:
    if isinstance(record, ApiKeyRecord):
        return record.created_at, record.id
    if isinstance(record, ClientRecord):
        return record.created_at, record.client_id
    return record.created_at, record.kid


def oldest_first(records: Iterable[Aged]) -> list[Aged]:
    """Sorted by creation time, ties broken by id: the one listing order of every backend."""
    return sorted(records, key=_age)


def revoked_live(keys: Iterable[ApiKeyRecord], at: float) -> list[ApiKeyRecord]:
    """The keys that are live at `at` (neither revoked nor expired), revoked at `at`."""
    return [
        dataclasses.replace(key, revoked_at=at)
        for key in keys
        if key.revoked_at is None and (key.expires_at is None or key.expires_at > at)
    ]


def revoked(key: ApiKeyRecord, at: float) -> ApiKeyRecord | None:
    """The key revoked at `at`; None when it is revoked already (the first revocation time stays)."""
    return None if key.revoked_at is not None else dataclasses.replace(key, revoked_at=at)


def touched(key: ApiKeyRecord, at: float) -> ApiKeyRecord | None:
    """The key last used at `at`; None when that would not move its last-used time forward."""
    if key.last_used_at is not None and key.last_used_at >= at:
        return None
    return dataclasses.replace(key, last_used_at=at)


def retired(key: SigningKeyRecord, at: float) -> SigningKeyRecord | None:
    """The signing key retired at `at`; None when it is retired already."""
    return None if key.retired_at is not None else dataclasses.replace(key, retired_at=at)
