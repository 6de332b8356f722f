"""What a message acts on, for policy: the tool, and behind WordPress's meta-tools the real ability.

mcp-adapter exposes every ability through three meta-tools, so `tools/call` of
`mcp-adapter-execute-ability` really targets `arguments.ability_name`. Names are checked against the
characters WordPress itself allows, so the name policy sees is the name WordPress looks up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from mcp_types.jsonrpc import INVALID_PARAMS

from proxy.mcp.jsonrpc import JsonRpcError, Message

__all__ = [
    "ABILITY_META_TOOLS",
    "DISCOVER_ABILITIES_TOOL",
    "EXECUTE_ABILITY_TOOL",
    "GET_ABILITY_INFO_TOOL",
    "SubjectKind",
    "Target",
    "TargetKind",
    "resolve_target",
]

DISCOVER_ABILITIES_TOOL = "mcp-adapter-discover-abilities"
GET_ABILITY_INFO_TOOL = "mcp-adapter-get-ability-info"
EXECUTE_ABILITY_TOOL = "mcp-adapter-execute-ability"
ABILITY_META_TOOLS = frozenset({GET_ABILITY_INFO_TOOL, EXECUTE_ABILITY_TOOL})
"""The meta-tools whose `arguments.ability_name` names the ability they act on."""

TargetKind = Literal["tool", "resource", "prompt"]
SubjectKind = Literal["tool", "ability", "resource", "prompt"]

# MCP tool names (and mcp-adapter's): 1-128 of [A-Za-z0-9_.-].
_TOOL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
# WordPress ability names: lowercase namespace/name (6.9), up to four segments in newer cores.
_ABILITY_NAME = re.compile(r"[a-z0-9-]+(?:/[a-z0-9-]+){1,3}")
_MAX_NAME = 2048


class Target(NamedTuple):
    """The named thing a message acts on; kind None for methods that name nothing (ping, tools/list).

    `ability` is set for the meta-tools that act on one ability; policy must allow both the tool and it.
    A named tuple: one is made for every message (see proxy.mcp.jsonrpc.Message).
    """

    kind: TargetKind | None
    name: str | None
    ability: str | None = None

    @property
    def subjects(self) -> tuple[tuple[SubjectKind, str], ...]:
        """Every (kind, name) policy must allow, tool first then ability."""
        subjects: list[tuple[SubjectKind, str]] = []
        if self.kind is not None and self.name is not None:
            subjects.append((self.kind, self.name))
        if self.ability is not None:
            subjects.append(("ability", self.ability))
        return tuple(subjects)


_NOTHING = Target(kind=None, name=None)


def _invalid(message: Message, text: str) -> JsonRpcError:
    return JsonRpcError(INVALID_PARAMS, text, reason="invalid_target", id=message.id)


def _string(message: Message, container: Mapping[str, Any], key: str, where: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        raise _invalid(message, f"{where}.{key} must be a non-empty string")
    if len(value) > _MAX_NAME:
        raise _invalid(message, f"{where}.{key} is longer than {_MAX_NAME} characters")
    return value


def _no_nested_params(message: Message) -> None:
    # mcp-adapter reads `params.params` in place of `params` when present: refuse the second reading.
    if "params" in message.params:
        raise _invalid(message, f"{message.method}: params.params is not allowed")


def _ability(message: Message, tool: str) -> str:
    arguments = message.params.get("arguments")
    if not isinstance(arguments, dict):
        raise _invalid(message, f"{tool}: params.arguments must be an object with ability_name")
    ability = _string(message, arguments, "ability_name", "params.arguments")
    if not _ABILITY_NAME.fullmatch(ability):
        raise _invalid(message, f"{tool}: ability_name must look like namespace/name (lowercase, digits, -)")
    return ability


def resolve_target(message: Message) -> Target:
    """The target of a request or notification (both: a guard must not care whether an id was sent).

    Raises JsonRpcError -32602 (code invalid_target) when a name is missing or malformed.
    """
    method = message.method
    if method == "tools/call":
        _no_nested_params(message)
        tool = _string(message, message.params, "name", "params")
        if not _TOOL_NAME.fullmatch(tool):
            raise _invalid(message, "params.name must be 1-128 characters of A-Z a-z 0-9 _ . -")
        ability = _ability(message, tool) if tool in ABILITY_META_TOOLS else None
        return Target("tool", tool, ability)
    if method == "resources/read":
        _no_nested_params(message)
        return Target("resource", _string(message, message.params, "uri", "params"))
    if method == "prompts/get":
        _no_nested_params(message)
        return Target("prompt", _string(message, message.params, "name", "params"))
    return _NOTHING
