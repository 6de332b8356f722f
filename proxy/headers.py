"""Header names in one place, and the hop-by-hop set of RFC 9110 section 7.6.1."""

from __future__ import annotations

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "AUTHORIZATION",
    "HOP_BY_HOP",
    "MCP_SESSION_ID",
    "REQUEST_ID",
    "X_API_KEY",
    "strip_hop_by_hop",
]

REQUEST_ID = "X-Request-Id"
X_API_KEY = "X-API-Key"
AUTHORIZATION = "Authorization"
MCP_SESSION_ID = "Mcp-Session-Id"
WWW_AUTHENTICATE = "WWW-Authenticate"

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


def strip_hop_by_hop(
    headers: CIMultiDictProxy[str] | CIMultiDict[str], *, drop: frozenset[str] = frozenset()
) -> CIMultiDict[str]:
    """A copy without hop-by-hop fields, those the Connection header names, and `drop` (lower-case)."""
    named = {
        token.strip().lower()
        for value in headers.getall("Connection", [])
        for token in value.split(",")
        if token.strip()
    }
    skip = HOP_BY_HOP | named | drop
    return CIMultiDict((key, value) for key, value in headers.items() if key.lower() not in skip)
