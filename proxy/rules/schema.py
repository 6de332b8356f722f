"""The shape of `rules/tools.yaml` and `rules/toolsets.yaml`, as pydantic models.

These only say what each file may contain; rules that span both files (a tag naming a toolset, a
scope that must be declared) are checked by the loader, which knows the file names.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

__all__ = [
    "AbilityName",
    "CapabilityName",
    "CommandEntry",
    "CommandName",
    "Entry",
    "Glob",
    "ResultCap",
    "ScopeName",
    "ToolEntry",
    "ToolName",
    "ToolsFile",
    "ToolsetName",
    "ToolsetSpec",
    "ToolsetsFile",
    "UnknownRule",
    "is_literal_glob",
]


def _pattern(regex: str, error: str, expected: str) -> AfterValidator:
    """A string check whose error line says what is expected in words, not as a regex. Phrased like
    pydantic's own messages ("Input should be ..."), which proxy.validation rewords as "expected ..."."""
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise PydanticCustomError(error, "Input should be " + expected)
        return value

    return AfterValidator(check)


# MCP tool names: the characters the mcp-adapter plugin allows, at most 128 of them.
ToolName = Annotated[
    str, _pattern(r"[A-Za-z0-9_.-]{1,128}", "tool_name", "a tool name of letters, digits, _ . -")
]
# WordPress core's ability name rule: namespace/name, lower case, digits and dashes.
AbilityName = Annotated[
    str, _pattern(r"[a-z0-9-]+/[a-z0-9-]+", "ability_name", "an ability name like namespace/name (a-z 0-9 -)")
]
CommandName = Annotated[
    str, _pattern(r"[A-Za-z0-9_.:/-]{1,128}", "command_name", "a command name of letters, digits, _ . : / -")
]
CapabilityName = Annotated[
    str, _pattern(r"[A-Za-z0-9_-]{1,64}", "capability_name", "a WordPress capability such as edit_posts")
]
# RFC 6749 scope-token: visible ASCII without '"' and '\'.
ScopeName = Annotated[
    str, _pattern(r"[\x21\x23-\x5b\x5d-\x7e]{1,64}", "scope_name", "a scope name such as content.read")
]
ToolsetName = Annotated[
    str, _pattern(r"[a-z0-9][a-z0-9_-]{0,63}", "toolset_name", "a toolset name of a-z 0-9 _ - like read-only")
]
# Globs match tool, ability and command names alike; only * and ? are wildcards (no [...] classes).
Glob = Annotated[
    str,
    _pattern(
        r"[A-Za-z0-9_.:/*?-]{1,128}", "glob", "a glob of letters, digits, _ . : / - with * and ? as wildcards"
    ),
]


def is_literal_glob(glob: str) -> bool:
    """A glob without wildcards names exactly one entry, so a typo in it can be caught at load time."""
    return "*" not in glob and "?" not in glob


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResultCap(Strict):
    """Upper bound for a size parameter (per_page, limit, ...) of one tool or ability."""

    anonymous: Annotated[int, Field(ge=1)]
    authenticated: Annotated[int, Field(ge=1)]


class _Gated(Strict):
    """What every entry declares: the OAuth scope, whether it changes the site, extra toolset tags."""

    scope: ScopeName
    writes: bool
    toolsets: list[ToolsetName] = []
    result_caps: dict[str, ResultCap] = {}


class Entry(_Gated):
    """An ability: the WordPress capability it needs is the final authority."""

    capability: CapabilityName


class ToolEntry(Entry):
    """An MCP tool. `ability_param` marks a meta-tool whose real target is an ability (the argument
    named here, e.g. ability_name of mcp-adapter-execute-ability); that ability is authorized too."""

    ability_param: Annotated[str, Field(min_length=1)] | None = None


class CommandEntry(_Gated):
    """One command of a command-envelope API. `capability` may be omitted for commands that need no
    WordPress user (a public search, say); the scope and toolsets still apply."""

    capability: CapabilityName | None = None


class UnknownRule(Strict):
    """What a name missing from tools.yaml needs when `unknown: allow`."""

    capability: CapabilityName
    scope: ScopeName
    writes: bool = True


class ToolsFile(Strict):
    unknown: Literal["deny", "allow"] = "deny"
    unknown_rule: UnknownRule | None = None
    scopes: dict[ScopeName, Annotated[str, Field(min_length=1)]]
    tools: dict[ToolName, ToolEntry] = {}
    abilities: dict[AbilityName, Entry] = {}
    commands: dict[CommandName, CommandEntry] = {}


class ToolsetSpec(Strict):
    """A named profile: its members are its tagged entries, its parents' members and whatever its
    `include` globs match, minus what `exclude` matches; `read_only` keeps only entries that do not write."""

    description: Annotated[str, Field(min_length=1)]
    extends: list[ToolsetName] = []
    include: list[Glob] = []
    exclude: list[Glob] = []
    read_only: bool = False


class ToolsetsFile(Strict):
    default_enabled: list[ToolsetName]
    toolsets: dict[ToolsetName, ToolsetSpec]
