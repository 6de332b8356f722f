"""The credential commands' refusals and table output, through the CLI's own `main()` (the child-process
runs live in test_cli_credentials): every bad argument is exit 2 with one clear line, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxy.cli import main
from tests.admin.processes import config_data, write_config


def sqlite_config(tmp_path: Path) -> str:
    data = config_data("http://127.0.0.1:9", top={"store": {"backend": "sqlite", "path": "var/sidecar.db"}})
    return str(write_config(tmp_path / "sidecar.yaml", data))


def run(capsys: pytest.CaptureFixture[str], config: str, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "-c", config])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


ADD = ("clients", "add", "--site", "demo", "--name", "x", "--user", "admin")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("keys", "issue", "--site", "nowhere", "--user", "admin"), "unknown site 'nowhere'"),
        (("keys", "list", "--site", "nowhere"), "unknown site 'nowhere'"),
        (
            ("keys", "issue", "--site", "demo", "--user", "nobody"),
            "WordPress user 'nobody' is not configured for site demo (users: admin, editor, subscriber)",
        ),
        (("keys", "issue", "--site", "demo", "--user", "admin", "--ttl-hours", "200"), "got 200"),
        (("keys", "issue", "--site", "demo", "--user", "admin", "--ttl-hours", "-1"), "got -1"),
        (
            ("keys", "issue", "--site", "demo", "--user", "admin", "--scopes", "mcp.read nope"),
            "unknown scope(s) nope",
        ),
        (("keys", "issue", "--site", "demo", "--user", "admin", "--scopes", " "), "--scopes names no scope"),
        (
            ("keys", "issue", "--site", "demo", "--user", "admin", "--profile", "nope"),
            "unknown profile 'nope'",
        ),
        (("keys", "revoke", "key_nope"), "no live key with id 'key_nope'"),
        ((*ADD, "--redirect-uri", "http://evil.example/cb"), "must be https (or http on localhost)"),
        ((*ADD, "--public"), "a public client has no secret, so it cannot use client_credentials"),
        (("clients", "remove", "mcpc_nope"), "no client with id 'mcpc_nope'"),
        (
            ("tokens", "issue", "--site", "demo", "--client-id", "mcpc_nope"),
            "no client 'mcpc_nope' on site demo",
        ),
    ],
)
def test_bad_arguments_are_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    code, out, err = run(capsys, sqlite_config(tmp_path), *argv)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1, err
    assert err.startswith("mcp-sidecar: ")
    assert message in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--client-secret", "nope"), "the client secret does not match"),
        (("--ttl-hours", "200"), "--ttl-hours must be a whole number of hours from 1 to 168"),
        (("--ttl-hours", "-1"), "got -1"),
        (("--scopes", "settings.write"), "The requested scope exceeds what may be granted to this client."),
        (("--site", "other.test"), "unknown site 'other.test'"),
    ],
)
def test_token_issue_refusals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], message: str
) -> None:
    config = sqlite_config(tmp_path)
    code, out, _ = run(capsys, config, *ADD, "--scopes", "mcp.read", "--format", "json")
    assert code == 0
    client_id = json.loads(out)["client_id"]
    code, out, err = run(
        capsys, config, "tokens", "issue", "--site", "demo", "--client-id", client_id, *extra
    )
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1, err
    assert message in err


def test_tokens_of_a_code_only_client_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = sqlite_config(tmp_path)
    code, out, _ = run(capsys, config, *ADD, "--redirect-uri", "https://app.example/cb", "--format", "json")
    assert code == 0
    client_id = json.loads(out)["client_id"]
    assert run(capsys, config, "tokens", "issue", "--site", "demo", "--client-id", client_id) == (
        2,
        "",
        f"mcp-sidecar: client '{client_id}' is not registered for client_credentials\n",
    )


def test_a_revoked_key_cannot_be_revoked_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = sqlite_config(tmp_path)
    _, out, _ = run(capsys, config, "keys", "issue", "--site", "demo", "--user", "editor", "--format", "json")
    key_id = json.loads(out)["id"]
    assert run(capsys, config, "keys", "revoke", key_id)[0] == 0
    assert run(capsys, config, "keys", "revoke", key_id) == (
        2,
        "",
        f"mcp-sidecar: no live key with id '{key_id}'\n",
    )


def test_table_format_is_aligned_and_secret_free(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = sqlite_config(tmp_path)
    raw = []
    for label in ("first", "a much longer label"):
        code, out, _ = run(
            capsys, config, "keys", "issue", "--site", "demo", "--user", "editor", "--label", label
        )
        assert code == 0
        header, row = out.splitlines()
        raw.append(row.split()[-1])  # the key: the last column, shown this once
        assert raw[-1].startswith("wpmcp_")
        assert header.split()[0] == "ID"
        assert header.split()[-1] == "KEY"
    code, out, _ = run(capsys, config, "keys", "list", "--site", "demo")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == [
        "ID",
        "LABEL",
        "SITE",
        "USER",
        "SCOPES",
        "PROFILE",
        "CREATED",
        "EXPIRES",
        "LAST_USED",
        "REVOKED",
    ]
    assert len(rows) == 2
    label_column = header.index("LABEL")
    assert {row[label_column:].split("  ")[0] for row in rows} == {"first", "a much longer label"}
    assert header.index("SITE") > label_column + len("a much longer label")
    assert all(row[header.index("LAST_USED") :].startswith("-") for row in rows)
    assert not any(key in out for key in raw)
