"""Command-envelope APIs (`POST .../commands` with `{command, params, requestId}`), read strictly.

Some WordPress MCP plugins expose one REST route that runs named commands. The command name is what
policy decides on, so the envelope is parsed with the same strict JSON rules as JSON-RPC bodies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from proxy.errors import SidecarError
from proxy.mcp.strict_json import DEFAULT_MAX_DEPTH, StrictJsonError, load_json

__all__ = ["CommandEnvelope", "CommandError", "CommandRequestId", "envelope_error", "parse_command"]

CommandRequestId = str | int

_MAX_COMMAND = 128
_EMPTY: Mapping[str, Any] = MappingProxyType({})


class CommandError(SidecarError):
    """A refused command envelope; `request_id` is echoed in the error envelope when it could be read."""

    def __init__(
        self, status: int, code: str, message: str, *, request_id: CommandRequestId | None = None
    ) -> None:
        super().__init__(status, code, message)
        self.request_id = request_id


@dataclass(frozen=True, slots=True)
class CommandEnvelope:
    """A parsed command call; `params` is {} when absent, `request_id` None when absent."""

    command: str
    params: Mapping[str, Any]
    request_id: CommandRequestId | None


def envelope_error(code: str, message: str, request_id: CommandRequestId | None) -> dict[str, Any]:
    """The error body of a command API (the HTTP status is the caller's to set)."""
    return {
        "success": False,
        "error": {"code": code, "message": message},
        "requestId": request_id,
        "data": None,
    }


def parse_command(body: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH) -> CommandEnvelope:
    """Parse a command envelope or raise CommandError (400).

    Codes: the strict JSON reasons (not_utf8, invalid_json, duplicate_key, too_deep), missing_command for
    an absent or empty command, invalid_request for any other malformed member.
    """
    try:
        value = load_json(body, max_depth=max_depth)
    except StrictJsonError as exc:
        raise CommandError(400, exc.reason, exc.message) from None
    if not isinstance(value, dict):
        raise CommandError(
            400, "invalid_request", f"body must be a JSON object, found {type(value).__name__}"
        )

    request_id = value.get("requestId")
    if request_id is not None and (isinstance(request_id, bool) or not isinstance(request_id, str | int)):
        raise CommandError(400, "invalid_request", "requestId must be a string or an integer")

    command = value.get("command")
    if command is None or command == "":
        raise CommandError(
            400, "missing_command", "the command member is missing or empty", request_id=request_id
        )
    if not isinstance(command, str):
        raise CommandError(400, "invalid_request", "command must be a string", request_id=request_id)
    if len(command) > _MAX_COMMAND or not command.isprintable() or command != command.strip():
        raise CommandError(
            400,
            "invalid_request",
            f"command must be at most {_MAX_COMMAND} printable characters, no edge spaces",
            request_id=request_id,
        )

    params = value.get("params")
    if params is None:
        params = _EMPTY
    elif not isinstance(params, dict):
        raise CommandError(400, "invalid_request", "params must be an object", request_id=request_id)
    return CommandEnvelope(command=command, params=params, request_id=request_id)
