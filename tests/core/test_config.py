"""Config loading: every problem reported as `FILE: key.path: expected, found`, exit 2 from the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from proxy.config import load_config
from proxy.validation import ConfigError
from tests.factories import make_config_data

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def problems_of(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=env or {})
    return caught.value.problems


def test_valid_config_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, make_config_data("http://127.0.0.1:8081")), env={})
    assert config.sites["demo"].upstream.url == "http://127.0.0.1:8081"


def test_unknown_key_is_named_with_its_path(tmp_path: Path) -> None:
    data = make_config_data("http://127.0.0.1:8081")
    data["sites"]["demo"]["upstream"]["timeoutz"] = 3
    path = write(tmp_path, data)
    assert problems_of(path) == [
        f"{path}: sites.demo.upstream.timeoutz: unknown key (check the spelling), found 3"
    ]


def test_wrong_type_says_expected_and_found(tmp_path: Path) -> None:
    data = make_config_data("http://127.0.0.1:8081")
    data["listen"]["port"] = "eighty"
    path = write(tmp_path, data)
    assert problems_of(path) == [
        f"{path}: listen.port: expected a valid integer, unable to parse string as an integer, found 'eighty'"
    ]


def test_missing_env_var_is_named(tmp_path: Path) -> None:
    data = make_config_data("http://127.0.0.1:8081")
    data["sites"]["demo"]["users"] = {"admin": {"app_password": "${WP_ADMIN_APP_PASSWORD}"}}
    path = write(tmp_path, data)
    problems = problems_of(path)
    assert problems[0] == (
        f"{path}: sites.demo.users.admin.app_password: environment variable "
        "WP_ADMIN_APP_PASSWORD is not set (expected by ${WP_ADMIN_APP_PASSWORD})"
    )


def test_env_var_interpolates_and_default_applies(tmp_path: Path) -> None:
    data = make_config_data("http://127.0.0.1:8081")
    data["sites"]["demo"]["users"] = {
        "admin": {"app_password": "${PW}"},
        "ed": {"app_password": "${NOPE:-fallback}"},
    }
    config = load_config(write(tmp_path, data), env={"PW": "s3cret"})
    assert config.sites["demo"].users["admin"].app_password == "s3cret"
    assert config.sites["demo"].users["ed"].app_password == "fallback"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = make_config_data("ftp://nowhere")
    data["bogus"] = 1
    problems = problems_of(write(tmp_path, data))
    assert len(problems) == 2
    assert any("sites.demo.upstream.url" in line for line in problems)
    assert any(": bogus: unknown key" in line for line in problems)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sites: [unclosed", ": line 1 column 17: valid YAML"),
        ("- a\n- b\n", ": (top level): a mapping of settings, found list"),
    ],
)
def test_unparseable_files(tmp_path: Path, text: str, expected: str) -> None:
    problems = problems_of(write(tmp_path, text))
    assert expected in problems[0]


def test_missing_file(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "nope.yaml") == [
        f"{tmp_path / 'nope.yaml'}: (file): the config file does not exist"
    ]


def test_two_sites_cannot_claim_one_host(tmp_path: Path) -> None:
    data = make_config_data("http://127.0.0.1:8081")
    data["sites"]["other"] = dict(data["sites"]["demo"])
    problems = problems_of(write(tmp_path, data))
    assert "claimed by sites 'demo' and 'other'" in problems[0]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_check_config_cli_exit_codes(tmp_path: Path) -> None:
    good = write(tmp_path, make_config_data("http://127.0.0.1:8081"))
    ok = run_cli("check-config", "-c", str(good))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"{good}: ok: 1 site(s)")
    data = make_config_data("http://127.0.0.1:8081")
    data["no_such_key_xyz"] = 1
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    failed = run_cli("check-config", "-c", str(bad))
    assert failed.returncode == 2
    assert failed.stderr.strip() == f"{bad}: no_such_key_xyz: unknown key (check the spelling), found 1"


def test_sample_config_is_valid() -> None:
    result = run_cli("check-config", "-c", "sample-config.yaml")
    assert result.returncode == 0, result.stderr
