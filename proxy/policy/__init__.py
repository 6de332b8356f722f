"""Policy plane: which REST route a request reaches, whether it may, and whether the site may serve MCP.

The pure parts compile once from config: `paths` (where a target goes), `forms` (the `$_POST` fields PHP
reads from a body), `allowlist` (whether it may); `entitlement` asks outside sources, cached.
"""
