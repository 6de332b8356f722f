"""Rate-limit headers and refusals, from hand-made decisions and from a real limiter."""

from __future__ import annotations

import pytest

from proxy.ratelimit import Decision, LimitState, RateLimiter, RateLimitSettings
from proxy.ratelimit.response import rate_limit_error, rate_limit_headers
from tests.ratelimit.conftest import FakeClock


def state(name: str, **fields: object) -> LimitState:
    values: dict[str, object] = {
        "limit": 60,
        "window": 60,
        "allowed": True,
        "remaining": 59,
        "reset_after": 1.0,
        "retry_after": 0,
    }
    values.update(fields)
    return LimitState(name=name, **values)  # type: ignore[arg-type]


async def test_headers_after_the_first_request(clock: FakeClock) -> None:
    decision = await RateLimiter(RateLimitSettings(), clock=clock).check(
        site="demo", tier="authenticated", principal_key="k"
    )
    assert rate_limit_headers(decision) == {
        "X-RateLimit-Limit": "60",
        "X-RateLimit-Remaining": "59",
        "X-RateLimit-Reset": "1",
        "RateLimit-Policy": '"authenticated";q=60;w=60',
        "RateLimit": '"authenticated";r=59;t=1',
    }


async def test_headers_when_refused(clock: FakeClock) -> None:
    rl = RateLimiter(RateLimitSettings(), clock=clock)
    for _ in range(15):
        await rl.check(site="demo", tier="anonymous", principal_key="192.0.2.7")
    clock.advance(0.5)
    decision = await rl.check(site="demo", tier="anonymous", principal_key="192.0.2.7")
    assert rate_limit_headers(decision) == {
        "X-RateLimit-Limit": "15",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "60",  # 59.5 s until the full allowance, rounded up
        "RateLimit-Policy": '"anonymous";q=15;w=60',
        "RateLimit": '"anonymous";r=0;t=4',  # the refusing limit's t is the wait, as Retry-After
        "Retry-After": "4",  # 3.5 s rounded up
    }
    error = rate_limit_error(decision)
    assert (error.status, error.code, error.headers["Retry-After"]) == (429, "rate_limited", "4")
    assert error.data == {"policy": "anonymous", "retry_after": 4}
    assert "anonymous" in error.message


def test_every_limit_is_listed_most_restrictive_first() -> None:
    decision = Decision(
        outcome="limited",
        allowed=False,
        policy="tool:wp-delete-post",
        limit=2,
        remaining=0,
        reset_after=50.5,
        retry_after=21,
        states=(
            state(
                "tool:wp-delete-post", limit=2, allowed=False, remaining=0, reset_after=50.5, retry_after=21
            ),
            state("authenticated", remaining=40, reset_after=20.2),
        ),
    )
    headers = rate_limit_headers(decision)
    assert headers["RateLimit-Policy"] == '"tool:wp-delete-post";q=2;w=60, "authenticated";q=60;w=60'
    assert headers["RateLimit"] == '"tool:wp-delete-post";r=0;t=21, "authenticated";r=40;t=21'
    assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Reset"], headers["Retry-After"]) == (
        "2",
        "51",
        "21",
    )


@pytest.mark.parametrize(
    ("name", "serialized"),
    [
        ("command:wp/export", '"command:wp/export"'),
        ('tool:say"hi"', '"tool:say\\"hi\\""'),
        ("tool:back\\slash", '"tool:back\\\\slash"'),
        ("tool:café", '"tool:caf?"'),
    ],
)
def test_policy_names_are_structured_field_strings(name: str, serialized: str) -> None:
    decision = Decision(outcome="allowed", allowed=True, policy=name, limit=60, states=(state(name),))
    assert rate_limit_headers(decision)["RateLimit"] == f"{serialized};r=59;t=1"


def test_no_limit_no_headers() -> None:
    assert rate_limit_headers(Decision(outcome="allowed", allowed=True)) == {}


def test_an_allowed_decision_has_no_error() -> None:
    with pytest.raises(ValueError, match="refused decision"):
        rate_limit_error(Decision(outcome="allowed", allowed=True))


def test_too_large_is_400_without_retry_after() -> None:
    decision = Decision(outcome="too_large", allowed=False, policy="tool:search", limit=2)
    assert rate_limit_headers(decision) == {}
    error = rate_limit_error(decision)
    assert (error.status, error.code, error.headers) == (400, "batch_exceeds_rate_limit", {})
    assert error.data == {"policy": "tool:search", "limit": 2}
    assert "'tool:search'" in error.message
