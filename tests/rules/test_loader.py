"""Loading the rules files: the shipped examples, membership semantics, and every error line."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.rules import load_rules
from proxy.validation import ConfigError

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"

TOOLS = """\
scopes:
  s.read: Read
  s.write: Write
tools:
  meta-tool:
    capability: read
    scope: s.read
    writes: false
    ability_param: ability_name
abilities:
  ns/reader:
    capability: read
    scope: s.read
    writes: false
  ns/writer:
    capability: edit_posts
    scope: s.write
    writes: true
    toolsets: [tagged]
commands:
  search:
    scope: s.read
    writes: false
"""

TOOLSETS = """\
default_enabled: [ro]
toolsets:
  ro:
    description: Read only
    include: ["*"]
    read_only: true
  tagged:
    description: Only what tags itself in
  wide:
    description: ro plus the writer, minus search
    extends: [ro]
    include: [ns/writer]
    exclude: [search]
"""


def write(tmp_path: Path, tools: str = TOOLS, toolsets: str = TOOLSETS) -> tuple[Path, Path]:
    tools_path, toolsets_path = tmp_path / "tools.yaml", tmp_path / "toolsets.yaml"
    tools_path.write_text(tools)
    toolsets_path.write_text(toolsets)
    return tools_path, toolsets_path


def test_shipped_rules_load() -> None:
    rules = load_rules(RULES_DIR / "tools.yaml", RULES_DIR / "toolsets.yaml")
    assert set(rules.tools) == {
        "mcp-adapter-discover-abilities",
        "mcp-adapter-get-ability-info",
        "mcp-adapter-execute-ability",
    }
    assert rules.tools["mcp-adapter-execute-ability"].ability_param == "ability_name"
    assert rules.abilities["demo/create-post"].capability == "edit_posts"
    assert rules.abilities["demo/create-post"].toolsets == {"content", "admin", "all"}
    assert rules.abilities["demo/get-post"].toolsets == {"read-only", "content", "admin", "all"}
    assert rules.abilities["demo/update-settings"].toolsets == {"admin", "all"}
    assert rules.abilities["demo/list-users"].result_caps["per_page"].anonymous == 10
    assert rules.default_enabled == {"read-only", "content"}
    assert rules.unknown_rule is None
    assert rules.lookup("ability", "demo/unlisted") is None
    assert "content.write" in rules.scopes


def test_membership_tags_extends_include_exclude_read_only(tmp_path: Path) -> None:
    rules = load_rules(*write(tmp_path))
    assert rules.abilities["ns/reader"].toolsets == {"ro", "wide"}
    assert rules.abilities["ns/writer"].toolsets == {"tagged", "wide"}  # read_only keeps it out of ro
    assert rules.commands["search"].toolsets == {"ro"}  # excluded from wide
    assert rules.commands["search"].capability is None
    assert rules.tools["meta-tool"].kind == "tool"


def test_unknown_allow_gives_unlisted_names_the_fallback_rule(tmp_path: Path) -> None:
    tools = "unknown: allow\nunknown_rule: {capability: read, scope: s.read, writes: false}\n" + TOOLS
    rules = load_rules(*write(tmp_path, tools=tools))
    rule = rules.lookup("ability", "other/thing")
    assert rule is not None
    assert (rule.listed, rule.capability, rule.scope, rule.writes) == (False, "read", "s.read", False)
    assert rule.toolsets == {"ro", "wide"}  # only the globs (and extends) can take an unlisted name in
    assert rules.lookup("command", "search") is rules.commands["search"]


def test_unknown_rule_writes_by_default(tmp_path: Path) -> None:
    tools = "unknown: allow\nunknown_rule: {capability: read, scope: s.read}\n" + TOOLS
    rule = load_rules(*write(tmp_path, tools=tools)).lookup("tool", "other-tool")
    assert rule is not None
    assert rule.writes
    assert rule.toolsets == set()  # read_only ro refuses it, and so does wide, which inherits it from ro


T, S = "{T}", "{S}"  # replaced by the files' paths


@pytest.mark.parametrize(
    ("tools", "toolsets", "expected"),
    [
        pytest.param(
            TOOLS.replace("meta-tool:\n    capability", "meta-tool:\n    capabilty"),
            TOOLSETS,
            [
                f"{T}: tools.meta-tool.capability: required key is missing",
                f"{T}: tools.meta-tool.capabilty: unknown key (check the spelling), found 'read'",
            ],
            id="unknown-key",
        ),
        pytest.param(
            TOOLS.replace("writes: true", "writes: maybe"),
            TOOLSETS,
            [
                f"{T}: abilities.ns/writer.writes: expected a valid boolean, unable to interpret input, "
                "found 'maybe'"
            ],
            id="wrong-type",
        ),
        pytest.param(
            TOOLS,
            TOOLSETS.replace('include: ["*"]', 'include: ["ns/[rw]*"]'),
            [
                f"{S}: toolsets.ro.include.0: expected a glob of letters, digits, _ . : / - "
                "with * and ? as wildcards, found 'ns/[rw]*'"
            ],
            id="bad-glob",
        ),
        pytest.param(
            TOOLS.replace("ns/reader:", "NS/Reader:"),
            TOOLSETS,
            [
                f"{T}: abilities.NS/Reader.[key]: expected an ability name like namespace/name (a-z 0-9 -), "
                "found 'NS/Reader'"
            ],
            id="bad-ability-name",
        ),
        pytest.param(
            TOOLS.replace("scope: s.write", "scope: s.admin"),
            TOOLSETS,
            [f"{T}: abilities.ns/writer.scope: expected a scope declared under scopes, found 's.admin'"],
            id="undeclared-scope",
        ),
        pytest.param(
            TOOLS.replace("toolsets: [tagged]", "toolsets: [tagged, nope]"),
            TOOLSETS,
            [f"{T}: abilities.ns/writer.toolsets.1: expected a toolset defined in {S}, found 'nope'"],
            id="unknown-tag",
        ),
        pytest.param(
            TOOLS.replace("toolsets: [tagged]", "toolsets: [ro]"),
            TOOLSETS,
            [
                f"{T}: abilities.ns/writer.toolsets.0: expected a toolset that takes entries with "
                "writes: true ('ro' is read_only), found 'ro'"
            ],
            id="writer-tagged-read-only",
        ),
        pytest.param(
            "unknown: allow\n" + TOOLS,
            TOOLSETS,
            [f"{T}: unknown_rule: required key is missing (unknown: allow needs it)"],
            id="allow-without-rule",
        ),
        pytest.param(
            "unknown_rule: {capability: read, scope: s.read}\n" + TOOLS,
            TOOLSETS,
            [f"{T}: unknown_rule: expected only together with unknown: allow, found unknown: 'deny'"],
            id="rule-without-allow",
        ),
        pytest.param(
            TOOLS,
            TOOLSETS.replace("default_enabled: [ro]", "default_enabled: [ro, rw]").replace(
                "extends: [ro]", "extends: [ro, base]"
            ),
            [
                f"{S}: default_enabled.1: expected a toolset defined in this file, found 'rw'",
                f"{S}: toolsets.wide.extends.1: expected a toolset defined in this file, found 'base'",
            ],
            id="undefined-toolsets",
        ),
        pytest.param(
            TOOLS,
            TOOLSETS.replace("include: [ns/writer]", "include: [ns/writter]"),
            [
                f"{S}: toolsets.wide.include.0: expected a tool, ability or command listed in {T} "
                "(or a glob with * or ?), found 'ns/writter'"
            ],
            id="literal-typo",
        ),
        pytest.param(
            TOOLS,
            TOOLSETS.replace(
                "description: Only what tags itself in", "description: x\n    extends: [wide]"
            ).replace("extends: [ro]", "extends: [ro, tagged]"),
            [
                f"{S}: toolsets.tagged.extends: expected toolsets that do not extend each other in a circle, "
                "found tagged -> wide -> tagged"
            ],
            id="extends-cycle",
        ),
        pytest.param(
            TOOLS,
            TOOLSETS.replace("read_only: true", "read_only: true\n    extends: [ro]"),
            [
                f"{S}: toolsets.ro.extends: expected toolsets that do not extend each other in a circle, "
                "found ro -> ro"
            ],
            id="extends-itself",
        ),
        pytest.param(
            "scopes: [a, b]\n",
            "toolsets: {}\n",
            [
                f"{T}: scopes: expected a valid dictionary, found ['a', 'b']",
                f"{S}: default_enabled: required key is missing",
            ],
            id="both-files-reported",
        ),
        pytest.param(
            "tools: {a: [\n",
            TOOLSETS,
            [f"{T}: line 2 column 1: valid YAML, found expected the node content, but found '<stream end>'"],
            id="yaml-syntax",
        ),
        pytest.param(
            "- a\n", TOOLSETS, [f"{T}: (top level): expected a mapping, found list"], id="not-a-mapping"
        ),
    ],
)
def test_load_errors(tmp_path: Path, tools: str, toolsets: str, expected: list[str]) -> None:
    tools_path, toolsets_path = write(tmp_path, tools, toolsets)
    with pytest.raises(ConfigError) as caught:
        load_rules(tools_path, toolsets_path)
    names = {T: str(tools_path), S: str(toolsets_path)}
    wanted = [line.replace(T, names[T]).replace(S, names[S]) for line in expected]
    assert caught.value.problems == wanted


def test_missing_file(tmp_path: Path) -> None:
    tools_path, _ = write(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_rules(tools_path, tmp_path / "absent.yaml")
    assert caught.value.problems == [f"{tmp_path / 'absent.yaml'}: (file): the rules file does not exist"]
