"""The MCP message layer: strict JSON-RPC parsing, targets, header checks, SSE, rewriting, sessions."""
