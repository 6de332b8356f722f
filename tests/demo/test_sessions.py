"""MCP sessions per WordPress user."""

from __future__ import annotations

import uuid

from proxy.demo.sessions import MAX_SESSIONS_PER_USER, SESSION_TIMEOUT_SECONDS, McpSessionStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_session_ids_are_uuid4_and_bound_to_their_user() -> None:
    store = McpSessionStore()
    session = store.create(1)
    assert uuid.UUID(session).version == 4
    assert store.touch(1, session)
    assert not store.touch(2, session)
    assert not store.touch(1, "bogus")


def test_end_forgets_the_session() -> None:
    store = McpSessionStore()
    session = store.create(1)
    store.end(1, session)
    assert not store.touch(1, session)
    store.end(1, session)  # ending twice is harmless


def test_oldest_session_is_evicted_past_the_limit() -> None:
    store = McpSessionStore()
    first = store.create(1)
    later = [store.create(1) for _ in range(MAX_SESSIONS_PER_USER)]
    assert store.count(1) == MAX_SESSIONS_PER_USER
    assert not store.touch(1, first)
    assert all(store.touch(1, session) for session in later)


def test_idle_sessions_expire_and_activity_keeps_them_alive() -> None:
    clock = Clock()
    store = McpSessionStore(clock=clock)
    busy, idle = store.create(1), store.create(1)
    clock.now += SESSION_TIMEOUT_SECONDS - 1
    assert store.touch(1, busy)
    clock.now += 2
    assert store.touch(1, busy)
    assert not store.touch(1, idle)
    assert store.count(1) == 1
