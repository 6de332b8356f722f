"""Conditional GET, HEAD, validators stable across replicas and restarts, validators that change with
rules, toolsets and switches, and CORS, on the discovery documents over real sockets."""

from __future__ import annotations

import email.utils
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxy.config import Config, load_config
from proxy.demo import RunningDemo
from proxy.switches import toolset_switch_key
from tests.demo_upstream import demo_fixture
from tests.e2e.discovery_support import (
    DOCUMENT_PATHS,
    MANIFEST,
    PRM_SUFFIXED,
    config_data,
    fetch,
    sidecar_at,
    site_config,
    write_config,
)
from tests.factories import RULES_DIR

pytestmark = pytest.mark.asyncio(loop_scope="module")

demo = demo_fixture()
APP = "https://app.example"


@pytest.mark.parametrize("path", DOCUMENT_PATHS)
async def test_200_then_304_with_the_same_strong_etag(demo: RunningDemo, path: str) -> None:
    async with sidecar_at(site_config(demo.url, top={"discovery": {"max_age_seconds": 123}})) as sc:
        first = await fetch(sc, path)
        second = await fetch(sc, path, headers={"If-None-Match": first.headers["ETag"]})
    etag = first.headers["ETag"]
    assert first.status == 200
    assert etag.startswith('"')  # strong: no W/
    assert etag.endswith('"')
    assert first.headers["Cache-Control"] == "public, max-age=123"
    assert email.utils.parsedate_to_datetime(first.headers["Last-Modified"])
    assert second.status == 304
    assert second.body == b""
    assert second.headers["ETag"] == etag
    assert second.headers["Cache-Control"] == "public, max-age=123"
    assert second.headers["Last-Modified"] == first.headers["Last-Modified"]


async def test_if_none_match_forms_and_if_modified_since(demo: RunningDemo) -> None:
    async with sidecar_at(site_config(demo.url)) as sc:
        first = await fetch(sc, MANIFEST)
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        earlier = email.utils.formatdate(
            email.utils.parsedate_to_datetime(modified).timestamp() - 3600, usegmt=True
        )
        cases = {
            f'"other", {etag}': 304,  # a list
            f'"a",\t"b" , {etag} ,"c"': 304,
            "*": 304,
            f"W/{etag}": 304,  # weak comparison for GET (RFC 9110 13.1.2)
            '"other"': 200,
            etag[:-2] + '"': 200,
            "not a tag list": 200,  # unparseable: ignored, never a wrong 304
        }
        answers = {value: await fetch(sc, MANIFEST, headers={"If-None-Match": value}) for value in cases}
        since_same = await fetch(sc, MANIFEST, headers={"If-Modified-Since": modified})
        since_earlier = await fetch(sc, MANIFEST, headers={"If-Modified-Since": earlier})
        # If-None-Match decides when present, even against a matching If-Modified-Since
        both = await fetch(sc, MANIFEST, headers={"If-None-Match": '"other"', "If-Modified-Since": modified})
    assert {value: answer.status for value, answer in answers.items()} == cases
    assert all(answer.body == first.body for answer in answers.values() if answer.status == 200)
    assert (since_same.status, since_same.body) == (304, b"")
    assert (since_earlier.status, since_earlier.body) == (200, first.body)
    assert both.status == 200


async def test_head_sends_the_headers_without_the_body(demo: RunningDemo) -> None:
    async with sidecar_at(site_config(demo.url)) as sc:
        get = await fetch(sc, MANIFEST)
        head = await fetch(sc, MANIFEST, method="HEAD")
        head_304 = await fetch(sc, MANIFEST, method="HEAD", headers={"If-None-Match": get.headers["ETag"]})
    assert head.status == 200
    assert head.body == b""
    for name in ("ETag", "Last-Modified", "Cache-Control", "Content-Type"):
        assert head.headers[name] == get.headers[name]
    assert head.headers["Content-Length"] == str(len(get.body))
    assert (head_304.status, head_304.body) == (304, b"")


