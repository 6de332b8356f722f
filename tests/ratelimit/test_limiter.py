"""RateLimiter with the in-memory backend and an injected clock: exact, instant, deterministic."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis
from structlog.testing import capture_logs

from proxy.ratelimit import Rate, RateLimiter, RateLimitSettings, Usage
from proxy.validation import ConfigError
from tests.ratelimit.conftest import FakeClock, spend


def limiter(clock: FakeClock, **settings: Any) -> RateLimiter:
    return RateLimiter(RateLimitSettings.model_validate(settings), clock=clock)


async def burst(rl: RateLimiter, count: int, **request: Any) -> list[bool]:
    request = {"site": "demo", "tier": "authenticated", "principal_key": "key-1", **request}
    return [(await rl.check(**request)).allowed for _ in range(count)]


async def test_defaults_allow_60_then_refuse_with_exact_retry(clock: FakeClock) -> None:
    rl = limiter(clock)
    assert await burst(rl, 60) == [True] * 60
    decision = await rl.check(site="demo", tier="authenticated", principal_key="key-1")
    assert (decision.allowed, decision.outcome, decision.policy) == (False, "limited", "authenticated")
    assert (decision.limit, decision.remaining, decision.retry_after) == (60, 0, 1)


async def test_memory_holds_at_most_max_local_keys_callers_forgetting_the_least_recent(
    clock: FakeClock,
) -> None:
    settings = RateLimitSettings.model_validate({"authenticated": {"requests": 2, "per_seconds": 60}})
    rl = RateLimiter(settings, clock=clock, max_local_keys=2)
    for caller in ("a", "b"):
        assert await burst(rl, 3, principal_key=caller) == [True, True, False]
    assert await burst(rl, 1, principal_key="a") == [False]  # "a" is now the most recently seen
    assert await burst(rl, 1, principal_key="c") == [True]  # a third caller: "b" is forgotten
    assert await burst(rl, 1, principal_key="b") == [True]  # a full allowance again ("a" goes)
    assert await burst(rl, 1, principal_key="c") == [True]
    assert await burst(rl, 1, principal_key="c") == [False]


async def test_anonymous_default_is_15_per_minute(clock: FakeClock) -> None:
    rl = limiter(clock)
    assert await burst(rl, 16, tier="anonymous", principal_key="203.0.113.9") == [True] * 15 + [False]
    decision = await rl.check(site="demo", tier="anonymous", principal_key="203.0.113.9")
    assert decision.retry_after == 4  # one request every 60/15 s
    assert await burst(rl, 1, tier="anonymous", principal_key="203.0.113.10") == [True]


async def test_retry_after_is_the_true_wait(clock: FakeClock) -> None:
    rl = limiter(clock, authenticated={"requests": 10, "per_seconds": 60})
    assert await burst(rl, 10) == [True] * 10
    clock.advance(1.5)
    decision = await rl.check(site="demo", tier="authenticated", principal_key="key-1")
    assert decision.retry_after == 5  # 6 s per request, 1.5 s already waited: 4.5 s, rounded up
    clock.advance(4.5 - 1e-6)
    assert await burst(rl, 1) == [False]
    clock.advance(1e-6)
    assert await burst(rl, 2) == [True, False]


async def test_no_double_burst_at_a_window_edge(clock: FakeClock) -> None:
    """A fixed window would let 10 through at 59.9 s and 10 more at 60.1 s; GCRA lets one more."""
    rl = limiter(clock, authenticated={"requests": 10, "per_seconds": 60})
    clock.advance(59.9)
    assert await burst(rl, 10) == [True] * 10
    clock.advance(0.2)
    assert sum(await burst(rl, 10)) == 0
    clock.advance(6.0)
    assert sum(await burst(rl, 10)) == 1
    clock.advance(60.0)
    assert sum(await burst(rl, 20)) == 10  # fully rested: one full burst again, no more


async def test_burst_smaller_than_the_rate(clock: FakeClock) -> None:
    rl = limiter(clock, authenticated={"requests": 60, "per_seconds": 60, "burst": 5})
    assert await burst(rl, 6) == [True] * 5 + [False]
    clock.advance(1.0)
    assert await burst(rl, 2) == [True, False]


async def test_per_tool_limit_is_stricter_and_per_principal(clock: FakeClock) -> None:
    rl = limiter(clock, tools={"wp-delete-post": {"requests": 2, "per_seconds": 60}})
    assert await burst(rl, 3, usage=spend(tool="wp-delete-post")) == [True, True, False]
    decision = await rl.check(
        site="demo", tier="authenticated", principal_key="key-1", usage=spend(tool="wp-delete-post")
    )
    assert (decision.policy, decision.limit, decision.retry_after) == ("tool:wp-delete-post", 2, 30)
    assert await burst(rl, 1, usage=spend(tool="wp-list-posts")) == [True]  # other tools: only the tier limit
    assert await burst(rl, 1, usage=spend(tool="wp-delete-post"), principal_key="key-2") == [True]


async def test_toolset_and_command_limits(clock: FakeClock) -> None:
    rl = limiter(
        clock,
        toolsets={"editing": {"requests": 1, "per_seconds": 60}},
        commands={"export": {"requests": 1, "per_seconds": 60}},
    )
    assert await burst(rl, 2, usage=spend(toolset="editing")) == [True, False]
    assert await burst(rl, 2, usage=spend(command="export")) == [True, False]
    assert await burst(rl, 1, usage=spend(toolset="reading", command="search")) == [True]


async def test_combined_limits_are_all_or_nothing(clock: FakeClock) -> None:
    rl = limiter(
        clock,
        authenticated={"requests": 5, "per_seconds": 60},
        tools={"wp-delete-post": {"requests": 1, "per_seconds": 60}},
    )
    assert await burst(rl, 1, usage=spend(tool="wp-delete-post")) == [True]
    # refused by the tool limit: these must not eat the principal's overall allowance
    assert await burst(rl, 10, usage=spend(tool="wp-delete-post")) == [False] * 10
    assert await burst(rl, 5) == [True] * 4 + [False]
    # and the other way round: with the overall allowance spent, the tool limit is not consumed
    clock.advance(60.0)
    assert await burst(rl, 5) == [True] * 5
    assert await burst(rl, 1, usage=spend(tool="wp-delete-post")) == [False]
    clock.advance(12.0)  # the overall limit has one again; the tool's was never touched
    assert await burst(rl, 1, usage=spend(tool="wp-delete-post")) == [True]


async def test_most_restrictive_limit_speaks(clock: FakeClock) -> None:
    rl = limiter(clock, tools={"search": {"requests": 3, "per_seconds": 60}})
    decision = await rl.check(
        site="demo", tier="authenticated", principal_key="k", usage=spend(tool="search")
    )
    assert (decision.policy, decision.remaining) == ("tool:search", 2)
    assert [state.name for state in decision.states] == ["tool:search", "authenticated"]


async def test_runtime_override_beats_rules_beats_defaults(clock: FakeClock) -> None:
    rl = limiter(
        clock,
        authenticated={"requests": 3, "per_seconds": 60},
        tools={"a": {"requests": 2, "per_seconds": 60}},
    )
    overrides = {
        "authenticated": {"requests": 1, "per_seconds": 60},
        "tools": {"b": {"requests": 1, "per_seconds": 60}},
    }
    decision = await rl.check(site="demo", tier="authenticated", principal_key="x", overrides=overrides)
    assert (decision.limit, decision.policy) == (1, "authenticated")
    assert await burst(rl, 1, principal_key="y", usage=spend(tool="b"), overrides=overrides) == [True]
    assert await burst(rl, 1, principal_key="y", usage=spend(tool="b"), overrides=overrides) == [False]
    # tools merge by name: the rules' limit on "a" still applies under the override
    decision = await rl.check(
        site="demo", tier="authenticated", principal_key="z", usage=spend(tool="a"), overrides=overrides
    )
    assert [state.name for state in decision.states] == ["authenticated", "tool:a"]
    # without the override, the rules again; anonymous keeps the built-in default
    assert (await rl.check(site="demo", tier="authenticated", principal_key="w")).limit == 3
    assert (await rl.check(site="demo", tier="anonymous", principal_key="192.0.2.1")).limit == 15


async def test_override_can_switch_limits_off(clock: FakeClock) -> None:
    rl = limiter(clock, authenticated={"requests": 1, "per_seconds": 60})
    assert await burst(rl, 3, overrides={"enabled": False}) == [True] * 3
    decision = await rl.check(
        site="demo", tier="authenticated", principal_key="key-1", overrides={"enabled": False}
    )
    assert (decision.outcome, decision.policy, decision.states) == ("allowed", None, ())


async def test_invalid_override_is_logged_once_and_the_rules_apply(clock: FakeClock) -> None:
    rl = limiter(clock, authenticated={"requests": 2, "per_seconds": 60})
    bad = {"authenticated": {"requests": 0, "per_seconds": 60}}
    with capture_logs() as logs:
        assert await burst(rl, 3, overrides=bad) == [True, True, False]
    assert [entry["event"] for entry in logs] == ["ratelimit_override_invalid"]
    assert "authenticated.requests" in logs[0]["problems"][0]


async def test_sites_have_their_own_settings_and_counters(clock: FakeClock) -> None:
    rl = RateLimiter(
        {
            "a": RateLimitSettings(authenticated=Rate(requests=1, per_seconds=60)),
            "b": RateLimitSettings(enabled=False),
        },
        clock=clock,
    )
    assert await burst(rl, 2, site="a") == [True, False]
    assert await burst(rl, 2, site="b") == [True, True]
    with pytest.raises(ValueError, match="no rate-limit settings for site 'c'"):
        await rl.check(site="c", tier="authenticated", principal_key="k")


async def test_unknown_tier_is_a_programming_error(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="unknown rate-limit tier 'premium'"):
        await limiter(clock).check(site="demo", tier="premium", principal_key="k")


def test_redis_backend_needs_a_client() -> None:
    with pytest.raises(ConfigError, match="backend: redis, but no Redis URL"):
        RateLimiter({"demo": RateLimitSettings(backend="redis")})


def test_one_redis_source_only(redis_url: str) -> None:
    with pytest.raises(ValueError, match="not both"):
        RateLimiter(RateLimitSettings(), redis_client=Redis.from_url(redis_url), redis_url=redis_url)


async def test_a_batch_spends_one_request_per_message_and_one_per_call(clock: FakeClock) -> None:
    rl = limiter(
        clock,
        authenticated={"requests": 10, "per_seconds": 60},
        tools={"search": {"requests": 4, "per_seconds": 60}},
    )
    batch = Usage(requests=5, tools={"search": 3})
    decision = await rl.check(site="demo", tier="authenticated", principal_key="k", usage=batch)
    assert decision.allowed
    assert [(state.name, state.remaining) for state in decision.states] == [
        ("tool:search", 1),
        ("authenticated", 5),
    ]
    refused = await rl.check(site="demo", tier="authenticated", principal_key="k", usage=batch)
    assert (refused.outcome, refused.policy, refused.retry_after) == ("limited", "tool:search", 30)
    assert await burst(rl, 6, principal_key="k") == [True] * 5 + [False]  # the refusal spent nothing


async def test_a_batch_bigger_than_a_burst_is_too_large_without_counting(clock: FakeClock) -> None:
    rl = limiter(clock, tools={"search": {"requests": 2, "per_seconds": 60}})
    decision = await rl.check(
        site="demo", tier="authenticated", principal_key="k", usage=Usage(requests=3, tools={"search": 3})
    )
    assert (decision.outcome, decision.allowed, decision.policy, decision.limit) == (
        "too_large",
        False,
        "tool:search",
        2,
    )
    assert decision.states == ()
    assert await burst(rl, 2, principal_key="k", usage=spend(tool="search")) == [True, True]


def test_usage_counts_are_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Usage(tools={"search": 0})


def test_equal_usages_have_one_key_whatever_their_order() -> None:
    one = Usage(requests=2, tools={"a": 1, "b": 2}, toolsets={"x": 1})
    same = Usage(requests=2, tools={"b": 2, "a": 1}, toolsets={"x": 1})
    assert one.key == same.key
    assert one.key != Usage(requests=2, tools={"a": 1, "b": 2}, commands={"x": 1}).key
    assert one.key != Usage(requests=1, tools={"a": 1, "b": 2}, toolsets={"x": 1}).key


async def test_a_tool_limit_holds_across_distinct_but_equal_usages(clock: FakeClock) -> None:
    """Limits are remembered by what a usage spends: each request's own Usage object still counts."""
    rl = limiter(clock, tools={"search": {"requests": 2, "per_seconds": 60}})
    outcomes = [
        (
            await rl.check(
                site="demo", tier="authenticated", principal_key="k", usage=Usage(tools={"search": 1})
            )
        ).policy
        for _ in range(3)
    ]
    assert outcomes[2] == "tool:search"
    refused = await rl.check(
        site="demo", tier="authenticated", principal_key="k", usage=Usage(tools={"search": 1})
    )
    assert not refused.allowed
    other_caller = await rl.check(
        site="demo", tier="authenticated", principal_key="k2", usage=Usage(tools={"search": 1})
    )
    assert other_caller.allowed
