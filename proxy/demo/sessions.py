"""MCP sessions as mcp-adapter keeps them: in user meta, per WordPress user.

A session id only means something for the user who created it; another user
presenting it gets "not found", which is what the sidecar must cope with.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["MAX_SESSIONS_PER_USER", "SESSION_TIMEOUT_SECONDS", "McpSessionStore"]

MAX_SESSIONS_PER_USER = 32
SESSION_TIMEOUT_SECONDS = 24 * 60 * 60


class McpSessionStore:
    """Session ids per user id, oldest evicted past 32, expired after 24 h idle."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._by_user: dict[int, OrderedDict[str, float]] = {}

    def create(self, user_id: int) -> str:
        session_id = str(uuid.uuid4())
        sessions = self._by_user.setdefault(user_id, OrderedDict())
        sessions[session_id] = self._clock()
        while len(sessions) > MAX_SESSIONS_PER_USER:
            sessions.popitem(last=False)
        return session_id

    def touch(self, user_id: int, session_id: str) -> bool:
        """True (and the idle timer restarts) if this user owns this live session."""
        sessions = self._by_user.get(user_id, OrderedDict())
        last_seen = sessions.get(session_id)
        now = self._clock()
        if last_seen is None or now - last_seen > SESSION_TIMEOUT_SECONDS:
            sessions.pop(session_id, None)
            return False
        sessions[session_id] = now
        return True

    def end(self, user_id: int, session_id: str) -> None:
        self._by_user.get(user_id, OrderedDict()).pop(session_id, None)

    def count(self, user_id: int) -> int:
        return len(self._by_user.get(user_id, ()))
