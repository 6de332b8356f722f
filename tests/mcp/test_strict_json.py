"""Strict JSON: every refusal has its reason, and depth is measured without recursion."""

from __future__ import annotations

import json
import time

import pytest

from proxy.mcp.strict_json import StrictJsonError, dump_json, load_json, nesting_exceeds


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"\xff{}", "not_utf8", id="invalid-start-byte"),
        pytest.param(b'{"a":"\xc3"}', "not_utf8", id="truncated-multibyte"),
        pytest.param('{"a":1}'.encode("utf-16"), "not_utf8", id="utf-16"),
        pytest.param(b"", "invalid_json", id="empty"),
        pytest.param(b'{"jsonrpc":"2.0","method":"tools/li', "invalid_json", id="truncated"),
        pytest.param(b"{'a': 1}", "invalid_json", id="single-quotes"),
        pytest.param(b"[1,]", "invalid_json", id="trailing-comma"),
        pytest.param(b"\xef\xbb\xbf{}", "invalid_json", id="bom"),
        pytest.param(b"NaN", "invalid_json", id="nan"),
        pytest.param(b'{"x": -Infinity}', "invalid_json", id="infinity"),
        pytest.param(b"1" * 5000, "invalid_json", id="int-too-long"),
        pytest.param(b'{"a":1,"a":2}', "duplicate_key", id="duplicate-key"),
        pytest.param(b'{"p":{"k":1,"k":1}}', "duplicate_key", id="nested-duplicate-key"),
        pytest.param(b"[" * 10_000 + b"]" * 10_000, "too_deep", id="10k-arrays"),
        pytest.param(b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "too_deep", id="10k-objects"),
        pytest.param(b"[" * 10_000, "too_deep", id="10k-unclosed"),
        pytest.param(b"[" * 65 + b"]" * 65, "too_deep", id="65-levels"),
    ],
)
def test_refusals(body: bytes, reason: str) -> None:
    with pytest.raises(StrictJsonError) as caught:
        load_json(body)
    assert caught.value.reason == reason
    assert caught.value.message


def test_depth_limit_is_inclusive() -> None:
    assert load_json(b"[" * 64 + b"]" * 64) is not None
    assert load_json(b"[[1]]", max_depth=2) == [[1]]
    with pytest.raises(StrictJsonError):
        load_json(b"[[[1]]]", max_depth=2)
    with pytest.raises(StrictJsonError):
        load_json(b'{"a": [{"b": 1}]}', max_depth=2)  # objects count as levels too


def test_brackets_inside_strings_are_not_levels() -> None:
    assert load_json(b'["' + b"[{" * 100 + b'"]', max_depth=2) == ["[{" * 100]


def test_nesting_measure_is_iterative_and_fast() -> None:
    deep: list[object] = []
    node = deep
    for _ in range(100_000):
        child: list[object] = []
        node.append(child)
        node = child
    started = time.perf_counter()
    assert nesting_exceeds(deep, 64)
    assert not nesting_exceeds({"a": [{"b": 1}], "c": 2}, 3)
    assert nesting_exceeds({"a": [{"b": []}]}, 3)
    assert time.perf_counter() - started < 1.0


def test_dump_is_compact_and_ascii() -> None:
    assert dump_json({"a": ["é", "\ud800"]}) == '{"a":["\\u00e9","\\ud800"]}'


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1}',
        ' \t\r\n{"a":[1,2,{"b":null}]} \n',
        '"just a string"',
        "  42",
        '{"a":1} x',
        '{"a":1}{"b":2}',
        '{"a":[1,{"b":}]}',
        "   ",
        "]",
    ],
)
def test_reads_exactly_as_the_standard_decoder(text: str) -> None:
    """The usual body is scanned in one call; whatever surrounds it, or breaks it, reads (or fails, at the
    same place) as json.loads would have it."""
    try:
        expected: object = json.loads(text)
    except json.JSONDecodeError as error:
        expected = error
    if isinstance(expected, json.JSONDecodeError):
        with pytest.raises(StrictJsonError) as caught:
            load_json(text.encode())
        assert caught.value.reason == "invalid_json"
        assert str(expected) in caught.value.message
    else:
        assert load_json(text.encode()) == expected
