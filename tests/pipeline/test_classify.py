"""Stage `classify`: form bodies are judged from the bytes read once and forwarded unchanged; bodies PHP
would read differently are refused; sub-directory multisite routes are judged too."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from proxy.config import Config
from tests.e2e.policy_support import EchoUpstream, echo_upstream, site_data, sites_config
from tests.proxy_harness import RunningSidecar, running_sidecar


@pytest.fixture
async def upstream() -> AsyncIterator[EchoUpstream]:
    async with echo_upstream() as running:
        yield running


@pytest.fixture
async def sc(upstream: EchoUpstream) -> AsyncIterator[RunningSidecar]:
    data = sites_config({"demo": site_data(upstream.url, "localhost", "127.0.0.1")})
    data["limits"] = {"max_body_bytes": 256 * 1024, "max_mcp_body_bytes": 64 * 1024}
    async with running_sidecar(Config.model_validate(data)) as running:
        yield running


async def test_an_urlencoded_form_is_forwarded_byte_for_byte(
    sc: RunningSidecar, upstream: EchoUpstream
) -> None:
    body = b"comment=caf\xe9+%26+more&name=%FF&rest=route"  # not UTF-8, odd escapes: all kept
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    async with sc.http.post(sc.url + "/wp-comments-post.php", data=body, headers=headers) as response:
        assert response.status == 200
    (seen,) = upstream.seen
    assert (seen.body, seen.headers["content-type"]) == (body, "application/x-www-form-urlencoded")


async def test_a_multipart_upload_is_forwarded_byte_for_byte(
    sc: RunningSidecar, upstream: EchoUpstream
) -> None:
    form = aiohttp.FormData()
    form.add_field("title", "photo")
    form.add_field(
        "file", bytes(range(256)) * 200, filename="photo.bin", content_type="application/octet-stream"
    )
    async with sc.http.post(sc.url + "/wp-admin/async-upload.php", data=form) as response:
        assert response.status == 200
        sent = response.request_info.headers["Content-Type"]
    (seen,) = upstream.seen
    assert seen.headers["content-type"] == sent
    assert bytes(range(256)) * 200 in seen.body
    assert b'name="title"\r\n\r\nphoto\r\n' in seen.body


async def test_a_large_json_body_still_streams_through(sc: RunningSidecar, upstream: EchoUpstream) -> None:
    body = json.dumps({"blob": "x" * 200_000}).encode()
    headers = {"Content-Type": "application/json"}
    async with sc.http.post(sc.url + "/wp-json/wp/v2/media", data=body, headers=headers) as response:
        assert response.status == 200
    assert upstream.seen[0].body == body


async def test_a_form_over_the_body_limit_is_413(sc: RunningSidecar, upstream: EchoUpstream) -> None:
    body = b"a=" + b"x" * (300 * 1024)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    async with sc.http.post(sc.url + "/", data=body, headers=headers) as response:
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "body_too_large"
    assert upstream.seen == []


async def test_an_encoded_form_cannot_be_judged(sc: RunningSidecar, upstream: EchoUpstream) -> None:
    body = gzip.compress(b"rest_route=/wp-abilities/v1/abilities/demo/create-post/run")
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip"}
    async with sc.http.post(sc.url + "/", data=body, headers=headers) as response:
        assert response.status == 400
        error = (await response.json())["error"]
    assert (error["code"], error["message"]) == (
        "invalid_path",
        "a form body with a Content-Encoding cannot be judged",
    )
    assert upstream.seen == []


async def test_a_routing_field_that_is_not_utf8_is_refused(
    sc: RunningSidecar, upstream: EchoUpstream
) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    async with sc.http.post(sc.url + "/", data=b"rest_route=/mcp%FF", headers=headers) as response:
        assert response.status == 400
        assert "not valid UTF-8" in (await response.json())["error"]["message"]
    assert upstream.seen == []


async def test_get_and_put_forms_are_not_read(sc: RunningSidecar, upstream: EchoUpstream) -> None:
    """PHP fills $_POST for POST only: other methods' bodies never route, and pass untouched."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    async with sc.http.put(sc.url + "/page", data=b"rest_route=/mcp/x", headers=headers) as response:
        assert response.status == 200
    assert upstream.seen[0].body == b"rest_route=/mcp/x"


@pytest.mark.parametrize(("multisite", "blocked"), [(True, True), (False, False)])
async def test_sub_site_routes_of_a_multisite(upstream: EchoUpstream, multisite: bool, blocked: bool) -> None:
    site = site_data(upstream.url, "127.0.0.1", subdirectory_multisite=multisite)
    async with running_sidecar(Config.model_validate(sites_config({"demo": site}))) as sc:
        async with sc.http.get(sc.url + "/team/wp-json/wp-abilities/v1/abilities") as response:
            assert response.status == (404 if blocked else 200)
        async with sc.http.get(sc.url + "/team/wp-json/wp/v2/posts") as response:
            assert response.status == 200  # not a guarded namespace either way
    assert len(upstream.seen) == (1 if blocked else 2)


async def test_the_override_header_passes_on_unguarded_routes(
    sc: RunningSidecar, upstream: EchoUpstream
) -> None:
    headers = {"X-HTTP-Method-Override": "DELETE"}
    async with sc.http.post(sc.url + "/wp-json/wp/v2/posts/1", headers=headers) as response:
        assert response.status == 200
    assert upstream.seen[0].headers["x-http-method-override"] == "DELETE"


async def test_conflicting_override_headers_are_refused(sc: RunningSidecar, upstream: EchoUpstream) -> None:
    headers = [("X-HTTP-Method-Override", "GET"), ("X_HTTP_METHOD_OVERRIDE", "DELETE")]
    async with sc.http.post(sc.url + "/wp-json/wp/v2/posts/1", headers=headers) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "invalid_path"
    assert upstream.seen == []
