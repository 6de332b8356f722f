"""MCP routing headers must agree with the JSON body; the body decides, the headers are only checked.

Protocol 2026-07-28 (stateless) repeats the method, the tool/prompt/resource name and the protocol
version in headers so intermediaries can route without parsing. The sidecar parses anyway and decides
from the body; a request whose headers say something else is refused (400), as the spec asks of
intermediaries, so nothing downstream can be fooled by the headers either. Handshake-era clients that
send none of these headers pass untouched.
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

from mcp.shared.inbound import NAME_BEARING_METHODS, decode_header_value
from mcp_types import PROTOCOL_VERSION_META_KEY
from mcp_types.jsonrpc import HEADER_MISMATCH, INVALID_REQUEST
from mcp_types.version import KNOWN_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from multidict import MultiMapping, istr

from proxy.mcp.jsonrpc import JsonRpcError, Message, ParsedBody, RequestId

__all__ = [
    "LAST_EVENT_ID",
    "MCP_METHOD",
    "MCP_NAME",
    "MCP_PROTOCOL_VERSION",
    "MCP_SESSION_ID",
    "HeaderMismatch",
    "ProtocolEra",
    "check_headers",
]

# istr: looked up in request headers on every MCP request (see proxy.headers)
MCP_PROTOCOL_VERSION: Final = istr("MCP-Protocol-Version")
MCP_METHOD: Final = istr("Mcp-Method")
MCP_NAME: Final = istr("Mcp-Name")
MCP_SESSION_ID: Final = istr("Mcp-Session-Id")
LAST_EVENT_ID: Final = istr("Last-Event-ID")

ProtocolEra = Literal["handshake", "stateless"]

_DATE_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")
_KNOWN_VERSIONS = frozenset(KNOWN_PROTOCOL_VERSIONS)  # date-shaped: they skip the pattern
_SHOWN = 80


class HeaderMismatch(JsonRpcError):
    """A routing header disagrees with the body (or is repeated, or missing where the era requires it)."""

    def __init__(self, header: str, message: str, *, id: RequestId | None = None) -> None:
        super().__init__(
            HEADER_MISMATCH, message, reason="header_mismatch", id=id, status=400, data={"header": header}
        )
        self.header = header


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _compare(header: str, header_value: str | None, body_value: Any, what: str, message: Message) -> None:
    if header_value == body_value:
        return
    if header_value is None:
        text = f"{header} header is missing; the body's {what} is {_show(body_value)}"
    elif body_value is None:
        text = f"{header} header is {_show(header_value)} but the body has no {what}"
    else:
        text = f"{header} header {_show(header_value)} does not match the body's {what} {_show(body_value)}"
    raise HeaderMismatch(header, text, id=message.id)


def _single(headers: MultiMapping[str], name: str) -> str | None:
    values = headers.getall(name, [])
    if len(values) > 1:  # first-copy and last-copy readers would disagree
        raise HeaderMismatch(name, f"{name} header appears more than once")
    return values[0] if values else None


def _meta_version(message: Message) -> Any:
    meta = message.params.get("_meta")
    return meta.get(PROTOCOL_VERSION_META_KEY) if isinstance(meta, dict) else None


def check_headers(body: ParsedBody, headers: MultiMapping[str]) -> ProtocolEra:
    """Check the routing headers against `body`; return the protocol era the request belongs to.

    `headers` must be case-insensitive and keep repeats (aiohttp's `request.headers`). Raises
    JsonRpcError invalid_protocol_version (400) for a version that is not YYYY-MM-DD, HeaderMismatch
    (400, code header_mismatch) for any disagreement. The stateless era is recognized by a 2026-07-28
    version header or a protocol version in `params._meta`; in it a request must carry every header
    that applies, and a batch is not allowed. `Mcp-Method` alone does not make a request stateless: the
    TypeScript SDK (mcp-remote) sends it on handshake-era requests too; it is still checked.
    """
    version = _single(headers, MCP_PROTOCOL_VERSION)
    method_header = _single(headers, MCP_METHOD)
    name_header = _single(headers, MCP_NAME)
    if version is not None and version not in _KNOWN_VERSIONS and not _DATE_VERSION.fullmatch(version):
        raise JsonRpcError(
            INVALID_REQUEST,
            f"{MCP_PROTOCOL_VERSION} header must be a date version like 2025-11-25, found {_show(version)}",
            reason="invalid_protocol_version",
        )
    if body.batch:
        return _check_batch(body, version, method_header, name_header)

    message = body.messages[0]
    meta_version = _meta_version(message)
    stateless = meta_version is not None or version in MODERN_PROTOCOL_VERSIONS
    required = stateless and message.kind == "request"
    if meta_version is not None or required:
        _compare(MCP_PROTOCOL_VERSION, version, meta_version, "params._meta protocol version", message)
    if method_header is not None or required:
        _compare(MCP_METHOD, method_header, message.method, "method", message)
    name_key = NAME_BEARING_METHODS.get(message.method or "")
    if name_header is not None or (required and name_key is not None):
        if name_key is None:
            raise HeaderMismatch(
                MCP_NAME, f"{MCP_NAME} header is sent but {message.method or 'a response'} names no target"
            )
        decoded = decode_header_value(name_header)
        if name_header is not None and decoded is None:
            raise HeaderMismatch(
                MCP_NAME, f"{MCP_NAME} header carries a malformed base64 value", id=message.id
            )
        _compare(MCP_NAME, decoded, message.params.get(name_key), f"params.{name_key}", message)
    return "stateless" if stateless else "handshake"


def _check_batch(
    body: ParsedBody, version: str | None, method_header: str | None, name_header: str | None
) -> ProtocolEra:
    """A batch belongs to the handshake era: no routing header may name one method or target."""
    meta_versions = [_meta_version(message) for message in body.messages]
    stateless = version in MODERN_PROTOCOL_VERSIONS or any(meta is not None for meta in meta_versions)
    for message, meta_version in zip(body.messages, meta_versions, strict=True):
        if meta_version is not None or (stateless and message.kind == "request"):
            _compare(MCP_PROTOCOL_VERSION, version, meta_version, "params._meta protocol version", message)
    count = f"a batch of {len(body.messages)} messages"
    if method_header is not None:
        raise HeaderMismatch(MCP_METHOD, f"{MCP_METHOD} header names one method, the body is {count}")
    if stateless:
        raise HeaderMismatch(
            MCP_PROTOCOL_VERSION,
            f"{MCP_PROTOCOL_VERSION} {version} is stateless and has no batches, the body is {count}",
        )
    if name_header is not None:
        raise HeaderMismatch(MCP_NAME, f"{MCP_NAME} header names one target, the body is {count}")
    return "handshake"
