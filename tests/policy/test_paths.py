"""Every spelling of a WordPress REST request reads as the one route WordPress would dispatch."""

from __future__ import annotations

import pytest

from proxy.errors import SidecarError
from proxy.policy.paths import NormalizedTarget, TargetNormalizer, php_reads_form

MCP = "/mcp/mcp-adapter-default-server"
RUN = "/wp-abilities/v1/abilities/demo/create-post/run"

DEFAULT = TargetNormalizer()


@pytest.mark.parametrize(
    ("target", "route"),
    [
        # the spellings WordPress routes
        ("/wp-json/mcp/mcp-adapter-default-server", MCP),
        ("/?rest_route=/mcp/mcp-adapter-default-server", MCP),
        ("/index.php?rest_route=/mcp/mcp-adapter-default-server", MCP),
        ("/index.php/wp-json/mcp/mcp-adapter-default-server", MCP),
        ("/wp-json/wp-abilities/v1/abilities/demo/create-post/run", RUN),
        ("/?rest_route=%2Fwp-abilities%2Fv1%2Fabilities%2Fdemo%2Fcreate-post%2Frun", RUN),
        # rest_route wins on any path, over a pretty permalink too
        ("/hello-world/?rest_route=/mcp/mcp-adapter-default-server", MCP),
        ("/wp-login.php?rest_route=/mcp/mcp-adapter-default-server", MCP),
        ("/wp-json/wp/v2/posts?rest_route=/mcp/mcp-adapter-default-server", MCP),
        ("/?foo=1&rest_route=/mcp/mcp-adapter-default-server&bar=2", MCP),
        # percent-encoding, decoded once
        ("/wp-json/mcp/mcp%2Dadapter-default-server", MCP),
        ("/wp%2Djson/mcp/mcp-adapter-default-server", MCP),
        ("/wp-json%2Fmcp%2Fmcp-adapter-default-server", MCP),
        ("/wp-json/wp-abilities/v1/abilities/demo%2Fcreate-post/run", RUN),
        ("/%77p-json/mcp/mcp-adapter-default-server", MCP),
        ("/?rest_route=/mcp/mcp%2Dadapter-default-server", MCP),
        ("/?rest_route=%2fmcp%2fmcp-adapter-default-server", MCP),
        # doubled slashes, trailing slashes, a missing leading slash
        ("//wp-json//mcp//mcp-adapter-default-server", MCP),
        ("/wp-json/mcp/mcp-adapter-default-server/", MCP),
        ("/wp-json/mcp/mcp-adapter-default-server///", MCP),
        ("/?rest_route=//mcp///mcp-adapter-default-server//", MCP),
        ("/?rest_route=mcp/mcp-adapter-default-server", MCP),
        # case: WordPress matches routes with /i
        ("/wp-json/MCP/MCP-Adapter-Default-Server", MCP),
        ("/WP-JSON/mcp/mcp-adapter-default-server", MCP),
        ("/?rest_route=/Mcp/mcp-ADAPTER-default-server", MCP),
        ("/INDEX.PHP/wp-json/mcp/mcp-adapter-default-server", MCP),
        # PHP's parameter-name mangling
        ("/?rest.route=/mcp/mcp-adapter-default-server", MCP),
        ("/?rest+route=/mcp/mcp-adapter-default-server", MCP),
        ("/?rest%20route=/mcp/mcp-adapter-default-server", MCP),
        ("/?rest[route=/mcp/mcp-adapter-default-server", MCP),
        ("/?+rest_route=/mcp/mcp-adapter-default-server", MCP),
        ("/?%72est_route=/mcp/mcp-adapter-default-server", MCP),
        ("/?rest_route%00junk=/mcp/mcp-adapter-default-server", MCP),
        # duplicates that agree (PHP keeps the last; here they are the same route)
        ("/?rest_route=/mcp/mcp-adapter-default-server&rest_route=%2Fmcp%2Fmcp-adapter-default-server", MCP),
        # an empty rest_route (ignored by WordPress) does not hide the REST path
        ("/wp-json/mcp/mcp-adapter-default-server?rest_route=", MCP),
        ("/wp-json/mcp/mcp-adapter-default-server?rest_route=0", MCP),
        # the REST index
        ("/wp-json", "/"),
        ("/wp-json/", "/"),
        ("/?rest_route=/", "/"),
        # absolute-form targets
        ("http://example.com/wp-json/mcp/mcp-adapter-default-server", MCP),
        ("https://example.com?rest_route=/mcp/mcp-adapter-default-server", MCP),
    ],
)
def test_spellings_reach_one_route(target: str, route: str) -> None:
    assert DEFAULT.normalize(target).rest_route == route


