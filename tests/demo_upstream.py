"""The demo WordPress as a pytest fixture shared by a whole test module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from proxy.demo import RunningDemo, start_demo_upstream

__all__ = ["demo_fixture"]


def demo_fixture() -> Any:
    """A demo WordPress per test module (starting uvicorn costs ~0.2 s); tests that change it reset it.

    Use as `demo = demo_fixture()`. Modules using it run on one event loop:
    `pytestmark = pytest.mark.asyncio(loop_scope="module")`.
    """

    async def demo() -> AsyncIterator[RunningDemo]:
        running = await start_demo_upstream()
        yield running
        await running.close()

    return pytest_asyncio.fixture(demo, loop_scope="module", scope="module")
