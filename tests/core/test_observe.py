"""Log lines reach stdout whole and in order, flushed once per loop iteration on the event loop."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout

from proxy.observe import configure_logging, get_logger


class _Pipe(io.TextIOWrapper):
    """A block-buffered text stream over bytes, as stdout is when it is a pipe to a log shipper."""

    def __init__(self) -> None:
        self.raw_bytes = io.BytesIO()
        super().__init__(self.raw_bytes, encoding="utf-8", write_through=False)

    def lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.raw_bytes.getvalue().decode().splitlines()]


@contextmanager
def stdout_pipe() -> Iterator[_Pipe]:
    """stdout replaced inside the test itself (pytest's capture puts its own back between phases)."""
    stream = _Pipe()
    configure_logging(level="info", fmt="json")
    with redirect_stdout(stream):
        yield stream


async def test_lines_written_in_one_iteration_leave_together_at_its_end() -> None:
    with stdout_pipe() as pipe:
        log = get_logger("test")
        for number in range(3):
            log.info("request", number=number)
        assert pipe.lines() == []  # still buffered: one flush will carry all three
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert [line["number"] for line in pipe.lines()] == [0, 1, 2]


async def test_a_line_never_waits_for_later_traffic() -> None:
    with stdout_pipe() as pipe:
        get_logger("test").info("alone")
        await asyncio.sleep(0.01)  # an idle loop: nothing else is written
        assert [line["event"] for line in pipe.lines()] == ["alone"]


def test_outside_the_event_loop_every_line_is_flushed_at_once() -> None:
    with stdout_pipe() as pipe:
        get_logger("test").info("cli")
        assert [line["event"] for line in pipe.lines()] == ["cli"]


async def test_a_stream_closed_before_its_flush_is_no_error() -> None:
    """A test runner's capture may close stdout between the write and the scheduled flush."""
    errors: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: errors.append(context))
    with stdout_pipe() as pipe:
        get_logger("test").info("late")
        pipe.detach()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    assert errors == []
