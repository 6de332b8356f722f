"""Store calls keep their caller's cancellation, even when the driver swallows it.

Python 3.11's `asyncio.wait_for` (which redis-py writes every command under) returns a result that was
ready when a cancellation arrived and drops the cancellation; a background loop calling the store then
never stops, and shutdown waits for it forever. These tests also cancel loops over a real Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from proxy.identity.apikeys import KeyService
from proxy.runtime import Runtime
from proxy.services import build_services
from proxy.stores import RedisStore
from proxy.stores.base import StoreError, StoreUnavailable
from proxy.stores.guard import translating
from proxy.switches import Switches
from tests.factories import make_config

_PROMPT = 2.0  # seconds a cancelled loop may take to end; it ends within milliseconds when it works
_TRIALS = 20


class _Driver(Exception):
    pass


class _Swallowing:
    """A store method whose driver returns a ready reply instead of raising the cancellation (as
    `asyncio.wait_for` does on Python 3.11)."""

    def __init__(self) -> None:
        self.reply: asyncio.Future[str] | None = None
        self.waiting = asyncio.Event()

    @translating(backend="test", unavailable=(_Driver,), failed=_Driver)
    async def get(self) -> str:
        self.reply = asyncio.get_running_loop().create_future()
        self.waiting.set()
        return await asyncio.wait_for(self.reply, timeout=5)

    async def race(self, task: asyncio.Task[str]) -> None:
        """The reply lands, and the task is cancelled before it resumes."""
        await self.waiting.wait()
        assert self.reply is not None
        self.reply.set_result("reply")
        task.cancel()


@pytest.fixture
async def redis_store(redis_url: str, clean_redis_prefix: str) -> AsyncIterator[RedisStore]:
    store = RedisStore(redis_url, clean_redis_prefix)
    await store.open()
    yield store
    await store.close()


async def test_a_swallowed_cancellation_is_raised_again() -> None:
    driver = _Swallowing()
    task = asyncio.create_task(driver.get())
    await driver.race(task)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def test_a_cancellation_that_came_before_the_call_is_not_raised_again() -> None:
    """Cleanup after a cancellation (the task is still cancelling) may use the store."""
    driver = _Swallowing()

    async def answer() -> None:
        await driver.waiting.wait()
        assert driver.reply is not None
        driver.reply.set_result("reply")

    async def cleanup() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            answering = asyncio.create_task(answer())
            result = await driver.get()
            await answering
            return result
        raise AssertionError("not cancelled")

    task = asyncio.create_task(cleanup())
    await asyncio.sleep(0)
    task.cancel()
    assert await task == "reply"


@pytest.mark.parametrize(
    ("error", "translated"), [(ConnectionError, StoreUnavailable), (ValueError, StoreError)]
)
async def test_driver_errors_are_translated(error: type[Exception], translated: type[Exception]) -> None:
    @translating(backend="test", unavailable=(ConnectionError,), failed=ValueError)
    async def failing() -> None:
        raise error("down")

    with pytest.raises(translated, match="test"):
        await failing()


async def _end(task: asyncio.Task[None]) -> None:
    """End a loop that swallowed its cancellation (keep cancelling it), so a failing test still ends."""
    while not task.done():
        task.cancel()
        await asyncio.sleep(0.01)


async def _stops_promptly(start: Callable[[], Awaitable[asyncio.Task[None]]]) -> bool:
    """Start a loop and cancel it mid-flight, `_TRIALS` times: False as soon as one ignores the cancel."""
    for _ in range(_TRIALS):
        task = await start()
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=_PROMPT)
        if not done:
            await _end(task)
            return False
    return True


async def _closes_promptly(close: Awaitable[None], loop_name: str) -> bool:
    """Whether `close` (which cancels the background task `loop_name` and waits for it) ends promptly."""
    closing = asyncio.ensure_future(close)
    done, _ = await asyncio.wait([closing], timeout=_PROMPT)
    if not done:
        for task in asyncio.all_tasks():
            if task.get_name() == loop_name:
                await _end(task)
    await closing
    return bool(done)


async def test_a_loop_of_redis_calls_stops_when_cancelled(redis_store: RedisStore) -> None:
    async def poll(calls: list[int]) -> None:
        while True:
            await redis_store.get_settings()
            calls.append(1)

    async def start() -> asyncio.Task[None]:
        calls: list[int] = []
        task = asyncio.create_task(poll(calls))
        while len(calls) < 3:  # well inside the loop: a cancel now lands in a Redis call
            await asyncio.sleep(0)
        return task

    assert await _stops_promptly(start)


async def test_the_switches_poll_stops_when_closed(redis_store: RedisStore) -> None:
    for _ in range(_TRIALS):
        switches = Switches(redis_store, poll_seconds=0.0001)
        await switches.start()
        await asyncio.sleep(0.005)
        assert await _closes_promptly(switches.close(), "switches-poll")


async def _use(keys: KeyService, raw: str) -> None:
    """Use a key without pause: every use is a last-used time the flush loop must write."""
    while True:
        with contextlib.suppress(StoreError):  # the store closes under it at the end
            await keys.authenticate(raw)
        await asyncio.sleep(0)


async def test_services_close_promptly_while_flushing_last_used(
    redis_url: str, clean_redis_prefix: str
) -> None:
    """The last-used flush loop writes to Redis all the time here, and close() still ends at once."""
    config = make_config(
        "http://127.0.0.1:9",
        top={
            "store": {"backend": "redis", "redis_url": redis_url, "prefix": clean_redis_prefix},
            "identity": {"last_used_flush_seconds": 0.0001},
        },
        users={"editor": {"app_password": "x"}},
    )
    runtime = Runtime.compile(config)
    for _ in range(5):
        services = build_services(runtime)
        await services.start()
        keys = services.identity.keys
        issued = await keys.issue("demo", "editor", label="t", scopes=("mcp.read",))
        user = asyncio.create_task(_use(keys, issued.raw))
        await asyncio.sleep(0.02)
        closed = await _closes_promptly(services.close(), "last-used-flush")
        await _end(user)
        assert closed
        reopened = RedisStore(redis_url, clean_redis_prefix)
        await reopened.open()
        record = await reopened.get_key(issued.record.id)
        await reopened.close()
        assert record is not None
        assert record.last_used_at is not None  # close() flushed what the loop had not