@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("/", "/"),
        ("/hello-world/", "/hello-world/"),
        ("/Hello/World", "/Hello/World"),
        ("/a/./b/", "/a/b/"),
        ("/a/../b", "/b"),
        ("/../../etc", "/etc"),
        ("//a//b", "/a/b"),
        ("/caf%C3%A9/", "/café/"),
        ("/100%25-off", "/100%-off"),
        ("/wp-jsonx/mcp", "/wp-jsonx/mcp"),
        ("/blog/wp-json/mcp/x", "/blog/wp-json/mcp/x"),
        ("/wp-admin/admin-ajax.php?action=x", "/wp-admin/admin-ajax.php"),
        ("/?x=%FF&y=rest_route", "/"),
        ("/?REST_ROUTE=/mcp/x", "/"),
        ("/?rest_route]=/mcp/x", "/"),
        ("/?rest_route[=/mcp/x", "/"),
        ("/?[rest_route]=/mcp/x", "/"),
        ("/?x=1;rest_route=/mcp/x", "/"),
        ("*", "*"),
    ],
)
def test_website_pages_are_not_rest(target: str, path: str) -> None:
    assert DEFAULT.normalize(target) == NormalizedTarget(rest_route=None, path=path)


@pytest.mark.parametrize(
    "target",
    [
        # double encoding: WordPress may decode once or twice, so no reading is safe
        "/wp-json/mcp%252Fmcp-adapter-default-server",
        "/wp%252Djson/mcp/x",
        "/?rest_route=/mcp%252Fx",
        "/a%2525b",
        # dot segments anywhere near a REST route (before or after resolving)
        "/wp-json/mcp/../wp-abilities/v1/abilities",
        "/wp-json/mcp/x/../../wp/v2/posts",
        "/wp-json/./mcp/x",
        "/foo/../wp-json/mcp/x",
        "/wp-json/mcp/x/%2E%2E/y",
        "/wp-json/mcp%2F..%2F..%2Fwp/v2/posts",
        "/?rest_route=/mcp/x/../../wp/v2/posts",
        "/?rest_route=/wp/v2/./posts",
        "/?rest_route=%2Fmcp%2F%2E%2E%2Fwp",
        # NUL, control characters, backslashes
        "/wp-json/mcp%00/x",
        "/wp-json/mcp/x%0a",
        "/page%7F",
        "/wp-json/mcp/x\x00",
        "/wp-json\\mcp\\x",
        "/wp-json%5Cmcp%5Cx",
        "/?rest_route=/mcp%00",
        "/?rest_route=%5Cmcp",
        # invalid UTF-8 once decoded
        "/%FF",
        "/?rest_route=/mcp/%C0%AF",
        # duplicated rest_route that disagree (PHP keeps the last; see the module doc), arrays
        "/?rest_route=/a&rest_route=/b",
        "/?rest_route=/wp/v2/posts&rest.route=/mcp/mcp-adapter-default-server",
        "/?rest_route[]=/mcp/x",
        "/?rest_route[x]=/mcp/x",
        "/?rest_route=/mcp/x&rest_route[]=/mcp/x",
        "/?_method=DELETE&_method[]=GET",
        # not a request target
        "/wp-json/mcp/x#frag",
        "wp-json/mcp/x",
        "",
    ],
)
def test_ambiguous_targets_are_refused(target: str) -> None:
    with pytest.raises(SidecarError) as caught:
        DEFAULT.normalize(target)
    assert (caught.value.status, caught.value.code) == (400, "invalid_path")


def test_query_route_keeps_the_path() -> None:
    assert DEFAULT.normalize("/Some/Page/?rest_route=/mcp/x") == NormalizedTarget(
        rest_route="/mcp/x", path="/Some/Page/"
    )


@pytest.mark.parametrize(
    ("rest_prefix", "site_prefix", "target", "route"),
    [
        ("/api", "", "/api/mcp/x", "/mcp/x"),
        ("/api", "", "/wp-json/mcp/x", None),
        ("/api/rest/", "", "/api/rest/mcp/x", "/mcp/x"),
        ("/wp-json", "/blog", "/blog/wp-json/mcp/x", "/mcp/x"),
        ("/wp-json", "/blog", "/BLOG/wp-json/mcp/x", "/mcp/x"),
        ("/wp-json", "/blog", "/blog/index.php/wp-json/mcp/x", "/mcp/x"),
        ("/wp-json", "/blog", "/blog/?rest_route=/mcp/x", "/mcp/x"),
        # WordPress strips the home path without a segment boundary, and routes without it too
        ("/wp-json", "/blog", "/blogwp-json/mcp/x", "/mcp/x"),
        ("/wp-json", "/blog", "/wp-json/mcp/x", "/mcp/x"),
        ("/wp-json", "/blog", "/blog/page", None),
        ("/wp-json", "/blog", "/other/wp-json/mcp/x", None),
    ],
)
def test_configured_prefixes(rest_prefix: str, site_prefix: str, target: str, route: str | None) -> None:
    normalizer = TargetNormalizer(rest_prefix=rest_prefix, site_prefix=site_prefix)
    assert normalizer.normalize(target).rest_route == route


