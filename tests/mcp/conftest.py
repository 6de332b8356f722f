"""Fixtures for the MCP message layer tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.mcp.sdk_server import RecordingServer, recording_sdk_server


@pytest.fixture
async def sdk_server() -> AsyncIterator[RecordingServer]:
    """A real `mcp` SDK server (tools echo and add) that records every POST and its answer."""
    async with recording_sdk_server() as server:
        yield server
