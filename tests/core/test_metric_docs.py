"""Every metric the README's table, the alert rules and the dashboard name is one the sidecar exports."""

from __future__ import annotations

import re
from pathlib import Path

from proxy.observe import PREFIX, Metrics

ROOT = Path(__file__).resolve().parents[2]
_SUFFIXES = ("", "_total", "_created", "_bucket", "_sum", "_count")


def _exported() -> set[str]:
    names = {family.name for family in Metrics().registry.collect()}
    return {name + suffix for name in names for suffix in _SUFFIXES}


def test_the_readme_table_names_exported_metrics_only_and_all_of_them() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Metrics", 1)[1].split("###", 1)[0]
    documented = {PREFIX + name for name in re.findall(r"^\| `([a-z_]+)` \|", table, re.MULTILINE)}
    families = {family.name for family in Metrics().registry.collect()}
    assert documented <= _exported()
    assert {name.removesuffix("_total") for name in documented} >= families  # nothing undocumented


def test_alerts_and_dashboard_name_exported_metrics() -> None:
    files = [*(ROOT / "deploy" / "prometheus").glob("*.yml"), *(ROOT / "deploy" / "grafana").glob("*.json")]
    named = {name for path in files for name in re.findall(r"mcp_sidecar_[a-z_]+", path.read_text())}
    assert named
    assert named <= _exported()
