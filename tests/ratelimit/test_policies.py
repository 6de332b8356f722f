"""limits_for: which limits a request meets, under keys no two callers share."""

from __future__ import annotations

from proxy.ratelimit import RateLimitSettings, Usage
from proxy.ratelimit.policies import limits_for

SETTINGS = RateLimitSettings.model_validate(
    {
        "tools": {"wp-delete-post": {"requests": 2, "per_seconds": 60}},
        "toolsets": {"editing": {"requests": 20, "per_seconds": 60}},
        "commands": {"export": {"requests": 1, "per_seconds": 3600}},
    }
)


def test_tier_only() -> None:
    (limit,) = limits_for(
        SETTINGS, prefix="p:", site="demo", tier="authenticated", principal_key="key-1", usage=Usage()
    )
    assert (limit.name, limit.key) == ("authenticated", "p:{demo/authenticated/key-1}:tier")
    assert (limit.capacity, limit.interval_us, limit.window) == (60, 1_000_000, 60)


def test_every_matching_limit_in_order() -> None:
    limits = limits_for(
        SETTINGS,
        prefix="p:",
        site="demo",
        tier="authenticated",
        principal_key="key-1",
        usage=Usage(tools={"wp-delete-post": 1}, toolsets={"editing": 1}, commands={"export": 1}),
    )
    assert [limit.name for limit in limits] == [
        "authenticated",
        "tool:wp-delete-post",
        "toolset:editing",
        "command:export",
    ]
    assert limits[1].key == "p:{demo/authenticated/key-1}:tool:wp-delete-post"
    assert limits[3].window == 3600


def test_unlisted_names_add_nothing() -> None:
    limits = limits_for(
        SETTINGS,
        prefix="p:",
        site="demo",
        tier="anonymous",
        principal_key="192.0.2.1",
        usage=Usage(tools={"other": 1}, toolsets={"x": 1}),
    )
    assert [limit.name for limit in limits] == ["anonymous"]


def test_keys_are_unambiguous() -> None:
    """Separators inside names are encoded, so crafted names cannot reach another caller's counter."""
    tricky = limits_for(
        SETTINGS, prefix="p:", site="a/b", tier="anonymous", principal_key="2001:db8::1}{x", usage=Usage()
    )
    assert tricky[0].key == "p:{a%2Fb/anonymous/2001%3Adb8%3A%3A1%7D%7Bx}:tier"
    one = limits_for(SETTINGS, prefix="", site="s", tier="authenticated", principal_key="a/b", usage=Usage())
    other = limits_for(
        SETTINGS, prefix="", site="s/a", tier="authenticated", principal_key="b", usage=Usage()
    )
    assert one[0].key != other[0].key
