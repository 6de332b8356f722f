"""JSON-RPC 2.0 bodies as the sidecar sees them: parsed once, strictly, into typed messages.

Policy is decided from this parse, so it refuses everything the MCP schema does not allow instead of
guessing: a body the guard reads one way and WordPress another is a bypass. Refusals are JsonRpcError
(a SidecarError) with the JSON-RPC code to answer with and a stable snake_case `code`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS
from mcp_types.jsonrpc import INVALID_REQUEST, JSONRPC_VERSION, PARSE_ERROR

from proxy.errors import SidecarError
from proxy.mcp.strict_json import DEFAULT_MAX_DEPTH, StrictJsonError, load_json
from proxy.records import new_record

__all__ = [
    "DEFAULT_MAX_BATCH",
    "JsonRpcError",
    "Message",
    "MessageKind",
    "ParsedBody",
    "RequestId",
    "error_response",
    "parse_body",
]

RequestId = str | int
MessageKind = Literal["request", "notification", "response"]

DEFAULT_MAX_BATCH = 50
"""WordPress runs every member of a batch: one HTTP request must not become hundreds of tool calls."""

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class JsonRpcError(SidecarError):
    """A refusal rendered as a JSON-RPC error: `rpc_code` is the JSON-RPC code, `code` the stable reason.

    `id` is the request id to answer (None when it could not be read). The HTTP status defaults to the
    one the MCP SDK maps the JSON-RPC code to (400 for parse / invalid request / invalid params).
    """

    def __init__(
        self,
        rpc_code: int,
        message: str,
        *,
        reason: str,
        id: RequestId | None = None,
        status: int | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            status if status is not None else ERROR_CODE_HTTP_STATUS.get(rpc_code, 400),
            reason,
            message,
            data=data,
        )
        self.rpc_code = rpc_code
        self.id = id


class Message(NamedTuple):
    """One JSON-RPC message. `params` is {} when absent; `raw` is the parsed object as sent.

    Named tuples, here and for the parsed body: immutable like a frozen dataclass and built for every
    request at half the cost (a frozen dataclass sets each field through object.__setattr__). On the
    request path they are built by `proxy.records.new_record`.
    """

    kind: MessageKind
    id: RequestId | None
    method: str | None
    params: Mapping[str, Any]
    raw: Mapping[str, Any]


class ParsedBody(NamedTuple):
    """A POST body: its messages in order, and whether it was a batch (a JSON array)."""

    messages: tuple[Message, ...]
    batch: bool

    @property
    def requests(self) -> tuple[Message, ...]:
        """The messages that expect an answer (a body without any is answered 202 upstream)."""
        return tuple(m for m in self.messages if m.kind == "request")


def error_response(
    id: RequestId | None,
    code: int,
    message: str,
    data: Any = None,
) -> dict[str, Any]:
    """A JSON-RPC error response object; `data` is included only when given."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": JSONRPC_VERSION, "id": id, "error": error}


def _invalid(message: str, *, reason: str = "invalid_message", id: RequestId | None = None) -> JsonRpcError:
    return JsonRpcError(INVALID_REQUEST, message, reason=reason, id=id)


def _is_request_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _parse_message(obj: Any, where: str) -> Message:
    if not isinstance(obj, dict):
        raise _invalid(f"{where} must be a JSON object, found {type(obj).__name__}")
    raw_id = obj.get("id")
    valid_id = _is_request_id(raw_id)
    known_id = raw_id if valid_id else None
    if obj.get("jsonrpc") != JSONRPC_VERSION:
        raise _invalid(f'{where}: "jsonrpc" must be "2.0"', id=known_id)
    if not valid_id and "id" in obj and not ("error" in obj and raw_id is None):
        raise _invalid(f'{where}: "id" must be a string or an integer', reason="invalid_id")

    if "method" in obj:
        method = obj["method"]
        if not isinstance(method, str) or not method:
            raise _invalid(f'{where}: "method" must be a non-empty string', id=known_id)
        if "result" in obj or "error" in obj:
            raise _invalid(f'{where}: a message with "method" cannot carry "result" or "error"', id=known_id)
        params = obj.get("params")
        if params is None:
            params = _EMPTY
        elif not isinstance(params, dict):
            raise _invalid(f'{where}: "params" must be an object', reason="invalid_params", id=known_id)
        kind: MessageKind = "request" if "id" in obj else "notification"
        return new_record(Message, (kind, known_id, method, params, obj))

    if "id" not in obj:
        raise _invalid(f'{where}: a message needs "method" (request, notification) or "id" (response)')
    if ("result" in obj) == ("error" in obj):
        raise _invalid(f'{where}: a response carries exactly one of "result" and "error"', id=known_id)
    if "error" in obj and not isinstance(obj["error"], dict):
        raise _invalid(f'{where}: "error" must be an object', id=known_id)
    return new_record(Message, ("response", known_id, None, _EMPTY, obj))


def parse_body(
    body: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH, max_batch: int = DEFAULT_MAX_BATCH
) -> ParsedBody:
    """Parse a POST body into messages, or raise JsonRpcError.

    Codes: -32700 for not_utf8 / invalid_json / duplicate_key / too_deep; -32600 for not_a_message,
    empty_batch, batch_too_large, invalid_message, invalid_id, invalid_params, duplicate_id. Request ids
    must be unique within a batch, so each answer maps back to exactly one request.
    """
    try:
        value = load_json(body, max_depth=max_depth)
    except StrictJsonError as exc:
        raise JsonRpcError(PARSE_ERROR, exc.message, reason=exc.reason) from None

    if isinstance(value, dict):
        return new_record(ParsedBody, ((_parse_message(value, "message"),), False))
    if not isinstance(value, list):
        raise _invalid(
            f"body must be a JSON-RPC object or array, found {type(value).__name__}", reason="not_a_message"
        )
    if not value:
        raise _invalid("a batch must not be empty", reason="empty_batch")
    if len(value) > max_batch:
        raise _invalid(
            f"a batch holds at most {max_batch} messages, found {len(value)}", reason="batch_too_large"
        )

    messages = tuple(_parse_message(item, f"batch member {index}") for index, item in enumerate(value))
    seen: set[tuple[type, RequestId]] = set()
    for message in messages:
        if message.kind == "request" and message.id is not None:
            key = (type(message.id), message.id)
            if key in seen:
                raise _invalid(f"request id {message.id!r} appears twice in the batch", reason="duplicate_id")
            seen.add(key)
    return new_record(ParsedBody, (messages, True))