@pytest.mark.parametrize(
    ("target", "route"),
    [
        ("/team/wp-json/mcp/x", "/mcp/x"),
        ("/team/index.php/wp-json/mcp/x", "/mcp/x"),
        ("/a/b/wp-json/x", None),
    ],
)
def test_subdirectory_multisite_guards_subsite_routes(target: str, route: str | None) -> None:
    assert TargetNormalizer(subdirectory_multisite=True).normalize(target).rest_route == route


def test_semicolon_separators_when_php_uses_them() -> None:
    normalizer = TargetNormalizer(arg_separators=";&")
    assert normalizer.normalize("/?x=1;rest_route=/mcp/x").rest_route == "/mcp/x"


@pytest.mark.parametrize(
    "options",
    [{"rest_prefix": ""}, {"rest_prefix": "wp-json"}, {"site_prefix": "blog"}, {"arg_separators": "a"}],
)
def test_bad_options_fail_at_construction(options: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="must be"):
        TargetNormalizer(**options)  # type: ignore[arg-type]


class TestForm:
    """A POSTed form's `rest_route` routes too ($_POST beats $_GET; both and different: WordPress 400)."""

    def test_form_field_routes_any_path(self) -> None:
        target = DEFAULT.normalize("/contact/", form=[("name", "x"), ("rest_route", "/MCP/x/")])
        assert target.rest_route == "/mcp/x"

    def test_form_beats_the_permalink(self) -> None:
        assert (
            DEFAULT.normalize("/wp-json/wp/v2/posts", form=[("rest.route", "/mcp/x")]).rest_route == "/mcp/x"
        )

    def test_form_and_query_agreeing(self) -> None:
        assert (
            DEFAULT.normalize("/?rest_route=/mcp/x", form=[("rest_route", "/mcp/x")]).rest_route == "/mcp/x"
        )

    def test_form_and_query_disagreeing(self) -> None:
        with pytest.raises(SidecarError, match="differs"):
            DEFAULT.normalize("/?rest_route=/wp/v2/posts", form=[("rest_route", "/mcp/x")])

    @pytest.mark.parametrize("value", ["/mcp/%2Fx", "/mcp/../x", "/mcp\\x", "/mcp\x00"])
    def test_form_values_checked_like_the_query(self, value: str) -> None:
        with pytest.raises(SidecarError, match="invalid_path"):
            DEFAULT.normalize("/", form=[("rest_route", value)])

    def test_form_array_refused(self) -> None:
        with pytest.raises(SidecarError, match="array"):
            DEFAULT.normalize("/", form=[("rest_route[]", "/mcp/x")])

    def test_other_fields_ignored(self) -> None:
        assert DEFAULT.normalize("/contact/", form=[("comment", "/mcp/../%2F\\")]).rest_route is None


@pytest.mark.parametrize(
    ("method", "content_type", "reads"),
    [
        ("POST", "application/x-www-form-urlencoded", True),
        ("post", "Multipart/Form-Data; boundary=x", True),
        ("POST", "application/json", False),
        ("PUT", "application/x-www-form-urlencoded", False),
        ("POST", "", False),
    ],
)
def test_php_reads_form(method: str, content_type: str, reads: bool) -> None:
    assert php_reads_form(method, content_type) is reads


@pytest.mark.parametrize(
    ("target", "header", "override"),
    [
        ("/wp-json/mcp/x", None, None),
        ("/wp-json/mcp/x?_method=delete", None, "DELETE"),
        ("/wp-json/mcp/x?.method=put", None, "PUT"),
        ("/wp-json/mcp/x", "Delete", "DELETE"),
        ("/wp-json/mcp/x?_method=GET", "DELETE", "GET"),  # _method beats the header, as in WordPress
        ("/wp-json/mcp/x?_method=", None, ""),
        ("/hello/?_method=DELETE", "DELETE", None),  # no REST route: nothing to override
    ],
)
def test_method_override(target: str, header: str | None, override: str | None) -> None:
    normalized = DEFAULT.normalize(target, method_override_header=header)
    assert normalized.method_override == override


def test_effective_method() -> None:
    assert NormalizedTarget("/mcp/x", "/").effective_method("post") == "POST"
    assert NormalizedTarget("/mcp/x", "/", method_override="DELETE").effective_method("POST") == "DELETE"
    assert NormalizedTarget("/mcp/x", "/", method_override="").effective_method("POST") == ""
