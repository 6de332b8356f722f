"""The limit stage's pure parts: whose allowance a request spends, and each entry's home toolset."""

from __future__ import annotations

import pytest

from proxy.identity.principal import Principal, PrincipalKind
from proxy.pipeline.limit import HomeToolsets, limit_key
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
