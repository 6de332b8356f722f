"""Token endpoint errors: one class per RFC 6749 §5.2 error code (plus RFC 8707's invalid_target).

Each carries its HTTP status and headers and renders its own body, so the endpoint has one way to answer.
Descriptions are fixed sentences written here, never request data: RFC 6749 restricts their characters,
and echoing input back would help nobody but a prober.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "InvalidClientError",
    "InvalidGrantError",
    "InvalidRequestError",
    "InvalidScopeError",
    "InvalidTargetError",
    "OAuthError",
    "UnauthorizedClientError",
    "UnsupportedGrantTypeError",
]


class OAuthError(Exception):
    """A refusal of a token request, rendered as `{"error", "error_description"}`."""

    error: ClassVar[str]
    status: ClassVar[int] = 400

    def __init__(self, description: str, *, reason: str | None = None) -> None:
        """`reason` is for logs only (e.g. why client authentication failed); it is never rendered."""
        super().__init__(f"{self.error}: {description}")
        self.description = description
        self.reason = reason or description
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class InvalidRequestError(OAuthError):
    """A parameter is missing, repeated, malformed, or the request uses two client authentications."""

    error = "invalid_request"


class InvalidClientError(OAuthError):
    """Client authentication failed (unknown client, wrong secret, no authentication, another site).

    Always 401; when the client tried HTTP Basic, the answer names the scheme to use (RFC 6749 §5.2).
    """

    error = "invalid_client"
    status = 401

    def __init__(
        self, description: str, *, basic_realm: str | None = None, reason: str | None = None
    ) -> None:
        super().__init__(description, reason=reason)
        if basic_realm is not None:
            self.headers["WWW-Authenticate"] = f'Basic realm="{basic_realm}", charset="UTF-8"'


class InvalidGrantError(OAuthError):
    """The code or refresh token is unknown, used, expired, or bound to another client or redirect URI."""

    error = "invalid_grant"


class UnauthorizedClientError(OAuthError):
    """The client is not registered for this grant type."""

    error = "unauthorized_client"


class UnsupportedGrantTypeError(OAuthError):
    """The grant type is not one this server implements."""

    error = "unsupported_grant_type"


class InvalidScopeError(OAuthError):
    """The requested scope is malformed or exceeds what the client (or the original grant) allows."""

    error = "invalid_scope"


class InvalidTargetError(OAuthError):
    """The `resource` parameter names a resource this server does not issue tokens for (RFC 8707 §2)."""

    error = "invalid_target"
