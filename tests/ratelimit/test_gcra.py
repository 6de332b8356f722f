"""GCRA arithmetic on its own: exact boundaries in integer microseconds."""

from __future__ import annotations

from proxy.ratelimit.gcra import Limit, evaluate

SECOND = 1_000_000


def limit(capacity: int = 3, interval_s: int = 2, name: str = "t", key: str = "k") -> Limit:
    return Limit(name=name, key=key, capacity=capacity, interval_us=interval_s * SECOND, window=6)


def test_fresh_key_admits_and_reports_remaining() -> None:
    verdict = evaluate([limit()], [0], 100 * SECOND)
    assert verdict.committed
    assert verdict.tats == (102 * SECOND,)
    (state,) = verdict.states
    assert (state.allowed, state.remaining, state.reset_after, state.retry_after) == (True, 2, 2.0, 0)


def test_full_backlog_refuses_with_the_true_wait() -> None:
    now = 100 * SECOND
    verdict = evaluate([limit()], [now + 6 * SECOND], now)  # three requests just went
    assert not verdict.committed
    assert verdict.tats == (now + 6 * SECOND,)  # nothing consumed
    (state,) = verdict.states
    assert (state.allowed, state.remaining, state.retry_after, state.reset_after) == (False, 0, 2, 6.0)


def test_wait_is_rounded_up_to_whole_seconds() -> None:
    now = 100 * SECOND
    verdict = evaluate([limit()], [now + 5 * SECOND + 1], now)  # 1 us short of the boundary
    assert verdict.states[0].retry_after == 2
    verdict = evaluate([limit()], [now + 4 * SECOND + 1], now)  # a microsecond of wait is a second
    assert verdict.states[0].retry_after == 1


def test_the_boundary_is_exact() -> None:
    now = 100 * SECOND
    assert evaluate([limit()], [now + 4 * SECOND], now).committed
    assert not evaluate([limit()], [now + 4 * SECOND + 1], now).committed


def test_all_or_nothing() -> None:
    now = 100 * SECOND
    wide, tight = limit(key="wide"), limit(capacity=1, key="tight")
    verdict = evaluate([wide, tight], [0, now + 2 * SECOND], now)
    assert not verdict.committed
    assert verdict.tats == (now, now + 2 * SECOND)  # the wide limit was not consumed either
    assert [state.allowed for state in verdict.states] == [True, False]
    assert verdict.states[0].remaining == 3


def test_a_cost_moves_the_tat_by_that_many_intervals() -> None:
    now = 100 * SECOND
    three = Limit(name="t", key="k", capacity=3, interval_us=2 * SECOND, window=6, cost=3)
    verdict = evaluate([three], [0], now)
    assert verdict.committed
    assert verdict.tats == (now + 6 * SECOND,)
    assert verdict.states[0].remaining == 0


def test_a_refused_cost_waits_until_all_of_it_fits() -> None:
    now = 100 * SECOND
    two = Limit(name="t", key="k", capacity=3, interval_us=2 * SECOND, window=6, cost=2)
    verdict = evaluate([two], [now + 4 * SECOND], now)  # one request fits now, two do not
    assert not verdict.committed
    (state,) = verdict.states
    assert (state.remaining, state.retry_after) == (1, 2)  # one more interval, then two fit
