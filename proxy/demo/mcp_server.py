"""mcp-adapter's default server, served by the `mcp` SDK's low-level `Server`.

The SDK does the JSON-RPC work (initialize, method dispatch, params validation, result
shapes); the handlers here only know WordPress. The logged-in user travels in the ASGI
scope of the request the transport hands to the SDK (`ctx.request`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError

from proxy.demo.meta_tools import META_TOOLS, call_meta_tool
from proxy.demo.rest_server import USER_SCOPE_KEY
from proxy.demo.users import DemoUser

if TYPE_CHECKING:
    from proxy.demo.site import DemoSite

__all__ = ["SERVER_NAME", "build_mcp_server", "scope_user"]

SERVER_NAME = "MCP Adapter Default Server"
SERVER_VERSION = "v1.0.0"
INSTRUCTIONS = "Default MCP server for WordPress abilities discovery and execution"

TOOL_NOT_FOUND = -32003
RESOURCE_NOT_FOUND = -32002
PROMPT_NOT_FOUND = -32004

Context = ServerRequestContext[Any, Any]


def scope_user(ctx: Context) -> DemoUser:
    """The WordPress user of this MCP request, put in the scope by the transport."""
    user = ctx.request.scope.get(USER_SCOPE_KEY) if ctx.request is not None else None
    if not isinstance(user, DemoUser):
        raise MCPError(code=-32010, message="Unauthorized: User not authenticated")
    return user


def build_mcp_server(site: DemoSite) -> Server[Any]:
    async def list_tools(ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=list(META_TOOLS))

    async def list_all_tools(ctx: Context, params: types.PaginatedRequestParams) -> dict[str, Any]:
        """`tools/list/all` (mcp-adapter only): the same tools, each marked available."""
        tools = [tool.model_dump(by_alias=True, mode="json", exclude_none=True) for tool in META_TOOLS]
        return {"tools": [{**tool, "available": True} for tool in tools]}

    async def call_tool(ctx: Context, params: types.CallToolRequestParams) -> types.CallToolResult:
        result = call_meta_tool(site, scope_user(ctx), params.name, params.arguments or {})
        if result is None:
            raise MCPError(code=TOOL_NOT_FOUND, message=f"Tool not found: {params.name}")
        return result

    async def list_resources(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=[])

    async def read_resource(
        ctx: Context, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        raise MCPError(code=RESOURCE_NOT_FOUND, message=f"Resource not found: {params.uri}")

    async def list_prompts(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=[])

    async def get_prompt(ctx: Context, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        raise MCPError(code=PROMPT_NOT_FOUND, message=f"Prompt not found: {params.name}")

    server: Server[Any] = Server(
        SERVER_NAME,
        version=SERVER_VERSION,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )
    server.add_request_handler("tools/list/all", types.PaginatedRequestParams, list_all_tools)
    return server
