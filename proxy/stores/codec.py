"""Records and free-form values <-> JSON text: the one wire format every persistent backend stores.

pydantic validates what comes back, so a corrupted or hand-edited row fails loudly as a `StoreError`
instead of turning into a half-built record. Errors name the fields, never the stored values
(a signing key's PEM must not end up in a log line).
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from proxy.stores.base import StoreError
from proxy.stores.records import ApiKeyRecord, AuditRecord, ClientRecord, SigningKeyRecord

__all__ = ["Record", "dump_record", "dump_value", "load_record", "load_value"]

Record = ApiKeyRecord | ClientRecord | SigningKeyRecord | AuditRecord
R = TypeVar("R", bound=Record)


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {
    cls: TypeAdapter(cls) for cls in (ApiKeyRecord, ClientRecord, SigningKeyRecord, AuditRecord)
}


def dump_record(record: Record) -> str:
    """Compact JSON of a record (tuples become arrays, floats keep every digit)."""
    return _ADAPTERS[type(record)].dump_json(record).decode()


def load_record(cls: type[R], text: str | bytes) -> R:
    """The record stored as `text`; StoreError when it does not fit the record type."""
    try:
        record: R = _ADAPTERS[cls].validate_json(text)
    except ValidationError as exc:
        fields = sorted({".".join(map(str, item["loc"])) or "(record)" for item in exc.errors()})
        raise StoreError(f"a stored {cls.__name__} is unreadable (bad fields: {', '.join(fields)})") from None
    return record


def dump_value(value: Any) -> str:
    """Compact JSON of a free-form value (grant data, settings); TypeError/ValueError if not JSON."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def load_value(text: str | bytes) -> Any:
    """The value stored by `dump_value` (a fresh copy the caller may mutate)."""
    return json.loads(text)
