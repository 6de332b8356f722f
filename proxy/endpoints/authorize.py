"""The authorization endpoint, with WordPress itself as the login page (OAuth 2.1 code flow + PKCE).

    MCP client ─► GET /oauth/authorize ─► (checked, kept as a transaction) ─► 302 to WordPress's
    /wp-admin/authorize-application.php: the user logs in there and approves a new application password
    ─► WordPress 302s to GET /oauth/callback?txn=..&user_login=..&password=.. ─► the password is
    confirmed with WordPress, kept encrypted for (site, client, user), and a code bound to that user
    goes to the client's redirect URI with `state` and `iss` ─► POST /oauth/token as for any code.

The browser reaches WordPress through the sidecar (`public_url` of the site: WordPress pages pass
through), and WordPress only redirects to a `success_url` over https or to a loopback address (any
http URL only when its environment type is `local`), so the site's public URL must be https, or
http://127.0.0.1 / http://[::1] for a local set-up.

The callback URL carries the new password in its query (WordPress's design): it is never logged (the
access log has no query strings), and the answers carry `Referrer-Policy: no-referrer` and `no-store`.

These are the issuer's endpoints for every site. The `resource` parameter picks the site (absent: the
Host's): the user approves at that site's WordPress, the password is kept and confirmed for that site,
and the code is for its audience. The callback stays on the host that began the flow, where the
browser holds the binding cookie.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from proxy.context import RequestContext
from proxy.endpoints.targets import resource_targets, site_for_resource
from proxy.errors import SidecarError
from proxy.headers import REQUEST_ID
from proxy.identity.app_passwords import (
    ApplicationPasswords,
    AppPasswordRejected,
    WordPressUnavailable,
    app_id_for,
    authorize_application_url,
)
from proxy.identity.hashing import handle_hash
from proxy.identity.oauth.authorization import (
    AuthorizationError,
    AuthorizationRequest,
    read_authorization_request,
    redirect_with,
)
from proxy.identity.oauth.errors import OAuthError
from proxy.identity.oauth.resources import serves_site
from proxy.identity.oauth.transactions import AuthorizationTransactions, PendingAuthorization
from proxy.observe import get_logger
from proxy.pipeline.base import Stage
from proxy.runtime import SiteRuntime
from proxy.services import Services
from proxy.stores.base import StoreUnavailable
from proxy.stores.records import ClientRecord

__all__ = ["AUTHORIZE_PATH", "BINDING_COOKIE", "CALLBACK_PATH", "make_authorization_endpoint"]

AUTHORIZE_PATH = "/oauth/authorize"
CALLBACK_PATH = "/oauth/callback"
BINDING_COOKIE = "wpmcp_authz_"  # + an id of the transaction: flows side by side in one browser keep theirs
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache", "Referrer-Policy": "no-referrer"}
# What WordPress accepts as a login (sanitize_user keeps at most 60 of a few safe characters); a ':'
# would break HTTP Basic, control characters a header.
_LOGIN = re.compile(r"[^\x00-\x1f\x7f:]{1,60}")
_MAX_PASSWORD = 256

log = get_logger("proxy.authorize_endpoint")


def _binding_cookie(handle: str) -> str:
    return BINDING_COOKIE + handle_hash(handle)[:16]


def _app_name(client: ClientRecord, request: AuthorizationRequest) -> str:
    """What WordPress shows on its approval page: the client's name and where the approval goes."""
    return f"{client.name} (MCP, {urlsplit(request.redirect_uri).hostname})"