async def test_replicas_and_restarts_agree_on_every_etag(
    demo: RunningDemo, redis_url: str, redis_prefix: str
) -> None:
    """Two sidecars built from the same config (sharing one Redis store, as replicas do) and a third
    started after they stopped: the same bytes and ETag for every document, JWKS included."""
    store = {"backend": "redis", "redis_url": redis_url, "prefix": redis_prefix}
    anonymous = {"enabled": True, "wp_user": "subscriber"}

    def config() -> Config:
        return site_config(demo.url, anonymous=anonymous, top={"store": store})

    async with sidecar_at(config()) as one, sidecar_at(config()) as two:
        first = {path: await fetch(one, path) for path in DOCUMENT_PATHS}
        second = {path: await fetch(two, path) for path in DOCUMENT_PATHS}
    async with sidecar_at(config()) as restarted:
        third = {path: await fetch(restarted, path) for path in DOCUMENT_PATHS}
    for path in DOCUMENT_PATHS:
        assert first[path].status == 200, path
        assert first[path].headers["ETag"] == second[path].headers["ETag"] == third[path].headers["ETag"], (
            path
        )
        assert first[path].body == second[path].body == third[path].body, path


def _rules_documents() -> tuple[dict[str, Any], dict[str, Any]]:
    tools = yaml.safe_load((RULES_DIR / "tools.yaml").read_text())
    toolsets = yaml.safe_load((RULES_DIR / "toolsets.yaml").read_text())
    return tools, toolsets


async def test_etag_changes_after_a_rules_reload(demo: RunningDemo, tmp_path: Path) -> None:
    tools, toolsets = _rules_documents()
    config_path = write_config(tmp_path, config_data(demo.url), tools=tools, toolsets=toolsets)
    async with sidecar_at(load_config(config_path), config_path=config_path) as sc:
        original = await fetch(sc, MANIFEST)
        prm = await fetch(sc, PRM_SUFFIXED)

        assert sc.sidecar.reload()  # the same files: the same document and validators
        unchanged = await fetch(sc, MANIFEST, headers={"If-None-Match": original.headers["ETag"]})

        tools["scopes"]["content.read"] = "Read every published post"
        write_config(tmp_path, config_data(demo.url), tools=tools, toolsets=toolsets)
        assert sc.sidecar.reload()
        described = await fetch(sc, MANIFEST, headers={"If-None-Match": original.headers["ETag"]})
        prm_after = await fetch(sc, PRM_SUFFIXED, headers={"If-None-Match": prm.headers["ETag"]})

        toolsets["toolsets"]["editorial"] = {"description": "Editing", "extends": ["content"]}
        toolsets["default_enabled"] = ["read-only", "content", "editorial"]
        write_config(tmp_path, config_data(demo.url), tools=tools, toolsets=toolsets)
        assert sc.sidecar.reload()
        with_toolset = await fetch(sc, MANIFEST, headers={"If-None-Match": described.headers["ETag"]})
    assert unchanged.status == 304
    assert described.status == 200
    assert described.headers["ETag"] != original.headers["ETag"]
    assert {"name": "content.read", "description": "Read every published post"} in described.json()["scopes"]
    assert prm_after.status == 304  # scope names, not descriptions, are in the PRM
    assert with_toolset.status == 200
    assert {"name": "editorial", "description": "Editing", "enabled": True} in with_toolset.json()["toolsets"]
    assert len({original.headers["ETag"], described.headers["ETag"], with_toolset.headers["ETag"]}) == 3


