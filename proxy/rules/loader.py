"""Read, validate and compile `rules/tools.yaml` and `rules/toolsets.yaml`.

Every problem in either file is reported at once, one `FILE: key.path: expected, found` line each,
in a ConfigError: a start refuses to run, a reload keeps the old rules.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from proxy.rules.model import Kind, Rule, Rules, Toolset, compile_globs, membership
from proxy.rules.schema import CommandEntry, Entry, ToolEntry, ToolsetsFile, ToolsFile, is_literal_glob
from proxy.validation import ConfigError, describe_validation_error

__all__ = ["load_rules"]

_Model = TypeVar("_Model", bound=BaseModel)


def load_rules(tools_path: str | os.PathLike[str], toolsets_path: str | os.PathLike[str]) -> Rules:
    """Both rules files as one compiled Rules; ConfigError listing every problem of both files."""
    tools_src, toolsets_src = str(tools_path), str(toolsets_path)
    problems: list[str] = []
    tools = _parse(Path(tools_path), ToolsFile, problems)
    toolsets = _parse(Path(toolsets_path), ToolsetsFile, problems)
    if tools is None or toolsets is None:
        raise ConfigError(problems)
    problems.extend(_check_tools(tools, toolsets, tools_src, toolsets_src))
    problems.extend(_check_toolsets(tools, toolsets, tools_src, toolsets_src))
    if problems:
        raise ConfigError(problems)
    return _compile(tools, toolsets)


def _parse(path: Path, model: type[_Model], problems: list[str]) -> _Model | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(f"{path}: (file): the rules file does not exist")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: (file): a readable UTF-8 file, found {type(exc).__name__}: {exc}")
        return None
    try:
        raw = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "(unknown position)"
        problems.append(f"{path}: {where}: valid YAML, found {exc.problem}")
        return None
    except yaml.YAMLError as exc:
        problems.append(f"{path}: (file): valid YAML, found {exc}")
        return None
    if not isinstance(raw, dict):
        problems.append(f"{path}: (top level): expected a mapping, found {type(raw).__name__}")
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems.extend(describe_validation_error(str(path), exc))
        return None


def _sections(tools: ToolsFile) -> dict[str, Mapping[str, Entry | CommandEntry]]:
    return {"tools": tools.tools, "abilities": tools.abilities, "commands": tools.commands}


def _problem(src: str, path: str, expected: str, found: str) -> str:
    return f"{src}: {path}: expected {expected}, found {found}"


def _check_tools(tools: ToolsFile, toolsets: ToolsetsFile, src: str, toolsets_src: str) -> list[str]:
    """Scopes declared, tags naming real toolsets, no writing entry tagged into a read_only toolset."""
    problems: list[str] = []
    declared = "a scope declared under scopes"
    if tools.unknown == "allow" and tools.unknown_rule is None:
        problems.append(f"{src}: unknown_rule: required key is missing (unknown: allow needs it)")
    if tools.unknown == "deny" and tools.unknown_rule is not None:
        problems.append(_problem(src, "unknown_rule", "only together with unknown: allow", "unknown: 'deny'"))
    if tools.unknown_rule is not None and tools.unknown_rule.scope not in tools.scopes:
        problems.append(_problem(src, "unknown_rule.scope", declared, repr(tools.unknown_rule.scope)))
    for section, entries in _sections(tools).items():
        for name, entry in entries.items():
            if entry.scope not in tools.scopes:
                problems.append(_problem(src, f"{section}.{name}.scope", declared, repr(entry.scope)))
            for index, tag in enumerate(entry.toolsets):
                path, spec = f"{section}.{name}.toolsets.{index}", toolsets.toolsets.get(tag)
                if spec is None:
                    problems.append(_problem(src, path, f"a toolset defined in {toolsets_src}", repr(tag)))
                elif spec.read_only and entry.writes:
                    expected = f"a toolset that takes entries with writes: true ({tag!r} is read_only)"
                    problems.append(_problem(src, path, expected, repr(tag)))
    return problems


def _check_toolsets(tools: ToolsFile, toolsets: ToolsetsFile, tools_src: str, src: str) -> list[str]:
    """Names in extends/default_enabled defined, literal globs naming listed entries, extends acyclic."""
    problems: list[str] = []
    defined = toolsets.toolsets
    here = "a toolset defined in this file"
    listed = {name for entries in _sections(tools).values() for name in entries}
    for index, name in enumerate(toolsets.default_enabled):
        if name not in defined:
            problems.append(_problem(src, f"default_enabled.{index}", here, repr(name)))
    for name, spec in defined.items():
        for index, parent in enumerate(spec.extends):
            if parent not in defined:
                problems.append(_problem(src, f"toolsets.{name}.extends.{index}", here, repr(parent)))
        for key, globs in (("include", spec.include), ("exclude", spec.exclude)):
            for index, glob in enumerate(globs):
                if is_literal_glob(glob) and glob not in listed:
                    expected = f"a tool, ability or command listed in {tools_src} (or a glob with * or ?)"
                    problems.append(_problem(src, f"toolsets.{name}.{key}.{index}", expected, repr(glob)))
    cycle = _find_cycle({name: [p for p in spec.extends if p in defined] for name, spec in defined.items()})
    if cycle:
        expected = "toolsets that do not extend each other in a circle"
        problems.append(_problem(src, f"toolsets.{cycle[0]}.extends", expected, " -> ".join(cycle)))
    return problems


def _find_cycle(graph: Mapping[str, list[str]]) -> list[str] | None:
    """The first cycle found in a small graph, as a closed path (a -> b -> a), or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for child in graph[node]:
            found = visit(child, [*path, node])
            if found:
                return found
        done.add(node)
        return None

    for start in graph:
        found = visit(start, [])
        if found:
            return found
    return None


def _compile(tools: ToolsFile, toolsets: ToolsetsFile) -> Rules:
    compiled = {
        name: Toolset(
            name=name,
            description=spec.description,
            extends=tuple(spec.extends),
            include=compile_globs(spec.include),
            exclude=compile_globs(spec.exclude),
            read_only=spec.read_only,
        )
        for name, spec in toolsets.toolsets.items()
    }

    def rules_of(kind: Kind, entries: Mapping[str, Entry | CommandEntry]) -> Mapping[str, Rule]:
        return MappingProxyType(
            {
                name: Rule(
                    kind=kind,
                    name=name,
                    capability=entry.capability,
                    scope=entry.scope,
                    writes=entry.writes,
                    toolsets=membership(compiled, name, writes=entry.writes, tags=entry.toolsets),
                    result_caps=MappingProxyType(dict(entry.result_caps)),
                    ability_param=entry.ability_param if isinstance(entry, ToolEntry) else None,
                )
                for name, entry in entries.items()
            }
        )

    kinds: dict[Kind, Mapping[str, Rule]] = {
        "tool": rules_of("tool", tools.tools),
        "ability": rules_of("ability", tools.abilities),
        "command": rules_of("command", tools.commands),
    }
    return Rules(
        scopes=MappingProxyType(dict(tools.scopes)),
        toolsets=MappingProxyType(compiled),
        default_enabled=frozenset(toolsets.default_enabled),
        entries=MappingProxyType(kinds),
        unknown_rule=tools.unknown_rule if tools.unknown == "allow" else None,
    )