class _AuthorizationEndpoint:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._transactions = AuthorizationTransactions(services.store)

    async def stage(self, ctx: RequestContext) -> web.StreamResponse | None:
        if ctx.route != "oauth":
            return None
        site = ctx.site
        assert site is not None
        path = ctx.request.path[len(site.settings.path_prefix) :]
        if path not in (AUTHORIZE_PATH, CALLBACK_PATH):
            return None
        if ctx.request.method != "GET":
            raise SidecarError(405, "invalid_request", "this endpoint answers GET", headers={"Allow": "GET"})
        try:
            if path == AUTHORIZE_PATH:
                return await self._authorize(ctx, site)
            return await self._callback(ctx, site)
        except StoreUnavailable:
            raise SidecarError(
                503,
                "temporarily_unavailable",
                "the credential store cannot be reached; try again shortly",
                headers={"Retry-After": "5"},
            ) from None

    async def _authorize(self, ctx: RequestContext, site: SiteRuntime) -> web.StreamResponse:
        """`site` is the one the Host reached: the callback comes back there."""
        try:
            request, client = await read_authorization_request(
                ctx.request.query.items(),
                clients=self._services.identity.clients,
                targets=resource_targets(ctx.runtime, site),
            )
        except AuthorizationError as error:
            if error.redirect_uri is None:
                return _page(ctx, 400, error.error, error.description)
            return _redirect_error(ctx, error.redirect_uri, error.state, error.error, error.description)
        target = site_for_resource(ctx.runtime, request.resource)
        assert target is not None  # read_authorization_request resolved it on this Runtime
        handle, binding = await self._transactions.begin(request)
        callback = f"{site.public_base}{CALLBACK_PATH}?{urlencode({'txn': handle})}"
        location = authorize_application_url(
            target.public_base,
            app_name=_app_name(client, request),
            app_id=app_id_for(ctx.runtime.issuer, target.name, client.client_id),
            success_url=callback,
            reject_url=callback + "&success=false",
        )
        response = _redirect(ctx, location)
        response.set_cookie(
            _binding_cookie(handle),
            binding,
            path=site.settings.path_prefix + CALLBACK_PATH,
            max_age=int(self._transactions.ttl_seconds),
            httponly=True,
            secure=site.public_base.startswith("https:"),
            samesite="Lax",  # sent on WordPress's top-level redirect back to the callback
        )
        log.info(
            "authorization_started", request_id=ctx.request_id, site=target.name, client_id=client.client_id
        )
        return response

    async def _callback(self, ctx: RequestContext, site: SiteRuntime) -> web.StreamResponse:
        handle = ctx.request.query.get("txn", "")
        pending = await self._transactions.finish(handle)
        if pending is None:
            return _page(
                ctx,
                400,
                "invalid_request",
                "This authorization expired or was completed already. Start again from your MCP client.",
            )
        cookie = _binding_cookie(handle)
        response = await self._complete(ctx, pending, ctx.request.cookies.get(cookie))
        response.del_cookie(cookie, path=site.settings.path_prefix + CALLBACK_PATH)
        return response

    async def _complete(
        self, ctx: RequestContext, pending: PendingAuthorization, binding: str | None
    ) -> web.StreamResponse:
        """Check what WordPress sent back, then grant; every refusal goes to the client's redirect URI."""
        request = pending.request

        def refused(error: str, description: str) -> web.StreamResponse:
            return _redirect_error(ctx, request.redirect_uri, request.state, error, description)

        query = ctx.request.query
        if not pending.bound_to(binding):
            return refused("access_denied", "The approval reached another browser than the one that asked.")
        if query.get("success") == "false":
            return refused("access_denied", "The WordPress user did not approve the connection.")
        login, password = query.get("user_login", ""), query.get("password", "")
        if not _LOGIN.fullmatch(login) or not password or len(password) > _MAX_PASSWORD:
            return refused("access_denied", "WordPress did not send a usable application password.")
        site = site_for_resource(ctx.runtime, request.resource)
        if site is None:  # a reload removed the site (or moved its URL) while the user was away
            return refused("invalid_target", "This site is no longer served here.")
        client = await self._services.identity.clients.get(request.client_id)
        if client is None or not serves_site(client, site.name):
            return _page(ctx, 400, "invalid_client", "This client was removed during the authorization.")
        return await self._grant(ctx, site, client, request, login, password, refused)

    async def _grant(
        self,
        ctx: RequestContext,
        site: SiteRuntime,
        client: ClientRecord,
        request: AuthorizationRequest,
        login: str,
        password: str,
        refused: Callable[[str, str], web.StreamResponse],
    ) -> web.StreamResponse:
        """Confirm the new password with WordPress, keep it, and hand the client its code."""
        services = self._services
        assert services.http is not None, "Services.start() not called"
        passwords = ApplicationPasswords(
            services.http,
            rest_base=site.rest_index_url,
            host=site.upstream_host,
            timeout_seconds=ctx.runtime.config.capabilities.timeout_seconds,
        )
        try:
            created = await passwords.introspect(login, password)
        except AppPasswordRejected:
            return refused("access_denied", "WordPress did not confirm the application password.")
        except WordPressUnavailable:
            return refused("temporarily_unavailable", "WordPress could not confirm the approval.")
        if created.app_id != app_id_for(ctx.runtime.issuer, site.name, client.client_id):
            return refused("access_denied", "The application password was made for another application.")
        try:
            replaced = await services.credentials.remember(
                site=site.name, client_id=client.client_id, login=login, password=password, uuid=created.uuid
            )
            code = await services.identity.authorization_code.issue_code(
                client=client,
                wp_user=login,
                redirect_uri=request.redirect_uri,
                scopes=request.scopes,
                resource=request.resource,
                code_challenge=request.code_challenge,
                code_challenge_method="S256",
            )
        except OAuthError as error:
            return refused(error.error, error.description)
        except StoreUnavailable:
            await passwords.revoke(login, password, created.uuid)  # unusable: leave none behind
            return refused("temporarily_unavailable", "The sidecar could not keep the approval.")
        if replaced is not None and replaced.uuid is not None and replaced.uuid != created.uuid:
            # The client's earlier password for this user is not used any more: delete it at WordPress.
            revoked = await passwords.revoke(login, password, replaced.uuid)
            log.info("app_password_replaced", request_id=ctx.request_id, site=site.name, revoked=revoked)
        log.info(
            "authorization_granted",
            request_id=ctx.request_id,
            site=site.name,
            client_id=client.client_id,
            wp_user=login,
        )
        params = {"code": code, "state": request.state, "iss": ctx.runtime.issuer}
        return _redirect(ctx, redirect_with(request.redirect_uri, params))


