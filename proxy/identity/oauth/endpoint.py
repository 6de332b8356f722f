"""The token endpoint (RFC 6749 §3.2): authenticate the client, pick its grant and site, answer in JSON.

One endpoint serves every site of the issuer: the `resource` parameter picks the site and the audience
(proxy.identity.oauth.resources). Framework-free: the web layer passes the parameters (use
`form_params` for a form body, so repeated parameters are refused) and the Authorization header, and
writes back what `handle` returns.
Refusals are logged with their internal reason; the client sees only the RFC error code and a fixed
sentence. A store failure is not caught here: it propagates to the runner, which answers 503.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import structlog

from proxy.identity.clients import ClientService
from proxy.identity.credentials import CredentialError
from proxy.identity.oauth.errors import (
    InvalidClientError,
    InvalidTargetError,
    OAuthError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)
from proxy.identity.oauth.grants.base import Grant
from proxy.identity.oauth.request import TokenRequest, parse_token_request
from proxy.identity.oauth.resources import ResourceTargets, serves_site
from proxy.stores.records import ClientRecord

__all__ = ["NO_STORE", "TokenEndpoint", "TokenResponse"]

# RFC 6749 §5.1: token responses (and their errors) must never be cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

_CLIENT_FAILED = "Client authentication failed."
_log = structlog.get_logger(__name__)


class TokenResponse(NamedTuple):
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


class TokenEndpoint:
    def __init__(self, clients: ClientService, grants: Iterable[Grant]) -> None:
        self._clients = clients
        self._grants = {grant.grant_type: grant for grant in grants}

    @property
    def grant_types(self) -> tuple[str, ...]:
        """The grant types served, for the authorization server metadata document."""
        return tuple(self._grants)

    async def handle(
        self, params: Mapping[str, Any], authorization: str | None, *, targets: ResourceTargets
    ) -> TokenResponse:
        """Answer one token request; `targets` are the sites the tokens may be for. The Basic realm of a
        401 names the site the request reached (`targets.default`)."""
        realm = site = targets.default_site  # `site` (for the log) becomes the target once known
        try:
            request = parse_token_request(params, authorization, realm=realm)
            grant = self._grants.get(request.grant_type)
            if grant is None:
                raise UnsupportedGrantTypeError("This grant type is not supported.")
            client = await self._client(request, realm)
            if grant.grant_type not in client.grant_types:
                raise UnauthorizedClientError("This client may not use this grant type.")
            target = targets.resolve(request.param("resource"))
            if target is None:
                raise InvalidTargetError("The resource parameter does not name this server.")
            site, audience = target
            if not serves_site(client, site):
                raise InvalidTargetError(
                    "This client may not get tokens for this resource.", reason="other_site"
                )
            body = await grant.respond(request, client, site=site, audience=audience)
        except OAuthError as error:
            _log.info("token_request_refused", site=site, error=error.error, reason=error.reason)
            return TokenResponse(error.status, {**NO_STORE, **error.headers}, error.body())
        return TokenResponse(200, dict(NO_STORE), body)

    async def _client(self, request: TokenRequest, realm: str) -> ClientRecord:
        basic_realm = None if request.auth_method == "client_secret_post" else realm
        try:
            return await self._clients.authenticate(request.client_id, request.client_secret)
        except CredentialError as error:
            raise InvalidClientError(_CLIENT_FAILED, basic_realm=basic_realm, reason=error.reason) from None
