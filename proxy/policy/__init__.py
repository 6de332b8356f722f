"""Policy plane: which REST route a request reaches, whether it may, and whether the site may serve MCP.

The pure parts (`paths`, `allowlist`) compile once from config; `entitlement` asks outside sources, cached.
"""
