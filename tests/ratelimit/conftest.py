"""Shared pieces of the rate-limit tests: a clock the test moves by hand."""

from __future__ import annotations

import pytest

from proxy.ratelimit import Usage


class FakeClock:
    """Monotonic seconds that only move when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def spend(
    *, tool: str | None = None, toolset: str | None = None, command: str | None = None, requests: int = 1
) -> Usage:
    """The usage of a request making at most one call of each kind."""
    return Usage(
        requests=requests,
        tools={tool: 1} if tool else {},
        toolsets={toolset: 1} if toolset else {},
        commands={command: 1} if command else {},
    )
