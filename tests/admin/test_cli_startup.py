"""CLI start-up stays cheap: the everyday commands never import the mcp SDK (about a second of CPU per
child process, for nothing: only the server's discovery documents are checked against its models)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.admin.processes import ROOT, config_data, write_config

# Runs the commands in one fresh interpreter, then reports which SDK modules they loaded.
_PROBE = """
import json, sys
from proxy.cli import main
codes = [main(argv) for argv in json.loads(sys.argv[1])]
sdk = sorted(name for name in sys.modules if name.split(".")[0] in ("mcp", "mcp_types"))
print(json.dumps({"codes": codes, "sdk": sdk}))
"""


def test_everyday_commands_do_not_import_the_mcp_sdk(tmp_path: Path) -> None:
    data = config_data("http://127.0.0.1:9", top={"store": {"backend": "sqlite", "path": "sidecar.db"}})
    config = str(write_config(tmp_path / "sidecar.yaml", data))
    commands = [
        ["check-config", "-c", config],
        ["keys", "issue", "--site", "demo", "--user", "editor", "--format", "json", "-c", config],
        ["keys", "list", "--site", "demo", "-c", config],
        ["switch", "show", "-c", config],
    ]
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(commands)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(probe.stdout.splitlines()[-1])
    assert report["codes"] == [0] * len(commands)
    assert report["sdk"] == []
