"""Shared pieces of the discovery end-to-end tests: the demo WordPress, configs, a sidecar on a port
chosen before it starts (so its public URL is real), and a small GET helper."""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from multidict import CIMultiDictProxy

from proxy.config import Config
from proxy.demo import DEMO_APP_PASSWORDS, DEMO_MCP_PATH
from tests.factories import RULES_DIR, make_config_data
from tests.ports import free_port
from tests.proxy_harness import RunningSidecar, running_sidecar

__all__ = [
    "AS_ROOT",
    "DEMO_MCP_PATH",
    "DOCUMENT_PATHS",
    "JWKS",
    "MANIFEST",
    "PRM_ROOT",
    "PRM_SUFFIXED",
    "SITE_USERS",
    "Answer",
    "config_data",
    "fetch",
    "own_url",
    "sidecar_at",
    "site_config",
    "write_config",
]

SITE_USERS = {login: {"app_password": password} for login, password in DEMO_APP_PASSWORDS.items()}
MANIFEST = "/.well-known/mcp.json"
PRM_ROOT = "/.well-known/oauth-protected-resource"
PRM_SUFFIXED = PRM_ROOT + DEMO_MCP_PATH
AS_ROOT = "/.well-known/oauth-authorization-server"
JWKS = "/.well-known/jwks.json"
DOCUMENT_PATHS = (MANIFEST, "/wp-json/mcp/discovery", PRM_SUFFIXED, PRM_ROOT, AS_ROOT, JWKS)


def config_data(upstream_url: str, *, top: Mapping[str, Any] = {}, **site: Any) -> dict[str, Any]:
    """A config dict for one site `demo` acting as the demo's users (memory store)."""
    data = make_config_data(upstream_url, users=SITE_USERS, **site)
    data.update(top)
    return data


def site_config(upstream_url: str, *, top: Mapping[str, Any] = {}, **site: Any) -> Config:
    """`config_data` validated."""
    return Config.model_validate(config_data(upstream_url, top=top, **site))


def write_config(
    directory: Path, data: Mapping[str, Any], *, tools: Any = None, toolsets: Any = None
) -> Path:
    """Write `data` as config.yaml next to copies of the rules files (edited by `tools` / `toolsets`,
    whole YAML documents, when given), so a test can change them and reload."""
    rules = {}
    for name, document in (("tools", tools), ("toolsets", toolsets)):
        path = directory / f"{name}.yaml"
        text = (RULES_DIR / f"{name}.yaml").read_text() if document is None else yaml.safe_dump(document)
        path.write_text(text)
        rules[name] = path.name
    config_path = directory / "config.yaml"
    config_path.write_text(yaml.safe_dump({**data, "rules": rules}))
    return config_path


def sidecar_at(
    config: Config, *, port: int | None = None, config_path: Path | None = None
) -> AbstractAsyncContextManager[RunningSidecar]:
    """A sidecar on real sockets; `port` (from `free_port()`) when its public URL must be its own."""
    return running_sidecar(config, config_path=config_path, port=port)


def own_url() -> tuple[int, str]:
    """A free port and the base URL a sidecar listening there is reached at."""
    port = free_port()
    return port, f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def fetch(
    sc: RunningSidecar, path: str, *, method: str = "GET", headers: Mapping[str, str] = {}
) -> Answer:
    async with sc.http.request(method, sc.url + path, headers=dict(headers)) as response:
        return Answer(response.status, response.headers, await response.read())
