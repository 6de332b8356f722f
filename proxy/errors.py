"""One error type for every refusal. Stages raise it; only the runner renders it, in the route's dialect.

`code` is stable: it is the metric label, the audit reason and the machine-readable error code clients see.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["SidecarError"]


class SidecarError(Exception):
    """A refusal with its HTTP status, stable code and human message.

    `challenge` asks the renderer for a `WWW-Authenticate: Bearer ...` header (RFC 6750 / RFC 9728);
    `scope` is the scope a client must step up to (insufficient_scope); `headers` are added verbatim
    (e.g. Retry-After); `data` is extra machine-readable detail for the body. `hidden` refusals answer a
    bare 404, as if the surface did not exist (disabled or unlisted surfaces), while `code` still says
    why in logs and metrics.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        challenge: bool = False,
        scope: str | None = None,
        data: Mapping[str, Any] | None = None,
        hidden: bool = False,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.challenge = challenge
        self.scope = scope
        self.data = dict(data or {})
        self.hidden = hidden
