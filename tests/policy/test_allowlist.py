"""Guarded namespaces and their allowlisted routes: passthrough, allowed with a kind, or denied (404)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from proxy.policy.allowlist import Allowlist, AllowlistSettings, AllowRule, Verdict, compile_glob
from proxy.policy.paths import NormalizedTarget, TargetNormalizer

NORMALIZER = TargetNormalizer()

SETTINGS = AllowlistSettings(
    guarded=("/mcp/**", "/sytewide-mcp/v1/*", "/wp-loupe-mcp/v1"),
    allow=(
        AllowRule(path="/mcp/mcp-adapter-default-server"),
        AllowRule(path="/sytewide-mcp/v1/*", methods=("post",)),
        AllowRule(path="/wp-loupe-mcp/v1/commands", methods=("POST",), kind="commands"),
        AllowRule(path="/wp-abilities/v1/abilities/demo/*/run", methods=("POST",), kind="commands"),
    ),
)
ALLOWLIST = Allowlist(SETTINGS)
NO_ROUTE, NO_METHOD = "route_not_allowlisted", "method_not_allowlisted"
OVERRIDE = "method_override_not_allowed"


def decide(target: str, method: str = "POST", **options: Any) -> Verdict:
    return ALLOWLIST.decide(NORMALIZER.normalize(target, **options), method)


@pytest.mark.parametrize(
    ("glob", "matches", "misses"),
    [
        ("/mcp/*", ["/mcp/x", "/mcp/a-b.c"], ["/mcp", "/mcp/x/y", "/mcpx/y"]),
        ("/mcp/**", ["/mcp", "/mcp/x", "/mcp/x/y/z"], ["/mcpx", "/mc", "/x/mcp"]),
        ("/a/**/run", ["/a/run", "/a/x/run", "/a/x/y/run"], ["/a/x/runs", "/b/x/run"]),
        ("/a/?/c", ["/a/b/c"], ["/a/bb/c", "/a//c", "/a/c"]),
        ("/v*/x", ["/v/x", "/v1/x", "/v12/x"], ["/v1/y/x"]),
        ("/MCP/Server", ["/mcp/server"], ["/mcp/server2"]),
        ("/a.b/x", ["/a.b/x"], ["/aXb/x"]),
        ("/**", ["/", "/a", "/a/b"], []),
        ("/", ["/"], ["/a"]),
    ],
)
def test_glob_semantics(glob: str, matches: list[str], misses: list[str]) -> None:
    regex = compile_glob(glob)
    assert all(regex.fullmatch(route) for route in matches)
    assert not any(regex.fullmatch(route) for route in misses)


@pytest.mark.parametrize(
    ("target", "method", "outcome", "namespace", "kind", "code"),
    [
        # not an MCP surface: passthrough
        ("/hello-world/", "GET", "unguarded", None, None, None),
        ("/wp-json/wp/v2/posts", "POST", "unguarded", None, None, None),
        ("/wp-json", "GET", "unguarded", None, None, None),
        ("/wp-json/mcpx/server", "POST", "unguarded", None, None, None),
        ("/wp-json/sytewide-mcp/v2/x", "POST", "unguarded", None, None, None),
        # allowed, every spelling
        ("/wp-json/mcp/mcp-adapter-default-server", "POST", "allowed", "/mcp/**", "mcp", None),
        ("/?rest_route=/MCP/mcp-adapter-default-server/", "GET", "allowed", "/mcp/**", "mcp", None),
        ("/index.php/wp-json/mcp/mcp%2Dadapter-default-server", "DELETE", "allowed", "/mcp/**", "mcp", None),
        ("/wp-json/sytewide-mcp/v1/anything", "POST", "allowed", "/sytewide-mcp/v1/*", "mcp", None),
        ("/wp-json/wp-loupe-mcp/v1/commands", "POST", "allowed", "/wp-loupe-mcp/v1", "commands", None),
        (
            "/wp-json/wp-abilities/v1/abilities/demo/create-post/run",
            "POST",
            "allowed",
            "/wp-abilities/**",
            "commands",
            None,
        ),
        # HEAD is open wherever GET is (WordPress runs the GET handler)
        ("/wp-json/mcp/mcp-adapter-default-server", "HEAD", "allowed", "/mcp/**", "mcp", None),
        # guarded, not allowlisted: denied
        ("/wp-json/mcp", "GET", "denied", "/mcp/**", None, NO_ROUTE),
        ("/wp-json/mcp/other-server", "POST", "denied", "/mcp/**", None, NO_ROUTE),
        (
            "/wp-json/mcp/mcp-adapter-default-server/x",
            "POST",
            "denied",
            "/mcp/**",
            None,
            NO_ROUTE,
        ),
        ("/wp-json/sytewide-mcp/v1", "GET", "denied", "/sytewide-mcp/v1/*", None, NO_ROUTE),
        (
            "/wp-json/sytewide-mcp/v1/a/b",
            "POST",
            "denied",
            "/sytewide-mcp/v1/*",
            None,
            NO_ROUTE,
        ),
        (
            "/wp-json/wp-loupe-mcp/v1/other",
            "POST",
            "denied",
            "/wp-loupe-mcp/v1",
            None,
            NO_ROUTE,
        ),
        (
            "/wp-json/wp-abilities/v1/abilities",
            "GET",
            "denied",
            "/wp-abilities/**",
            None,
            NO_ROUTE,
        ),
        (
            "/?rest_route=/wp-abilities/v1/abilities/other/delete-all/run",
            "POST",
            "denied",
            "/wp-abilities/**",
            None,
            NO_ROUTE,
        ),
        ("/wp-json/wp-abilities/v2/x", "GET", "denied", "/wp-abilities/**", None, NO_ROUTE),
        # right route, wrong method
        (
            "/wp-json/mcp/mcp-adapter-default-server",
            "PUT",
            "denied",
            "/mcp/**",
            None,
            "method_not_allowlisted",
        ),
        ("/wp-json/sytewide-mcp/v1/x", "GET", "denied", "/sytewide-mcp/v1/*", None, NO_METHOD),
        (
            "/wp-json/sytewide-mcp/v1/x",
            "HEAD",
            "denied",
            "/sytewide-mcp/v1/*",
            None,
            "method_not_allowlisted",
        ),
        (
            "/wp-json/mcp/mcp-adapter-default-server",
            "OPTIONS",
            "denied",
            "/mcp/**",
            None,
            "method_not_allowlisted",
        ),
    ],
)
def test_verdicts(
    target: str, method: str, outcome: str, namespace: str | None, kind: str | None, code: str | None
) -> None:
    verdict = decide(target, method)
    assert (verdict.outcome, verdict.namespace, verdict.kind, verdict.code) == (
        outcome,
        namespace,
        kind,
        code,
    )


def test_allowed_verdict_names_route_and_rule() -> None:
    verdict = decide("/wp-json/wp-abilities/v1/abilities/demo/create-post/run")
    assert verdict == Verdict(
        "allowed",
        route="/wp-abilities/v1/abilities/demo/create-post/run",
        namespace="/wp-abilities/**",
        kind="commands",
        rule="/wp-abilities/v1/abilities/demo/*/run",
    )


@pytest.mark.parametrize(
    ("target", "header", "outcome", "code"),
    [
        # WordPress would dispatch another method than the one the sidecar inspects: always refused
        ("/wp-json/mcp/mcp-adapter-default-server?_method=PUT", None, "denied", OVERRIDE),
        ("/wp-json/mcp/mcp-adapter-default-server", "PUT", "denied", OVERRIDE),
        ("/wp-json/mcp/mcp-adapter-default-server?_method=", None, "denied", OVERRIDE),
        ("/wp-json/wp-loupe-mcp/v1/commands?_method=DELETE", None, "denied", OVERRIDE),
        ("/wp-json/mcp/mcp-adapter-default-server?_method=delete", None, "denied", OVERRIDE),
        ("/wp-json/mcp/mcp-adapter-default-server", "GET", "denied", OVERRIDE),
        ("/wp-json/mcp/mcp-adapter-default-server?_method=post", "DELETE", "allowed", None),  # a no-op
        ("/wp-json/wp/v2/posts?_method=DELETE", None, "unguarded", None),  # not ours to judge
    ],
)
def test_method_overrides_are_judged(target: str, header: str | None, outcome: str, code: str | None) -> None:
    verdict = decide(target, "POST", method_override_header=header)
    assert (verdict.outcome, verdict.code) == (outcome, code)


def test_form_route_on_a_page_is_judged() -> None:
    verdict = decide("/contact/", form=[("rest_route", "/wp-abilities/v1/abilities/x/y/run")])
    assert (verdict.outcome, verdict.namespace) == ("denied", "/wp-abilities/**")


@pytest.mark.parametrize(
    ("target", "method", "outcome"),
    [
        ("/wp-json/mcp/mcp-adapter-default-server", "POST", "allowed"),
        ("/wp-json/mcp/x", "POST", "denied"),
        ("/wp-json/wp-abilities/v1/abilities", "GET", "denied"),
        ("/wp-json/wp/v2/posts", "GET", "unguarded"),
    ],
)
def test_defaults_guard_mcp_and_abilities(target: str, method: str, outcome: str) -> None:
    allowlist = Allowlist(AllowlistSettings())
    assert allowlist.decide(NORMALIZER.normalize(target), method).outcome == outcome


def test_abilities_guard_can_be_switched_off() -> None:
    allowlist = Allowlist(AllowlistSettings(guard_abilities=False))
    target = NORMALIZER.normalize("/wp-json/wp-abilities/v1/abilities/x/y/run")
    assert allowlist.decide(target, "POST").outcome == "unguarded"


def test_guard_everything() -> None:
    rules = (AllowRule(path="/wp/v2/**", methods=("GET",)),)
    allowlist = Allowlist(AllowlistSettings(guarded=("/**",), allow=rules))
    assert allowlist.decide(NORMALIZER.normalize("/wp-json/"), "GET").outcome == "denied"
    assert allowlist.decide(NORMALIZER.normalize("/wp-json/wp/v2/posts"), "GET").outcome == "allowed"
    assert allowlist.decide(NormalizedTarget(None, "/hello"), "GET").outcome == "unguarded"


def test_settings_load_from_plain_data() -> None:
    settings = AllowlistSettings.model_validate(
        {
            "guarded": ["/mcp/**"],
            "allow": [{"path": "/mcp/x", "methods": ["get", "post"], "kind": "commands"}],
        }
    )
    assert settings.allow[0].methods == ("GET", "POST")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"guarded": ["mcp/**"]}, "starting with '/'"),
        ({"guarded": ["/mcp/[a-z]"]}, "written decoded"),
        ({"guarded": ["/mcp/%2Dx"]}, "written decoded"),
        ({"guarded": ["/mcp//x"]}, "without empty, '.' or '..' segments"),
        ({"guarded": ["/mcp/"]}, "without empty, '.' or '..' segments"),
        ({"guarded": ["/mcp/../x"]}, "without empty, '.' or '..' segments"),
        ({"allow": [{"path": "/mcp/a**"}]}, "'\\*\\*' is a whole segment"),
        ({"allow": [{"path": "/mcp/x", "methods": ["FETCH"]}]}, "methods among"),
        ({"allow": [{"path": "/mcp/x", "methods": []}]}, "at least one method"),
        ({"allow": [{"path": "/mcp/x", "kind": "rest"}]}, "'mcp' or 'commands'"),
        ({"allow": [{"path": "/mpc/x"}]}, "lie outside"),
        ({"allow": [{"path": "/*/x"}]}, "lie outside"),
        ({"allow": [{"path": "/wp-abilities/v1/x"}], "guard_abilities": False}, "lie outside"),
        ({"allow": [{"path": "/mcp/x", "method": ["GET"]}]}, "Extra inputs are not permitted"),
        ({"guardd": ["/mcp/**"]}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_settings_fail_at_load(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AllowlistSettings.model_validate(data)
