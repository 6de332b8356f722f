"""clamp_arguments: result sizes within the tier's cap, the caller's arguments untouched."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from proxy.ratelimit import ResultCaps, clamp_arguments

CAPS = {"limit": 10, "parameters.per_page": 10}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, 5),
        (10, 10),
        (11, 10),
        (10_000, 10),
        (0, 10),
        (-1, 10),
        (7.0, 7.0),
        (7.5, 10),
        ("7", "7"),
        ("500", 10),
        ("all", 10),
        (None, 10),
        (True, 10),
        ([5], 10),
    ],
)
def test_top_level_values(value: Any, expected: Any) -> None:
    assert clamp_arguments({"limit": value, "q": "x"}, CAPS) == {"limit": expected, "q": "x"}


def test_nested_path_for_abilities() -> None:
    arguments: dict[str, Any] = {
        "ability_name": "demo/list-posts",
        "parameters": {"per_page": 100, "status": "publish"},
    }
    clamped = clamp_arguments(arguments, CAPS)
    assert clamped == {"ability_name": "demo/list-posts", "parameters": {"per_page": 10, "status": "publish"}}
    assert arguments["parameters"]["per_page"] == 100  # the original is not modified


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"q": "x"},
        {"parameters": "not an object"},
        {"parameters": {"status": "draft"}},
    ],
)
def test_absent_parameters_stay_absent(arguments: dict[str, Any]) -> None:
    assert clamp_arguments(arguments, CAPS) == arguments


@dataclass(frozen=True)
class Declared:
    """What the tool rules declare for one size parameter (the shape of rules' ResultCap)."""

    anonymous: int
    authenticated: int


def test_result_caps_per_tier_with_site_ceiling() -> None:
    declared = {"limit": Declared(anonymous=10, authenticated=100)}
    assert ResultCaps().caps_for("anonymous", declared) == {"limit": 10}
    assert ResultCaps().caps_for("authenticated", declared) == {"limit": 100}
    assert ResultCaps(authenticated=50).caps_for("authenticated", declared) == {"limit": 50}
    assert ResultCaps(anonymous=20).caps_for("anonymous", declared) == {"limit": 10}
