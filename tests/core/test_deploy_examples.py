"""The configs under deploy/ load as shipped: placed beside the rules, as each deployment places them,
with the secrets their comments ask for in the environment."""

from __future__ import annotations

import base64
import os
import secrets
import shutil
from pathlib import Path

import pytest
import yaml

from proxy.runtime import load_runtime

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SECRETS = {
    "MCP_SIDECAR_KEY_PEPPER": secrets.token_hex(32),
    "MCP_SIDECAR_SESSION_KEY": base64.b64encode(os.urandom(32)).decode(),
    "MCP_SIDECAR_CREDENTIAL_KEY": base64.b64encode(os.urandom(32)).decode(),
    "MCP_SIDECAR_REDIS_URL": "redis://127.0.0.1:6379/0",
    "WP_APP_PASSWORD_MCP_EDITOR": "abcd efgh ijkl mnop qrst uvwx",
}


def _kubernetes_config() -> str:
    configmap = yaml.safe_load((DEPLOY / "kubernetes" / "configmap.yaml").read_text(encoding="utf-8"))
    return str(configmap["data"]["config.yaml"])


EXAMPLES = {
    "systemd": lambda: (DEPLOY / "systemd" / "config.yaml").read_text(encoding="utf-8"),
    "compose": lambda: (DEPLOY / "compose" / "config.yaml").read_text(encoding="utf-8"),
    "kubernetes": _kubernetes_config,
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_deploy_config_loads_beside_the_rules(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable, value in SECRETS.items():
        monkeypatch.setenv(variable, value)
    config = tmp_path / "config.yaml"
    config.write_text(EXAMPLES[name](), encoding="utf-8")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    runtime = load_runtime(config)
    assert runtime.sites  # at least one site, every reference resolved