async def test_etag_follows_the_toolset_switches(demo: RunningDemo) -> None:
    async with sidecar_at(site_config(demo.url)) as sc:
        store, switches = sc.sidecar.services.store, sc.sidecar.services.switches
        before = await fetch(sc, MANIFEST)
        await store.set_setting(toolset_switch_key("demo", "content"), False)
        await switches.refresh()
        off = await fetch(sc, MANIFEST, headers={"If-None-Match": before.headers["ETag"]})
        # If-Modified-Since alone must not hide the change either
        since = await fetch(sc, MANIFEST, headers={"If-Modified-Since": before.headers["Last-Modified"]})
        await store.set_setting(toolset_switch_key("demo", "content"), None)
        await switches.refresh()
        back = await fetch(sc, MANIFEST, headers={"If-None-Match": before.headers["ETag"]})
    assert off.status == 200
    assert off.headers["ETag"] != before.headers["ETag"]
    assert {"name": "content", "description": "Read, plus writing posts", "enabled": False} in (
        off.json()["toolsets"]
    )
    assert since.status == 200  # even when the switch flipped within the second of the first answer
    assert back.status == 304  # content-derived: the same toolsets give the same tag again


async def test_cors_for_listed_origins(demo: RunningDemo) -> None:
    cors = {"allow_origins": [APP], "max_age": 900}
    async with sidecar_at(site_config(demo.url, top={"discovery": {"cors": cors}})) as sc:
        allowed = await fetch(sc, MANIFEST, headers={"Origin": APP})
        other = await fetch(sc, MANIFEST, headers={"Origin": "https://evil.example"})
        none = await fetch(sc, MANIFEST)
        not_modified = await fetch(
            sc,
            PRM_SUFFIXED,
            headers={"Origin": APP, "If-None-Match": (await fetch(sc, PRM_SUFFIXED)).headers["ETag"]},
        )
        refused_method = await fetch(sc, MANIFEST, method="DELETE", headers={"Origin": APP})
        preflight = await fetch(
            sc,
            MANIFEST,
            method="OPTIONS",
            headers={
                "Origin": APP,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "if-none-match",
            },
        )
        preflight_other = await fetch(
            sc,
            MANIFEST,
            method="OPTIONS",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
    assert allowed.headers["Access-Control-Allow-Origin"] == APP
    assert allowed.headers["Vary"] == "Origin"
    assert allowed.headers["Access-Control-Expose-Headers"] == "ETag"
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    for answer in (other, none):
        assert answer.status == 200
        assert "Access-Control-Allow-Origin" not in answer.headers
        assert answer.headers["Vary"] == "Origin"
    assert not_modified.status == 304
    assert not_modified.headers["Access-Control-Allow-Origin"] == APP
    assert not_modified.headers["Vary"] == "Origin"
    assert refused_method.status == 405
    assert refused_method.headers["Access-Control-Allow-Origin"] == APP  # the script may read why
    assert refused_method.headers["Vary"] == "Origin"
    assert preflight.status == 204
    assert preflight.body == b""
    assert preflight.headers["Access-Control-Allow-Origin"] == APP
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    assert "if-none-match" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert preflight.headers["Access-Control-Max-Age"] == "900"
    assert preflight.headers["Vary"] == "Origin"
    assert preflight_other.status == 403
    assert preflight_other.json()["error"]["code"] == "cors_origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in preflight_other.headers
    assert preflight_other.headers["Vary"] == "Origin"


async def test_cors_for_any_origin(demo: RunningDemo) -> None:
    async with sidecar_at(site_config(demo.url, top={"discovery": {"cors": {"allow_origins": ["*"]}}})) as sc:
        answer = await fetch(sc, MANIFEST, headers={"Origin": "https://anywhere.example"})
        preflight = await fetch(
            sc,
            PRM_SUFFIXED,
            method="OPTIONS",
            headers={"Origin": "https://anywhere.example", "Access-Control-Request-Method": "GET"},
        )
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "Vary" not in answer.headers  # the answer is the same for every origin
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"


async def test_no_cors_headers_unless_configured(demo: RunningDemo) -> None:
    async with sidecar_at(site_config(demo.url)) as sc:
        answer = await fetch(sc, MANIFEST, headers={"Origin": APP})
    assert answer.status == 200
    assert "Access-Control-Allow-Origin" not in answer.headers
