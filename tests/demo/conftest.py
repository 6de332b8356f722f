"""One demo server per test module (starting and stopping uvicorn costs ~0.2 s), reset before each test.

Test modules that use these fixtures run on the module's event loop:
`pytestmark = pytest.mark.asyncio(loop_scope="module")`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio

from proxy.demo import RunningDemo
from tests.demo.wp_client import WpClient
from tests.demo_upstream import demo_fixture

demo = demo_fixture()


@pytest_asyncio.fixture(loop_scope="module")
async def wp(demo: RunningDemo) -> AsyncIterator[WpClient]:
    demo.site.reset()
    async with aiohttp.ClientSession() as http:
        yield WpClient(demo, http)
