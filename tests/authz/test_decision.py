"""The decision engine over the shipped rules: who sees and may call what."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.authz import Authorizer
from proxy.errors import SidecarError
from proxy.identity.principal import Principal
from proxy.rules import Rules, load_rules

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
ALL_SCOPES = frozenset({"mcp.read", "content.read", "content.write", "users.read", "settings.write"})
META = {"mcp-adapter-discover-abilities", "mcp-adapter-get-ability-info", "mcp-adapter-execute-ability"}
ABILITIES = ("demo/get-post", "demo/create-post", "demo/list-users", "demo/update-settings")
EXECUTE = "mcp-adapter-execute-ability"

# What users/me answers for the three demo users (capabilities with value true, plus roles).
ADMIN = frozenset({"read", "level_0", "edit_posts", "list_users", "manage_options", "administrator"})
EDITOR = frozenset({"read", "level_0", "edit_posts", "editor"})
SUBSCRIBER = frozenset({"read", "level_0", "subscriber"})
EVERY_TOOLSET = frozenset({"read-only", "content", "admin", "all"})


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(RULES_DIR / "tools.yaml", RULES_DIR / "toolsets.yaml")


@pytest.fixture
def authorizer(rules: Rules) -> Authorizer:
    return Authorizer(rules)


def principal(*, profile: str | None = None, scopes: frozenset[str] = ALL_SCOPES) -> Principal:
    return Principal(
        kind="api_key",
        id="key-1",
        site="demo",
        wp_user="someone",
        scopes=scopes,
        profile=profile,
        tier="default",
    )


@pytest.mark.parametrize(
    ("capabilities", "profile", "narrow", "site", "abilities"),
    [
        # the site's defaults (read-only, content) keep settings out even for an administrator
        (ADMIN, None, (), None, {"demo/get-post", "demo/create-post", "demo/list-users"}),
        (ADMIN, None, (), EVERY_TOOLSET, set(ABILITIES)),
        (EDITOR, None, (), EVERY_TOOLSET, {"demo/get-post", "demo/create-post"}),
        (SUBSCRIBER, None, (), EVERY_TOOLSET, {"demo/get-post"}),
        # a profile narrows, never grants
        (ADMIN, "read-only", (), EVERY_TOOLSET, {"demo/get-post", "demo/list-users"}),
        (ADMIN, "content", (), EVERY_TOOLSET, {"demo/get-post", "demo/create-post", "demo/list-users"}),
        (SUBSCRIBER, "admin", (), EVERY_TOOLSET, {"demo/get-post"}),
        (EDITOR, "all", (), EVERY_TOOLSET, {"demo/get-post", "demo/create-post"}),
        # ?toolset= narrows further: several values, comma-separated, blanks ignored
        (ADMIN, None, ("read-only",), None, {"demo/get-post", "demo/list-users"}),
        (
            ADMIN,
            None,
            ("read-only, content",),
            None,
            {"demo/get-post", "demo/create-post", "demo/list-users"},
        ),
        (ADMIN, None, ("read-only", "admin,"), EVERY_TOOLSET, set(ABILITIES)),
        (ADMIN, "content", ("read-only",), None, {"demo/get-post", "demo/list-users"}),
        (EDITOR, "admin", ("content",), None, {"demo/get-post", "demo/create-post"}),
        # a site with nothing enabled shows nothing
        (ADMIN, None, (), frozenset(), set()),
    ],
)
def test_visible_abilities(
    authorizer: Authorizer,
    capabilities: frozenset[str],
    profile: str | None,
    narrow: tuple[str, ...],
    site: frozenset[str] | None,
    abilities: set[str],
) -> None:
    view = authorizer.view(principal(profile=profile), capabilities, narrow=narrow, site_toolsets=site)
    assert {name for name in ABILITIES if view.ability_visible(name)} == abilities
    assert {name for name in META if view.tool_visible(name)} == (META if site != frozenset() else set())


@pytest.mark.parametrize(
    ("scopes", "abilities"),
    [
        (ALL_SCOPES, {"demo/get-post", "demo/create-post", "demo/list-users", "demo/update-settings"}),
        (frozenset({"mcp.read", "content.read"}), {"demo/get-post"}),
        (frozenset({"mcp.read", "content.write"}), {"demo/create-post"}),
        (frozenset(), set()),
    ],
)
def test_scopes_narrow_what_is_visible(
    authorizer: Authorizer, scopes: frozenset[str], abilities: set[str]
) -> None:
    view = authorizer.view(principal(scopes=scopes), ADMIN, site_toolsets=EVERY_TOOLSET)
    assert {name for name in ABILITIES if view.ability_visible(name)} == abilities


def test_execute_ability_checks_the_ability(authorizer: Authorizer) -> None:
    subscriber = authorizer.view(principal(), SUBSCRIBER)
    denial = subscriber.check_tool(EXECUTE, "demo/create-post")
    assert denial is not None
    assert (denial.code, denial.http_status, denial.missing_capability) == (
        "insufficient_capability",
        403,
        "edit_posts",
    )
    assert "'edit_posts'" in denial.message
    assert denial.target == "demo/create-post"
    assert subscriber.check_tool(EXECUTE, "demo/get-post") is None
    assert authorizer.view(principal(), EDITOR).check_tool(EXECUTE, "demo/create-post") is None
    assert (
        authorizer.view(principal(), EDITOR).check_tool("mcp-adapter-get-ability-info", "demo/create-post")
        is None
    )


def test_capability_is_checked_before_scope(authorizer: Authorizer) -> None:
    """No step-up is offered for what the WordPress user could never do anyway."""
    view = authorizer.view(principal(scopes=frozenset({"mcp.read"})), SUBSCRIBER)
    denial = view.check_tool(EXECUTE, "demo/create-post")
    assert denial is not None
    assert (denial.code, denial.missing_scope) == ("insufficient_capability", None)


def test_insufficient_scope_names_the_scope(authorizer: Authorizer) -> None:
    view = authorizer.view(principal(scopes=frozenset({"mcp.read", "content.read"})), EDITOR)
    denial = view.check_tool(EXECUTE, "demo/create-post")
    assert denial is not None
    assert (denial.code, denial.http_status, denial.missing_scope) == (
        "insufficient_scope",
        403,
        "content.write",
    )
    error = denial.to_error(challenge=True)
    assert (error.status, error.code, error.scope, error.challenge) == (
        403,
        "insufficient_scope",
        "content.write",
        True,
    )

    no_mcp = authorizer.view(principal(scopes=frozenset({"content.write"})), EDITOR)
    denial = no_mcp.check_tool(EXECUTE, "demo/create-post")
    assert denial is not None
    assert (denial.code, denial.missing_scope, denial.target) == ("insufficient_scope", "mcp.read", EXECUTE)


@pytest.mark.parametrize(
    ("tool", "ability", "code", "status"),
    [
        ("wp_get_post", None, "unknown_tool", 404),
        (EXECUTE, "demo/drop-tables", "unknown_ability", 404),
        (EXECUTE, None, "ability_required", 400),
        ("mcp-adapter-get-ability-info", None, "ability_required", 400),
        (EXECUTE, "demo/update-settings", "ability_not_in_toolset", 403),
    ],
)
def test_refusals(authorizer: Authorizer, tool: str, ability: str | None, code: str, status: int) -> None:
    denial = authorizer.view(principal(), ADMIN).check_tool(tool, ability)
    assert denial is not None
    assert (denial.code, denial.http_status) == (code, status)


def test_discover_needs_no_ability(authorizer: Authorizer) -> None:
    assert authorizer.view(principal(), SUBSCRIBER).check_tool("mcp-adapter-discover-abilities") is None


def test_tool_outside_the_profile(authorizer: Authorizer) -> None:
    view = authorizer.view(principal(profile="read-only"), ADMIN, site_toolsets=EVERY_TOOLSET)
    denial = view.check_tool(EXECUTE, "demo/create-post")
    assert denial is not None
    assert denial.code == "ability_not_in_toolset"


@pytest.mark.parametrize(
    ("narrow", "site"),
    [
        (("nope",), None),
        (("read-only,nope",), None),
        (("admin",), None),
        (("read-only",), frozenset({"gone"})),
    ],
)
def test_unknown_toolset_narrowing(
    authorizer: Authorizer, narrow: tuple[str, ...], site: frozenset[str] | None
) -> None:
    for _ in range(2):  # refusals are never cached as views
        with pytest.raises(SidecarError) as caught:
            authorizer.view(principal(), ADMIN, narrow=narrow, site_toolsets=site)
        assert (caught.value.status, caught.value.code) == (400, "unknown_toolset")


def test_unknown_profile(authorizer: Authorizer) -> None:
    with pytest.raises(SidecarError) as caught:
        authorizer.view(principal(profile="retired"), ADMIN)
    assert (caught.value.status, caught.value.code) == (403, "unknown_profile")


def test_views_share_the_toolset_part_but_not_capabilities(authorizer: Authorizer) -> None:
    admin = authorizer.view(principal(), ADMIN)
    subscriber = authorizer.view(principal(), SUBSCRIBER)
    assert admin.ability_visible("demo/create-post")
    assert not subscriber.ability_visible("demo/create-post")


TOOLS = """\
unknown: allow
unknown_rule: {capability: read, scope: s.read}
scopes: {s.read: Read, s.search: Search}
commands:
  search: {scope: s.search, writes: false}
  reindex: {capability: manage_options, scope: s.search, writes: true}
