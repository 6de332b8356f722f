"""SSE: however the bytes are chunked, the same events come out, each with its exact original bytes."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from proxy.mcp.sse import SseError, SseEvent, SseParser, encode_event, rewrite_sse

# A stream with everything the rules allow: BOM, CRLF / LF / CR endings, comments, id, retry, event,
# multi-line data, a field without colon, unknown fields, a NUL in an id, a bad retry, UTF-8 text.
SAMPLE = (
    b"\xef\xbb\xbf: welcome\r\n"
    b"retry: 3000\r\n"
    b"\r\n"
    b"id: 1\r\n"
    b"event: message\r\n"
    b'data: {"jsonrpc":"2.0","method":"notifications/progress",'
    b'"params":{"progress":1,"message":"\xc3\xa9t\xc3\xa9 \xe2\x9c\x93"}}\r\n'
    b"\r\n"
    b": ping\n"
    b"\n"
    b"id: 2\r"
    b"data: line one\r"
    b"data:line two\r"
    b"data\r"
    b"foo: ignored\r"
    b"\r"
    b"id: bad\x00id\n"
    b"retry: soon\n"
    b"data: \xf0\x9f\x98\x80 emoji\n"
    b"\n"
    b"\n"
    b'id: 3\r\nevent: message\r\ndata: {"jsonrpc":"2.0","id":7,"result":{"tools":[]}}\r\n\r\n'
)

EXPECTED = [
    SseEvent(raw=b"", data=None, event=None, id=None, retry=3000, comments=(" welcome",)),
    SseEvent(
        raw=b"",
        data='{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1,"message":"été ✓"}}',
        event="message",
        id="1",
        retry=None,
        comments=(),
    ),
    SseEvent(raw=b"", data=None, event=None, id=None, retry=None, comments=(" ping",)),
    SseEvent(raw=b"", data="line one\nline two\n", event=None, id="2", retry=None, comments=()),
    SseEvent(raw=b"", data="😀 emoji", event=None, id=None, retry=None, comments=()),
    SseEvent(raw=b"", data=None, event=None, id=None, retry=None, comments=()),
    SseEvent(
        raw=b"",
        data='{"jsonrpc":"2.0","id":7,"result":{"tools":[]}}',
        event="message",
        id="3",
        retry=None,
        comments=(),
    ),
]


def _parse(chunks: list[bytes]) -> list[SseEvent]:
    parser = SseParser()
    events = [event for chunk in chunks for event in parser.feed(chunk)]
    return events + parser.close()


def _fields(event: SseEvent) -> tuple[Any, ...]:
    return (event.data, event.event, event.id, event.retry, event.comments)


def _check(events: list[SseEvent]) -> None:
    assert [_fields(e) for e in events] == [_fields(e) for e in EXPECTED]
    assert b"".join(e.raw for e in events) == SAMPLE


def test_whole_stream() -> None:
    events = _parse([SAMPLE])
    _check(events)
    assert events[0].raw == b"\xef\xbb\xbf: welcome\r\nretry: 3000\r\n\r\n"


@pytest.mark.parametrize("cut", range(len(SAMPLE) + 1))
def test_split_at_every_byte(cut: int) -> None:
    reference = _parse([SAMPLE])
    events = _parse([SAMPLE[:cut], SAMPLE[cut:]])
    assert events == reference


def test_one_byte_at_a_time() -> None:
    assert _parse([SAMPLE[i : i + 1] for i in range(len(SAMPLE))]) == _parse([SAMPLE])


def test_random_chunkings() -> None:
    reference = _parse([SAMPLE])
    rng = random.Random(20260728)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(SAMPLE)), rng.randint(2, 12)))
        chunks = [SAMPLE[a:b] for a, b in zip([0, *cuts], [*cuts, len(SAMPLE)], strict=True)]
        assert _parse(chunks) == reference


def test_events_come_out_as_soon_as_complete() -> None:
    parser = SseParser()
    assert parser.feed(b"data: a\n") == []
    (event,) = parser.feed(b"\ndata: b")
    assert event.data == "a"
    assert parser.feed(b"\n") == []
    assert [e.data for e in parser.feed(b"\n")] == ["b"]


def test_trailing_cr_is_held_until_the_next_byte_or_the_end() -> None:
    parser = SseParser()
    assert parser.feed(b"data: a\r\r") == []  # the second CR may still be half of a CRLF
    (event,) = parser.close()
    assert (event.data, event.raw) == ("a", b"data: a\r\r")


def test_unterminated_last_event_is_dropped() -> None:
    parser = SseParser()
    assert parser.feed(b'data: {"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"secret"}]}}\n') == []
    assert parser.close() == []


def test_event_size_limit_on_a_growing_event() -> None:
    parser = SseParser(max_event_bytes=64)
    parser.feed(b"data: " + b"x" * 40)
    with pytest.raises(SseError) as caught:
        parser.feed(b"x" * 40)
    assert (caught.value.status, caught.value.code) == (502, "sse_event_too_large")


def test_event_size_limit_on_a_complete_event() -> None:
    parser = SseParser(max_event_bytes=64)
    assert len(parser.feed(b"data: ok\n\n")) == 1
    with pytest.raises(SseError):
        parser.feed(b"data: " + b"x" * 100 + b"\n\n")


def test_many_small_events_are_not_limited_together() -> None:
    parser = SseParser(max_event_bytes=64)
    assert len(parser.feed(b"data: 0123456789\n\n" * 100)) == 100


def test_encode_event_keeps_every_other_line() -> None:
    (event,) = _parse(
        [b": c1\r\nid: 9\r\nevent: message\r\ndata: old\r\nretry: 10\r\ndata: old2\r\n: c2\r\n\r\n"]
    )
    assert encode_event(event, '{"new":1}') == (
        b': c1\r\nid: 9\r\nevent: message\r\ndata: {"new":1}\r\nretry: 10\r\n: c2\r\n\r\n'
    )


def test_encode_event_multiline_bom_and_no_data() -> None:
    (event,) = _parse([b"\xef\xbb\xbfid: 1\n\n"])
    assert encode_event(event, "a\nb") == b"\xef\xbb\xbfid: 1\ndata: a\ndata: b\n\n"
    (event,) = _parse([b"data: x\r\r"])
    assert encode_event(event, "é") == "data: é\r\r".encode()


async def _chunks(parts: list[bytes], log: list[str]) -> AsyncIterator[bytes]:
    for index, part in enumerate(parts):
        log.append(f"chunk {index}")
        yield part


def _hide_secret(message: dict[str, Any]) -> dict[str, Any] | None:
    result = message.get("result")
    if not isinstance(result, dict) or "tools" not in result:
        return None
    return {**message, "result": {"tools": [t for t in result["tools"] if t["name"] != "secret"]}}


async def test_rewrite_sse_changes_only_what_the_transform_changes() -> None:
    listed = {"jsonrpc": "2.0", "id": 2, "result": {"tools": [{"name": "echo"}, {"name": "secret"}]}}
    stream = (
        b": keep-alive\r\n\r\n"
        b"id: 5\r\nevent: message\r\n"
        b'data: {"jsonrpc":"2.0","method":"sampling/createMessage","id":"s1"}\r\n\r\n'
        b"data: not json\r\n\r\n"
        b"id: 6\r\nevent: message\r\nretry: 500\r\n: note\r\ndata: "
        + json.dumps(listed).encode()
        + b"\r\n\r\n"
    )
    out = [piece async for piece in rewrite_sse(_chunks([stream[:30], stream[30:]], []), _hide_secret)]
    assert out[:3] == [e.raw for e in _parse([stream])[:3]]
    assert out[3] == (
        b'id: 6\r\nevent: message\r\nretry: 500\r\n: note\r\ndata: {"jsonrpc":"2.0","id":2,"result":{"tools":'
        b'[{"name":"echo"}]}}\r\n\r\n'
    )


async def test_rewrite_sse_yields_before_reading_on() -> None:
    log: list[str] = []
    parts = [b"data: {}\n\n", b"data: [1]\n\n"]
    async for piece in rewrite_sse(_chunks(parts, log), _hide_secret):
        log.append(f"event {piece!r}")
    assert log == ["chunk 0", "event b'data: {}\\n\\n'", "chunk 1", "event b'data: [1]\\n\\n'"]
