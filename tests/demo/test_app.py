"""The front of the site and what every request leaves behind."""

from __future__ import annotations

import pytest

from tests.demo.wp_client import WpClient

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_home_page_is_html_and_points_at_the_rest_api(wp: WpClient) -> None:
    reply = await wp.request("GET", "/")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    assert reply.headers["Link"] == f'<{wp.demo.url}/wp-json/>; rel="https://api.w.org/"'
    page = reply.raw.decode()
    assert "<h1>WP MCP Demo</h1>" in page
    assert "Hello world!" in page


async def test_home_page_escapes_the_title(wp: WpClient) -> None:
    wp.demo.site.title = "<script>x</script>"
    page = (await wp.request("GET", "/")).raw.decode()
    assert "<script>x</script>" not in page
    assert "&lt;script&gt;" in page


async def test_unknown_page_is_an_html_404(wp: WpClient) -> None:
    reply = await wp.request("GET", "/no-such-page")
    assert reply.status == 404
    assert reply.headers["Content-Type"].startswith("text/html")


async def test_every_request_is_recorded_with_its_headers(wp: WpClient) -> None:
    await wp.request(
        "GET", "/wp-json/wp/v2/posts?per_page=1", headers={"Authorization": "Bearer tok", "X-Trace": "1"}
    )
    [recorded] = wp.demo.site.requests
    assert (recorded.method, recorded.path, recorded.query) == ("GET", "/wp-json/wp/v2/posts", "per_page=1")
    assert recorded.headers["authorization"] == "Bearer tok"
    assert wp.demo.site.header_values("X-Trace") == ["1"]
