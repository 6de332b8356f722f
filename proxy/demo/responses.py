"""WordPress-shaped JSON: PHP's encoding quirks, REST error bodies."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

__all__ = ["JSON_CONTENT_TYPE", "RestError", "WPJSONResponse", "empty_response", "wp_json_encode"]

JSON_CONTENT_TYPE = "application/json; charset=UTF-8"


def wp_json_encode(value: Any) -> bytes:
    """Encode as `wp_json_encode` does: compact, `\\uXXXX` for non-ASCII, and `/` escaped as `\\/`.

    A client (or a sidecar) that greps raw bytes for `demo/create-post` would miss it on a real
    site; keeping the escape here keeps such shortcuts honest. `/` occurs only inside JSON strings,
    so replacing it after encoding is exact.
    """
    return json.dumps(value, separators=(",", ":")).replace("/", "\\/").encode("ascii")


class WPJSONResponse(Response):
    media_type = JSON_CONTENT_TYPE

    def render(self, content: Any) -> bytes:
        return wp_json_encode(content)


def empty_response(status: int, headers: dict[str, str] | None = None) -> Response:
    """A body-less answer (202 for notifications, 405 for GET, 200 for DELETE), still typed JSON."""
    return Response(b"", status_code=status, headers=headers, media_type=JSON_CONTENT_TYPE)


class RestError(Exception):
    """A `WP_Error` on its way out: `{code, message, data: {status, ...}}`."""

    def __init__(self, code: str, message: str, status: int, **data: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.data = data

    def response(self) -> WPJSONResponse:
        body = {"code": self.code, "message": self.message, "data": {"status": self.status, **self.data}}
        return WPJSONResponse(body, status_code=self.status)