"""
TOOLSETS = """\
default_enabled: [ro, everything]
toolsets:
  ro: {description: Reads, include: ["*"], read_only: true}
  everything: {description: All, include: ["*"]}
"""


@pytest.fixture
def open_rules(tmp_path: Path) -> Rules:
    (tmp_path / "tools.yaml").write_text(TOOLS)
    (tmp_path / "toolsets.yaml").write_text(TOOLSETS)
    return load_rules(tmp_path / "tools.yaml", tmp_path / "toolsets.yaml")


def test_unknown_allow_still_checks_toolset_capability_and_scope(open_rules: Rules) -> None:
    authorizer = Authorizer(open_rules)
    reader = frozenset({"s.read"})
    assert authorizer.view(principal(scopes=reader), SUBSCRIBER).check_tool("any-tool") is None
    # unlisted names count as writing: a read-only profile never reaches them
    denial = authorizer.view(principal(scopes=reader, profile="ro"), SUBSCRIBER).check_tool("any-tool")
    assert denial is not None
    assert denial.code == "tool_not_in_toolset"
    denial = authorizer.view(principal(scopes=reader), frozenset()).check_tool("any-tool")
    assert denial is not None
    assert (denial.code, denial.missing_capability) == ("insufficient_capability", "read")
    denial = authorizer.view(principal(scopes=frozenset()), SUBSCRIBER).check_tool("any-tool")
    assert denial is not None
    assert (denial.code, denial.missing_scope) == ("insufficient_scope", "s.read")


def test_commands(open_rules: Rules) -> None:
    authorizer = Authorizer(open_rules)
    searcher = authorizer.view(principal(scopes=frozenset({"s.search"})), frozenset())
    assert searcher.command_allowed("search")  # no capability needed: scope and toolset only
    denial = searcher.check_command("reindex")
    assert denial is not None
    assert (denial.code, denial.missing_capability) == ("insufficient_capability", "manage_options")
    assert not authorizer.view(
        principal(scopes=frozenset({"s.search"}), profile="ro"), ADMIN
    ).command_allowed("reindex")