def _redirect_error(
    ctx: RequestContext, redirect_uri: str, state: str | None, error: str, description: str
) -> web.Response:
    """An error response at the client's redirect URI (RFC 6749 §4.1.2.1, `iss` per RFC 9207)."""
    ctx.code = error
    log.info("authorization_refused", request_id=ctx.request_id, error=error, reason=description)
    params = {"error": error, "error_description": description, "state": state, "iss": ctx.runtime.issuer}
    return _redirect(ctx, redirect_with(redirect_uri, params))


def _redirect(ctx: RequestContext, location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location, **_NO_STORE, REQUEST_ID: ctx.request_id})


def _page(ctx: RequestContext, status: int, code: str, message: str) -> web.StreamResponse:
    """A refusal for the person at the browser (never a redirect): HTML for browsers, else RFC 6749 JSON."""
    if "text/html" not in ctx.request.headers.get("Accept", ""):
        raise SidecarError(status, code, message)
    ctx.code = code
    log.info("authorization_refused", request_id=ctx.request_id, error=code, reason=message)
    text = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="UTF-8"><title>Authorization failed</title>'
        f"</head><body><h1>Authorization failed</h1><p>{html.escape(message)}</p>"
        f"<p><small>{html.escape(code)}</small></p></body></html>\n"
    )
    return web.Response(
        status=status,
        text=text,
        content_type="text/html",
        headers={**_NO_STORE, REQUEST_ID: ctx.request_id},
    )


def make_authorization_endpoint(services: Services) -> Stage:
    # the bound method: CPython reaches an instance's __call__ through a slower, generic path
    return _AuthorizationEndpoint(services).stage
