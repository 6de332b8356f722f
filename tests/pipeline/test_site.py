"""Stage `site`: the target forwarded is the one judged, and the site is picked by Host and path prefix."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from yarl import URL

from proxy.config import Config
from proxy.runtime import Runtime, restart_required
from tests.e2e.policy_support import EchoUpstream, echo_upstream, raw_request, site_data, sites_config
from tests.proxy_harness import RunningSidecar, running_sidecar

UPSTREAM = "http://127.0.0.1:9"


def runtime(**sites: dict[str, object]) -> Runtime:
    return Runtime.compile(Config.model_validate(sites_config(sites)))


RUNTIME = runtime(
    root=site_data(UPSTREAM, "example.com", "www.example.com"),
    blog=site_data(UPSTREAM, "example.com", path_prefix="/blog"),
    deep=site_data(UPSTREAM, "example.com", path_prefix="/blog/team"),
    other=site_data(UPSTREAM, "other.example", path_prefix="/shop"),
)


@pytest.mark.parametrize(
    ("host", "path", "site"),
    [
        ("example.com", "/", "root"),
        ("Example.COM:8443", "/blog", "blog"),
        ("example.com.", "/blog/", "blog"),
        ("example.com", "/BLOG/wp-json/x", "blog"),
        ("example.com", "/blog/team/x", "deep"),  # the longest prefix wins
        ("example.com", "/blogroll", "root"),  # whole segments only
        ("www.example.com", "/blog/x", "root"),  # prefixes belong to one host name
        ("other.example", "/shop/x", "other"),
        ("other.example", "/", None),  # a known host, but no site at that path
        ("evil.example", "/", None),
        ("[::1]:8080", "/", None),
        ("", "/", None),
    ],
)
def test_site_for(host: str, path: str, site: str | None) -> None:
    found = RUNTIME.site_for(host, path)
    assert (found.name if found else None) == site


def test_sites_at_lists_a_host_longest_prefix_first() -> None:
    assert [site.name for site in RUNTIME.sites_at("EXAMPLE.com:80")] == ["deep", "blog", "root"]
    assert RUNTIME.sites_at("nope.example") == ()


def test_site_urls_upstream() -> None:
    blog = RUNTIME.site_for("example.com", "/blog")
    assert blog is not None
    assert blog.wordpress_url == UPSTREAM + "/blog"
    assert blog.rest_index_url == UPSTREAM + "/blog/wp-json/"
    assert blog.upstream_host == "example.com"


def test_restart_required_names_what_a_reload_cannot_apply() -> None:
    data = sites_config({"demo": site_data(UPSTREAM, "example.com")})
    old = Runtime.compile(Config.model_validate(data))
    changed = {**data, "ops": {"port": 1}, "limits": {"max_body_bytes": 5}, "mcp_enabled": False}
    assert restart_required(old, Runtime.compile(Config.model_validate(changed))) == (
        "ops",
        "limits.max_body_bytes",
    )
    moved = {**data, "sites": {"demo": site_data(UPSTREAM, "new.example")}}
    assert restart_required(old, Runtime.compile(Config.model_validate(moved))) == ("issuer",)


@pytest.fixture
async def upstream() -> AsyncIterator[EchoUpstream]:
    async with echo_upstream() as running:
        yield running


@pytest.fixture
async def sc(upstream: EchoUpstream) -> AsyncIterator[RunningSidecar]:
    config = sites_config(
        {
            "root": site_data(upstream.url, "localhost", "127.0.0.1"),
            "shop": site_data(upstream.url, "shop.example", path_prefix="/shop"),
        }
    )
    async with running_sidecar(Config.model_validate(config)) as running:
        yield running


@pytest.mark.parametrize(
    "target",
    [
        "/a/../b",
        "/%41%2d%7e",
        "/a?b=%41&c=d+e&x=..%2F",
        "/?a=%2B&a=+",
        "/wp-json/wp/v2/posts?_method=DELETE",
        "/a%zz?b=%zz",
        "//double//slashes/",
    ],
)
async def test_the_target_goes_upstream_byte_for_byte(
    sc: RunningSidecar, upstream: EchoUpstream, target: str
) -> None:
    async with sc.http.get(URL(sc.url + target, encoded=True)) as response:
        assert response.status == 200
    assert upstream.targets() == [target]


async def test_an_absolute_form_target_goes_upstream_in_origin_form(
    sc: RunningSidecar, upstream: EchoUpstream
) -> None:
    status, _ = await raw_request(
        sc.url, "GET http://elsewhere.example/page?x=1 HTTP/1.1", {"Host": "localhost"}
    )
    assert status == 200
    assert upstream.targets() == ["/page?x=1"]


async def test_a_fragment_is_refused(sc: RunningSidecar, upstream: EchoUpstream) -> None:
    status, body = await raw_request(sc.url, "GET /page#top HTTP/1.1", {"Host": "localhost"})
    assert status == 400
    assert json.loads(body)["error"]["code"] == "invalid_path"
    assert upstream.seen == []


async def test_a_known_host_without_a_site_at_that_path_is_421(
    sc: RunningSidecar, upstream: EchoUpstream
) -> None:
    async with sc.http.get(sc.url + "/elsewhere", headers={"Host": "shop.example"}) as response:
        assert response.status == 421
        assert (await response.json())["error"]["code"] == "unknown_site"
    async with sc.http.get(sc.url + "/SHOP/cart", headers={"Host": "shop.example"}) as response:
        assert response.status == 200
    assert upstream.targets() == ["/SHOP/cart"]
