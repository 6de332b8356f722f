"""The authorization request (RFC 6749 §4.1.1, PKCE S256 per RFC 7636, `resource` per RFC 8707).

Read and checked in full before the user is sent anywhere. The order matters (§4.1.2.1): until the
client and its redirect URI are known to be good, a refusal is shown to the user and never redirected,
or the endpoint would be an open redirector. From then on, refusals go back to that redirect URI with
`error`, `state` and `iss` (RFC 9207), which the client can act on.

`resource` picks the site the user approves the client for (proxy.identity.oauth.resources): the
approval happens at that site's WordPress, and the code is for that site's audience.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from proxy.identity.clients import ClientService
from proxy.identity.oauth.errors import InvalidScopeError
from proxy.identity.oauth.grants.base import narrow_scope
from proxy.identity.oauth.resources import ResourceTargets, serves_site
from proxy.stores.records import ClientRecord

__all__ = ["AuthorizationError", "AuthorizationRequest", "read_authorization_request", "redirect_with"]

MAX_PARAMETER = 2048
# RFC 7636 §4.2: an S256 challenge is base64url(SHA-256) without padding, exactly 43 characters.
_S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A valid request, waiting for the WordPress user's approval."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    resource: str
    code_challenge: str
    state: str | None

    def to_data(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scopes": list(self.scopes),
            "resource": self.resource,
            "code_challenge": self.code_challenge,
            "state": self.state,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> AuthorizationRequest:
        return cls(
            client_id=data["client_id"],
            redirect_uri=data["redirect_uri"],
            scopes=tuple(data["scopes"]),
            resource=data["resource"],
            code_challenge=data["code_challenge"],
            state=data["state"],
        )


class AuthorizationError(Exception):
    """A refused authorization request, with an RFC 6749 §4.1.2.1 error code.

    `redirect_uri` None: the client or its redirect URI is not to be trusted; tell the user, never
    redirect. Descriptions are fixed sentences, never request data.
    """

    def __init__(
        self, error: str, description: str, *, redirect_uri: str | None = None, state: str | None = None
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.redirect_uri = redirect_uri
        self.state = state


def redirect_with(uri: str, params: Mapping[str, str | None]) -> str:
    """`uri` with `params` added to its query, which is kept as registered (§3.1.2); None values left out."""
    parts = urlsplit(uri)
    extra = urlencode({name: value for name, value in params.items() if value is not None})
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


async def read_authorization_request(
    pairs: Iterable[tuple[str, str]], *, clients: ClientService, targets: ResourceTargets
) -> tuple[AuthorizationRequest, ClientRecord]:
    """The request and its client; AuthorizationError otherwise. The request's `resource` is the
    audience of one of `targets` (their default when the client named none)."""
    params: dict[str, str] = {}
    repeated: set[str] = set()
    for name, value in pairs:
        if value:  # empty parameters count as absent (§3.1)
            if name in params:
                repeated.add(name)
            params[name] = value
    if repeated & {"client_id", "redirect_uri"}:
        raise AuthorizationError("invalid_request", "The client_id and redirect_uri must be sent once.")
    client_id = params.get("client_id")
    client = await clients.get(client_id) if client_id and len(client_id) <= MAX_PARAMETER else None
    if client is None:
        raise AuthorizationError("invalid_client", "This client is not registered here.")
    redirect_uri = params.get("redirect_uri")
    if redirect_uri is None or redirect_uri not in client.redirect_uris:
        raise AuthorizationError(
            "invalid_redirect_uri", "The redirect_uri is missing or not registered for this client."
        )
    state = params.get("state")
    if state is not None and len(state) > MAX_PARAMETER:
        state = None

    def refused(error: str, description: str) -> AuthorizationError:
        return AuthorizationError(error, description, redirect_uri=redirect_uri, state=state)

    if repeated:
        raise refused("invalid_request", "A parameter was sent more than once.")
    if any(len(value) > MAX_PARAMETER for value in params.values()):
        raise refused("invalid_request", "A parameter is too long.")
    if params.get("response_type") != "code":
        raise refused("unsupported_response_type", "Only response_type=code is supported.")
    if "authorization_code" not in client.grant_types:
        raise refused("unauthorized_client", "This client may not use the authorization code grant.")
    challenge = params.get("code_challenge", "")
    if params.get("code_challenge_method") != "S256" or not _S256_CHALLENGE.fullmatch(challenge):
        raise refused("invalid_request", "PKCE is required: send an S256 code_challenge.")
    target = targets.resolve(params.get("resource"))
    if target is None:
        raise refused("invalid_target", "The resource parameter does not name this server.")
    site, resource = target
    if not serves_site(client, site):
        raise refused("invalid_target", "This client may not be used for this resource.")
    try:
        scopes = narrow_scope(params.get("scope"), client.scopes)
    except InvalidScopeError as error:
        raise refused("invalid_scope", error.description) from None
    request = AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scopes=scopes,
        resource=resource,
        code_challenge=challenge,
        state=state,
    )
    return request, client
