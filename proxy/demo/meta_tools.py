"""The three tools of mcp-adapter's default server, and what each answers.

Abilities are never tools of their own: agents discover them, read their schema, and run
them through `mcp-adapter-execute-ability`. Discovery shows every public ability to every
user; only execution asks the ability's permission callback. A refusal inside a tool is a
`CallToolResult` with `isError: true` (HTTP 200), never a JSON-RPC error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import mcp_types as types

from proxy.demo.abilities import Ability, AbilityError, run_ability
from proxy.demo.responses import wp_json_encode
from proxy.demo.users import DemoUser

if TYPE_CHECKING:
    from proxy.demo.site import DemoSite

__all__ = ["DISCOVER_TOOL", "EXECUTE_TOOL", "INFO_TOOL", "META_TOOLS", "call_meta_tool"]

DISCOVER_TOOL = "mcp-adapter-discover-abilities"
INFO_TOOL = "mcp-adapter-get-ability-info"
EXECUTE_TOOL = "mcp-adapter-execute-ability"

_ABILITY_NAME = {"type": "string", "description": "The full name of the ability"}
_READ_ONLY = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}

META_TOOLS: tuple[types.Tool, ...] = tuple(
    types.Tool.model_validate(tool)
    for tool in (
        {
            "name": DISCOVER_TOOL,
            "title": "Discover Abilities",
            "description": "Discover all available WordPress abilities in the system. "
            "Returns a list of all registered abilities with their basic information.",
            "inputSchema": {"type": "object", "additionalProperties": False},
            "outputSchema": {
                "type": "object",
                "properties": {
                    "abilities": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "label": {"type": "string"},
                                "description": {"type": "string"},
                            },
                            "required": ["name", "label", "description"],
                        },
                    }
                },
                "required": ["abilities"],
            },
            "annotations": {"title": "Discover Abilities", **_READ_ONLY},
        },
        {
            "name": INFO_TOOL,
            "title": "Get Ability Info",
            "description": "Get detailed information about a specific WordPress ability "
            "including its input/output schema, description, and usage examples.",
            "inputSchema": {
                "type": "object",
                "properties": {"ability_name": _ABILITY_NAME},
                "required": ["ability_name"],
                "additionalProperties": False,
            },
            "outputSchema": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "label": {"type": "string"},
                    "description": {"type": "string"},
                    "input_schema": {"type": "object"},
                    "output_schema": {"type": "object"},
                    "meta": {"type": "object"},
                },
                "required": ["name", "label", "description", "input_schema"],
            },
            "annotations": {"title": "Get Ability Info", **_READ_ONLY},
        },
        {
            "name": EXECUTE_TOOL,
            "title": "Execute Ability",
            "description": "Execute a WordPress ability with the provided parameters. "
            "This is the primary execution layer that can run any registered ability.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "ability_name": _ABILITY_NAME,
                    "parameters": {"type": "object", "description": "Parameters to pass to the ability"},
                },
                "required": ["ability_name", "parameters"],
                "additionalProperties": False,
            },
            "outputSchema": {
                "type": "object",
                "properties": {
                    "success": {"type": "boolean"},
                    "data": {"type": ["object", "array", "string", "number", "integer", "boolean", "null"]},
                    "error": {"type": "string"},
                },
                "required": ["success"],
            },
            "annotations": {
                "title": "Execute Ability",
                "readOnlyHint": False,
                "destructiveHint": True,
                "idempotentHint": False,
            },
        },
    )
)


_REFUSED_BEFORE_RUN = frozenset(
    {"missing_ability_name", "ability_not_found", "ability_not_public_mcp", "ability_invalid_input"}
)


def _structured(data: dict[str, Any], *, is_error: bool = False) -> types.CallToolResult:
    text = wp_json_encode(data).decode("ascii")
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=data, is_error=is_error
    )


def _refusal(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


def _public_ability(site: DemoSite, arguments: Mapping[str, Any]) -> Ability:
    """The target ability, if it exists and is exposed via MCP; otherwise the plugin's refusal."""
    name = arguments.get("ability_name")
    if not isinstance(name, str) or not name:
        raise AbilityError("missing_ability_name", "Ability name is required")
    ability = site.abilities.get(name)
    if ability is None:
        raise AbilityError("ability_not_found", f"Ability '{name}' not found")
    if not ability.mcp_public:
        raise AbilityError(
            "ability_not_public_mcp", f'Ability "{name}" is not exposed via MCP (mcp.public!=true)'
        )
    return ability


def _discover(site: DemoSite, user: DemoUser, arguments: Mapping[str, Any]) -> types.CallToolResult:
    listed = [
        {"name": a.name, "label": a.label, "description": a.description}
        for a in site.abilities.values()
        if a.mcp_public
    ]
    return _structured({"abilities": listed})


def _info(site: DemoSite, user: DemoUser, arguments: Mapping[str, Any]) -> types.CallToolResult:
    try:
        ability = _public_ability(site, arguments)
    except AbilityError as error:
        return _refusal(error.message)
    info = ability.describe()
    del info["category"]
    return _structured(info)


def _execute(site: DemoSite, user: DemoUser, arguments: Mapping[str, Any]) -> types.CallToolResult:
    try:
        ability = _public_ability(site, arguments)
        result = run_ability(site, ability, user, arguments.get("parameters"))
    except AbilityError as error:
        if error.code == "ability_invalid_permissions":
            return _refusal("Permission denied")
        if error.code in _REFUSED_BEFORE_RUN:
            return _refusal(error.message)
        return _structured({"success": False, "error": error.message}, is_error=True)
    return _structured({"success": True, "data": result})


_HANDLERS: dict[str, Callable[[DemoSite, DemoUser, Mapping[str, Any]], types.CallToolResult]] = {
    DISCOVER_TOOL: _discover,
    INFO_TOOL: _info,
    EXECUTE_TOOL: _execute,
}


def call_meta_tool(
    site: DemoSite, user: DemoUser, name: str, arguments: Mapping[str, Any]
) -> types.CallToolResult | None:
    """Run a meta-tool for `user`; None if `name` is not one of the three."""
    handler = _HANDLERS.get(name)
    return None if handler is None else handler(site, user, arguments)
