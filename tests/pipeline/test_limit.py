"""The limit stage's pure parts: whose allowance a request spends, and each entry's home toolset."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import cast

import pytest

from proxy.context import RequestContext
from proxy.identity.principal import Principal, PrincipalKind
from proxy.mcp.jsonrpc import parse_body
from proxy.mcp.target import resolve_target
from proxy.pipeline.inspect import Inspected
from proxy.pipeline.limit import HomeToolsets, UsageBook, limit_key, usage_of
from proxy.rules import Kind, Rules, load_rules
from tests.factories import RULES_DIR


def principal(kind: PrincipalKind, id: str, wp_user: str | None) -> Principal:
    tier = "anonymous" if kind == "anonymous" else "authenticated"
    return Principal(
        kind=kind, id=id, site="demo", wp_user=wp_user, scopes=frozenset(), profile=None, tier=tier
    )


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(RULES_DIR / "tools.yaml", RULES_DIR / "toolsets.yaml")


def test_each_user_of_one_oauth_client_has_an_allowance() -> None:
    alice = limit_key(principal("oauth_user", "client-1", "alice"))
    bob = limit_key(principal("oauth_user", "client-1", "bob"))
    assert alice != bob
    assert alice == "oauth_user:client-1/alice"


@pytest.mark.parametrize(
    ("kind", "id", "expected"),
    [
        ("api_key", "key_1", "api_key:key_1"),
        ("oauth_client", "client-1", "oauth_client:client-1"),
        ("anonymous", "2001:db8::/64", "anonymous:2001:db8::/64"),
    ],
)
def test_other_principals_are_keyed_by_id(kind: PrincipalKind, id: str, expected: str) -> None:
    # two callers acting as one WordPress user still have separate allowances
    assert limit_key(principal(kind, id, "admin")) == expected


@pytest.mark.parametrize(
    ("kind", "name", "home"),
    [
        ("tool", "mcp-adapter-discover-abilities", "read-only"),
        ("ability", "demo/get-post", "read-only"),  # in content, admin and all too: those contain it
        ("ability", "demo/create-post", "content"),
        ("ability", "demo/update-settings", "admin"),
    ],
)
def test_the_home_toolset_is_the_most_specific(rules: Rules, kind: Kind, name: str, home: str) -> None:
    rule = rules.lookup(kind, name)
    assert rule is not None
    assert HomeToolsets().home(rules, rule) == home


def test_no_rule_no_home(rules: Rules) -> None:
    assert HomeToolsets().home(rules, rules.lookup("ability", "acme/unlisted")) is None


def _inspected_context(rules: Rules, body: bytes) -> RequestContext:
    """The two things the limit stage's usage reads of a request: its rules and its inspected body."""
    parsed = parse_body(body)
    targets = tuple((message, resolve_target(message)) for message in parsed.messages)
    context = SimpleNamespace(
        runtime=SimpleNamespace(rules=rules), mcp=Inspected(parsed, targets, "handshake")
    )
    return cast(RequestContext, context)


def _call(ability: str, id: int = 1) -> dict[str, object]:
    arguments = {"ability_name": ability, "parameters": {}}
    params = {"name": "mcp-adapter-execute-ability", "arguments": arguments}
    return {"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}


def test_the_usage_of_one_call_is_worked_out_once_per_target_and_rules(rules: Rules) -> None:
    book = UsageBook(HomeToolsets())
    create = _inspected_context(rules, json.dumps(_call("demo/create-post")).encode())
    usage = book.usage(create)
    assert usage == usage_of(create, HomeToolsets())
    assert usage.tools == {"mcp-adapter-execute-ability": 1, "demo/create-post": 1}
    assert usage.toolsets == {"content": 1}
    assert (
        book.usage(_inspected_context(rules, json.dumps(_call("demo/create-post", id=7)).encode())) is usage
    )
    other = book.usage(_inspected_context(rules, json.dumps(_call("demo/get-post")).encode()))
    assert other.tools == {"mcp-adapter-execute-ability": 1, "demo/get-post": 1}
    reloaded = load_rules(RULES_DIR / "tools.yaml", RULES_DIR / "toolsets.yaml")
    again = book.usage(_inspected_context(reloaded, json.dumps(_call("demo/create-post")).encode()))
    assert again == usage
    assert again is not usage  # new rules: worked out again, not taken from the old ones


def test_a_batch_spends_per_message_and_is_not_remembered(rules: Rules) -> None:
    book = UsageBook(HomeToolsets())
    body = json.dumps([_call("demo/get-post", id=1), _call("demo/get-post", id=2)]).encode()
    usage = book.usage(_inspected_context(rules, body))
    assert usage.requests == 2
    assert usage.tools == {"mcp-adapter-execute-ability": 2, "demo/get-post": 2}
    assert book.usage(_inspected_context(rules, body)) is not usage
