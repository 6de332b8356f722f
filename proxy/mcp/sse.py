"""Server-sent events, parsed incrementally so a proxy can forward each event the moment it is complete.

Chunks may split anywhere (inside a CRLF, inside a UTF-8 sequence). Every event keeps its exact
original bytes, so events the sidecar does not change go out byte for byte, `id:`, `retry:` and
`:` comment lines included. Parsing follows the WHATWG event-stream rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from proxy.errors import SidecarError
from proxy.mcp.strict_json import dump_json

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "SseError", "SseEvent", "SseParser", "encode_event", "rewrite_sse"]

DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024

_BOM = b"\xef\xbb\xbf"
_EOL = re.compile(rb"\r\n|\r|\n")


class SseError(SidecarError):
    """The upstream event stream cannot be relayed safely (an event larger than the limit)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(502, code, message)


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One event: its exact bytes (terminating blank line included) and its fields.

    `data` is None when the event has no data line (a comment-only keep-alive, for instance); `id` and
    `event` are this event's own fields, not the stream's running values; `retry` is None unless valid.
    """

    raw: bytes
    data: str | None
    event: str | None
    id: str | None
    retry: int | None
    comments: tuple[str, ...]


def _field(line: bytes) -> tuple[str, str]:
    """(name, value) of a non-comment line; one space after the colon is not part of the value."""
    name, colon, value = line.partition(b":")
    if colon and value.startswith(b" "):
        value = value[1:]
    return name.decode("utf-8", "replace"), value.decode("utf-8", "replace")


class SseParser:
    """Feed byte chunks, get complete events. Holds at most one partial event.

    A chunk ending in CR holds the event back until the next byte shows whether CRLF follows, so the
    same stream always splits into the same events however it was chunked.
    """

    def __init__(self, *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._max = max_event_bytes
        self._buffer = bytearray()
        self._scan = 0  # where the next unread line starts
        self._bom_checked = False
        self._reset_fields()

    def _reset_fields(self) -> None:
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None
        self._comments: list[str] = []

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Consume `chunk`; return the events it completed. Raises SseError past the size limit."""
        self._buffer += chunk
        return self._drain(final=False)

    def close(self) -> list[SseEvent]:
        """End of stream: return an event still held back by a trailing CR.

        An unterminated last event is dropped, as the SSE rules tell clients to do; it is never relayed
        (it could be an unfiltered answer).
        """
        events = self._drain(final=True)
        self._buffer.clear()
        self._scan = 0
        self._reset_fields()
        return events

    def _drain(self, *, final: bool) -> list[SseEvent]:
        buffer = self._buffer
        if not self._bom_checked:
            if not final and len(buffer) < len(_BOM) and _BOM.startswith(buffer):
                return []
            self._bom_checked = True
            if buffer.startswith(_BOM):
                self._scan = len(_BOM)
        events: list[SseEvent] = []
        start = 0
        while (match := _EOL.search(buffer, self._scan)) is not None:
            if not final and match.group() == b"\r" and match.end() == len(buffer):
                break  # CR at the end of what we have: wait to learn whether LF follows
            line = bytes(buffer[self._scan : match.start()])
            self._scan = match.end()
            if line:
                self._take(line)
                continue
            if self._scan - start > self._max:
                raise self._too_large()
            events.append(self._dispatch(bytes(buffer[start : self._scan])))
            start = self._scan
        del buffer[:start]
        self._scan -= start
        if len(buffer) > self._max:
            raise self._too_large()
        return events

    def _too_large(self) -> SseError:
        return SseError("sse_event_too_large", f"an upstream SSE event exceeds {self._max} bytes")

    def _take(self, line: bytes) -> None:
        if line.startswith(b":"):
            self._comments.append(line[1:].decode("utf-8", "replace"))
            return
        name, value = _field(line)
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\x00" not in value:
                self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)

    def _dispatch(self, raw: bytes) -> SseEvent:
        event = SseEvent(
            raw=raw,
            data="\n".join(self._data) if self._data else None,
            event=self._event,
            id=self._id,
            retry=self._retry,
            comments=tuple(self._comments),
        )
        self._reset_fields()
        return event


def encode_event(event: SseEvent, data: str) -> bytes:
    """`event` with its data replaced by `data`; every other line (id, event, retry, comments) kept as is.

    The new data lines take the place of the first old one and use the event's own line ending.
    """
    raw = event.raw
    prefix = _BOM if raw.startswith(_BOM) else b""
    body = raw[len(prefix) :]
    lines: list[tuple[bytes, bytes]] = []  # (line, its terminator)
    position = 0
    for match in _EOL.finditer(body):
        lines.append((body[position : match.start()], match.group()))
        position = match.end()
    blank = lines.pop()  # the empty line that ends the event
    is_data = [bool(line) and not line.startswith(b":") and _field(line)[0] == "data" for line, _ in lines]
    ending = next((end for (_, end), data_line in zip(lines, is_data, strict=True) if data_line), blank[1])
    new_lines = b"".join(b"data: " + part.encode("utf-8") + ending for part in re.split(r"\r\n|\r|\n", data))
    out = bytearray(prefix)
    inserted = False
    for (line, end), data_line in zip(lines, is_data, strict=True):
        if not data_line:
            out += line + end
        elif not inserted:
            out += new_lines
            inserted = True
    if not inserted:
        out += new_lines
    out += blank[0] + blank[1]
    return bytes(out)


def _as_message(data: str | None) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) and value.get("jsonrpc") == "2.0" else None


async def rewrite_sse(
    chunks: AsyncIterator[bytes],
    transform: Callable[[dict[str, Any]], dict[str, Any] | None],
    *,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> AsyncIterator[bytes]:
    """Relay an SSE stream event by event, passing each JSON-RPC message through `transform`.

    `transform` returns a replacement message or None for "unchanged"; unchanged events (and events
    whose data is not a JSON-RPC message) are yielded as their original bytes. Nothing is held beyond
    the event being read.
    """
    parser = SseParser(max_event_bytes=max_event_bytes)

    def relay(event: SseEvent) -> bytes:
        message = _as_message(event.data)
        replacement = transform(message) if message is not None else None
        return event.raw if replacement is None else encode_event(event, dump_json(replacement))

    async for chunk in chunks:
        for event in parser.feed(chunk):
            yield relay(event)
    for event in parser.close():
        yield relay(event)
