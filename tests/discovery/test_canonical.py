"""Canonical JSON: sorted keys at every depth, compact, UTF-8, no NaN."""

from __future__ import annotations

import math
from typing import Any

import pytest

from proxy.discovery.canonical import canonical_json


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"b": 1, "a": 2}, b'{"a":2,"b":1}'),
        ({"z": {"y": [3, {"d": None, "c": True}]}, "a": []}, b'{"a":[],"z":{"y":[3,{"c":true,"d":null}]}}'),
        ({"name": "Café ✓"}, '{"name":"Café ✓"}'.encode()),
        (["b", "a"], b'["b","a"]'),  # lists keep their order: it may mean something
        ("</script>", b'"</script>"'),
    ],
)
def test_canonical_bytes(document: Any, expected: bytes) -> None:
    assert canonical_json(document) == expected


def test_insertion_order_does_not_matter() -> None:
    assert canonical_json({"a": 1, "b": {"c": 2, "d": 3}}) == canonical_json({"b": {"d": 3, "c": 2}, "a": 1})


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(number: float) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical_json({"x": number})
