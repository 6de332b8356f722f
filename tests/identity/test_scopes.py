from __future__ import annotations

import pytest

from proxy.identity.scopes import check_scopes, format_scope, parse_scope


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("a", ("a",)),
        ("posts:read posts:write", ("posts:read", "posts:write")),
        ("b a b", ("b", "a")),
        ("  a   b ", ("a", "b")),
        ("mcp:tools/call!#$%&'()*+,-./:;<=>?@[]^_`{|}~", ("mcp:tools/call!#$%&'()*+,-./:;<=>?@[]^_`{|}~",)),
    ],
)
def test_parse_scope(text: str, expected: tuple[str, ...]) -> None:
    assert parse_scope(text) == expected
    assert parse_scope(format_scope(expected)) == expected


@pytest.mark.parametrize("text", ['a"b', "a\\b", "a\tb", "caf\u00e9", "a\x00", "a\nb"])
def test_parse_scope_refuses_bad_tokens(text: str) -> None:
    with pytest.raises(ValueError, match="not a valid scope"):
        parse_scope(text)


@pytest.mark.parametrize("scopes", [[""], ["a b"], [3]])
def test_check_scopes_refuses_bad_items(scopes: list[object]) -> None:
    with pytest.raises(ValueError, match="not a valid scope"):
        check_scopes(scopes)  # type: ignore[arg-type]
