"""WP MCP Sidecar: an audited, policy-governed MCP door in front of WordPress."""
