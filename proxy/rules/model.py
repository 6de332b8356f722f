"""The rules compiled for requests: every entry knows the toolsets it belongs to, globs are regexes.

Membership is computed once per listed entry at load time; only names missing from tools.yaml (when
`unknown: allow`) are matched against the globs at request time.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from proxy.rules.schema import ResultCap, UnknownRule

__all__ = ["Kind", "Matcher", "Rule", "Rules", "Toolset", "compile_globs", "membership"]

Kind = Literal["tool", "ability", "command"]
Matcher = Callable[[str], bool]


def _never(_name: str) -> bool:
    return False


def compile_globs(globs: Iterable[str]) -> Matcher:
    """One regex for a list of globs (`*` and `?` match any character, `/` included)."""
    parts = [fnmatch.translate(glob) for glob in globs]
    if not parts:
        return _never
    pattern = re.compile("|".join(parts))
    return lambda name: pattern.match(name) is not None


@dataclass(frozen=True, slots=True)
class Toolset:
    name: str
    description: str
    extends: tuple[str, ...]
    include: Matcher
    exclude: Matcher
    read_only: bool


@dataclass(frozen=True, slots=True)
class Rule:
    """What one tool, ability or command needs. `capability` None: no WordPress capability (commands
    only). `listed` is False for a name missing from tools.yaml, admitted by `unknown: allow`."""

    kind: Kind
    name: str
    capability: str | None
    scope: str
    writes: bool
    toolsets: frozenset[str]
    result_caps: Mapping[str, ResultCap] = field(default_factory=dict)
    ability_param: str | None = None
    listed: bool = True


@dataclass(frozen=True, slots=True)
class Rules:
    """Both rules files, validated and compiled. `unknown_rule` None means unknown names are denied."""

    scopes: Mapping[str, str]
    toolsets: Mapping[str, Toolset]
    default_enabled: frozenset[str]
    entries: Mapping[Kind, Mapping[str, Rule]]
    unknown_rule: UnknownRule | None = None

    @property
    def tools(self) -> Mapping[str, Rule]:
        return self.entries["tool"]

    @property
    def abilities(self) -> Mapping[str, Rule]:
        return self.entries["ability"]

    @property
    def commands(self) -> Mapping[str, Rule]:
        return self.entries["command"]

    def lookup(self, kind: Kind, name: str) -> Rule | None:
        """The rule for a name; for an unlisted name the `unknown_rule` (or None: deny)."""
        rule = self.entries[kind].get(name)
        if rule is not None or self.unknown_rule is None:
            return rule
        fallback = self.unknown_rule
        return Rule(
            kind=kind,
            name=name,
            capability=fallback.capability,
            scope=fallback.scope,
            writes=fallback.writes,
            toolsets=membership(self.toolsets, name, writes=fallback.writes),
            listed=False,
        )


def membership(
    toolsets: Mapping[str, Toolset], name: str, *, writes: bool, tags: Iterable[str] = ()
) -> frozenset[str]:
    """Every toolset an entry belongs to: tagged, matched by `include`, or inherited through `extends`;
    never when `exclude` matches or the toolset is read_only and the entry writes. `extends` is acyclic."""
    tagged = frozenset(tags)
    decided: dict[str, bool] = {}

    def inside(toolset_name: str) -> bool:
        if toolset_name not in decided:
            toolset = toolsets[toolset_name]
            decided[toolset_name] = (
                not (toolset.read_only and writes)
                and not toolset.exclude(name)
                and (
                    toolset_name in tagged
                    or toolset.include(name)
                    or any(inside(parent) for parent in toolset.extends)
                )
            )
        return decided[toolset_name]

    return frozenset(toolset_name for toolset_name in toolsets if inside(toolset_name))
