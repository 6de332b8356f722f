"""The JSON wire format: exact round trips, loud failures that never echo stored values."""

from __future__ import annotations

import math

import pytest

from proxy.stores import StoreError
from proxy.stores.codec import Record, dump_record, dump_value, load_record, load_value
from tests.stores.factories import make_audit, make_client, make_key, make_signing_key


@pytest.mark.parametrize(
    "record",
    [
        make_key(created_at=1_732_612_345.1234567, last_used_at=1_732_612_399.9999999, revoked_at=None),
        make_client(secret_hash=None, redirect_uris=()),
        make_signing_key(retired_at=1_800_000_000.5),
        make_audit(extra={"nested": {"list": [1, 2.5, None, "x"]}}, wp_user=None, tool=None),
    ],
    ids=["key", "client", "signing-key", "audit"],
)
def test_records_round_trip_exactly(record: Record) -> None:
    assert load_record(type(record), dump_record(record)) == record


def test_unreadable_record_names_fields_but_never_values() -> None:
    stored = dump_record(make_signing_key()).replace('"algorithm":"ES256"', '"algorithm":42')
    with pytest.raises(StoreError, match=r"SigningKeyRecord is unreadable.*algorithm") as caught:
        load_record(type(make_signing_key()), stored)
    assert "PRIVATE KEY" not in str(caught.value)
    assert "42" not in str(caught.value)


@pytest.mark.parametrize("value", [{1, 2}, math.nan, object()])
def test_values_must_be_json(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        dump_value(value)


def test_values_round_trip_as_fresh_copies() -> None:
    value = {"a": [1, {"b": None}], "c": "ü"}
    text = dump_value(value)
    assert load_value(text) == value
    assert load_value(text) is not load_value(text)
