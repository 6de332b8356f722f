"""Fixtures shared by every test: a real Redis with per-test key isolation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.redis_server import OwnedRedis, shared_redis_url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis server URL (the machine's, or one this run started)."""
    url, owned = shared_redis_url()
    yield url
    if owned is not None:
        owned.stop()


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix no other test or run uses: tests never flush a shared server."""
    return f"test-sidecar:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def owned_redis() -> Iterator[OwnedRedis]:
    """A private redis-server that the test may stop and restart."""
    server = OwnedRedis()
    server.start()
    yield server
    server.stop()
