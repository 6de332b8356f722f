"""Realistic mcp-adapter 0.5.0 payloads (shapes from its source and a running WordPress 7.1)."""

from __future__ import annotations

import json
from typing import Any

from proxy.mcp.target import DISCOVER_ABILITIES_TOOL, EXECUTE_ABILITY_TOOL, GET_ABILITY_INFO_TOOL

__all__ = [
    "ABILITIES",
    "TOOLS",
    "discover_result",
    "discover_text",
    "execute_call",
    "response",
    "tools_list_result",
]

_READ_ONLY = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}

TOOLS: list[dict[str, Any]] = [
    {
        "name": DISCOVER_ABILITIES_TOOL,
        "title": "Discover Abilities",
        "description": "Discover all available WordPress abilities in the system.",
        "type": "action",
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
        "annotations": _READ_ONLY,
    },
    {
        "name": GET_ABILITY_INFO_TOOL,
        "title": "Get Ability Info",
        "description": "Get detailed information about a specific WordPress ability.",
        "type": "action",
        "inputSchema": {
            "type": "object",
            "properties": {"ability_name": {"type": "string", "description": "The full name of the ability"}},
            "required": ["ability_name"],
            "additionalProperties": False,
        },
        "outputSchema": {"type": "object", "properties": {"name": {"type": "string"}}},
        "annotations": _READ_ONLY,
    },
    {
        "name": EXECUTE_ABILITY_TOOL,
        "title": "Execute Ability",
        "description": "Execute a WordPress ability with the provided parameters.",
        "type": "action",
        "inputSchema": {
            "type": "object",
            "properties": {
                "ability_name": {"type": "string", "description": "The full name of the ability to execute"},
                "parameters": {"type": "object", "description": "Parameters to pass to the ability"},
            },
            "required": ["ability_name", "parameters"],
            "additionalProperties": False,
        },
        "outputSchema": {
            "type": "object",
            "properties": {"success": {"type": "boolean"}, "data": {}, "error": {"type": "string"}},
            "required": ["success"],
        },
        "annotations": {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": False},
    },
]

ABILITIES: list[dict[str, str]] = [
    {
        "name": "core/get-site-info",
        "label": "Get Site Information",
        "description": "Returns site information.",
    },
    {
        "name": "core/get-user-info",
        "label": "Get User Information",
        "description": "Returns the current user.",
    },
    {"name": "demo/create-post", "label": "Create Post", "description": "Creates a draft post. Ünïcødé ✓"},
    {"name": "demo/delete-post", "label": "Delete Post", "description": "Deletes a post."},
]


def tools_list_result(*, all_variant: bool = False) -> dict[str, Any]:
    tools = [dict(t, available=True) if all_variant else dict(t) for t in TOOLS]
    return {"tools": tools}


def discover_text(abilities: list[dict[str, str]]) -> str:
    """What wp_json_encode makes of the result: slashes and non-ASCII escaped."""
    return json.dumps({"abilities": abilities}, separators=(",", ":")).replace("/", "\\/")


def discover_result(abilities: list[dict[str, str]] | None = None) -> dict[str, Any]:
    abilities = ABILITIES if abilities is None else abilities
    return {
        "content": [{"type": "text", "text": discover_text(abilities)}],
        "structuredContent": {"abilities": [dict(a) for a in abilities]},
        "isError": False,
    }


def response(request_id: int | str, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def execute_call(
    request_id: int | str, ability: str, parameters: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {
            "name": EXECUTE_ABILITY_TOOL,
            "arguments": {"ability_name": ability, "parameters": parameters or {}},
        },
    }
