"""`keys`, `clients` and `tokens`: issue and revoke credentials against the configured store.

The raw API key and client secret are printed exactly once, at creation; the store keeps only their
keyed hashes.

Removing a client or revoking all tokens also forgets the application passwords WordPress users granted
through /oauth/authorize, and deletes each at its WordPress where it answers (best effort: the output
lists those WordPress did not confirm deleting, unreachable or deleted there already, as `user@site`
for the user or an administrator to check in WordPress).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

import aiohttp

from proxy.admin.context import AdminContext, CliError
from proxy.admin.output import emit, when
from proxy.identity.app_passwords import ApplicationPasswords
from proxy.identity.credentials import CredentialError
from proxy.identity.lifetimes import check_ttl_hours
from proxy.identity.oauth.errors import OAuthError
from proxy.identity.oauth.grants.base import narrow_scope
from proxy.identity.oauth.resources import serves_site
from proxy.identity.tokens import GRANT_CLAIM, WP_USER_CLAIM
from proxy.identity.upstream_credentials import UpstreamCredentials
from proxy.runtime import SiteRuntime
from proxy.stores.records import ApiKeyRecord, ClientRecord

__all__ = ["register"]


def _scopes(ctx: AdminContext, text: str | None) -> list[str]:
    """The scopes asked for (space- or comma-separated), each known to the rules; default: all of them."""
    known = set(ctx.runtime.rules.scopes)
    if text is None:
        return sorted(known)
    asked = [scope for scope in text.replace(",", " ").split() if scope]
    if not asked:
        raise CliError(f"--scopes names no scope; the rules define: {', '.join(sorted(known))}")
    unknown = sorted(set(asked) - known)
    if unknown:
        raise CliError(f"unknown scope(s) {', '.join(unknown)}; the rules define: {', '.join(sorted(known))}")
    return asked


def _ttl(value: int | None, default: int) -> int:
    """The lifetime asked for (or the configured default), checked before anything is written."""
    try:
        return check_ttl_hours(default if value is None else value, what="--ttl-hours")
    except ValueError as error:
        raise CliError(str(error)) from None


def _user(ctx: AdminContext, site_name: str, login: str) -> str:
    site = ctx.site(site_name)
    if login not in site.settings.users:
        listed = ", ".join(sorted(site.settings.users)) or "(none)"
        raise CliError(f"WordPress user {login!r} is not configured for site {site.name} (users: {listed})")
    return login


def _key_row(record: ApiKeyRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "label": record.label,
        "site": record.site,
        "user": record.wp_user,
        "scopes": list(record.scopes),
        "profile": record.profile,
        "created": when(record.created_at),
        "expires": when(record.expires_at),
        "last_used": when(record.last_used_at),
        "revoked": when(record.revoked_at),
    }


def _client_row(record: ClientRecord) -> dict[str, Any]:
    return {
        "client_id": record.client_id,
        "name": record.name,
        "site": record.site,
        "user": record.wp_user,
        "scopes": list(record.scopes),
        "grant_types": list(record.grant_types),
        "public": record.secret_hash is None,
        "created": when(record.created_at),
    }


async def _forget_app_passwords(
    ctx: AdminContext, sites: Iterable[SiteRuntime], client_id: str | None = None
) -> dict[str, Any]:
    """Forget the passwords granted on `sites` (to one client, when given) and delete them at WordPress."""
    credentials = UpstreamCredentials.for_config(ctx.store, ctx.runtime.config)
    forgotten, revoked, not_revoked = 0, 0, []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        for site in sites:
            wordpress = ApplicationPasswords(
                http,
                rest_base=site.rest_index_url,
                host=site.upstream_host,
                timeout_seconds=ctx.runtime.config.capabilities.timeout_seconds,
            )
            for granted_to, login in await credentials.granted(site.name, client_id):
                stored = await credentials.forget(site.name, granted_to, login)
                if stored is None:
                    continue
                forgotten += 1
                # Authenticated with the password itself: it deletes itself.
                if stored.uuid is not None and await wordpress.revoke(login, stored.password, stored.uuid):
                    revoked += 1
                else:
                    not_revoked.append(f"{login}@{site.name}")
    return {
        "app_passwords_forgotten": forgotten,
        "app_passwords_revoked": revoked,
        "app_passwords_not_revoked": not_revoked,
    }


async def keys_issue(ctx: AdminContext, args: argparse.Namespace) -> int:
    site = ctx.site(args.site)
    if args.profile is not None and args.profile not in ctx.runtime.rules.toolsets:
        raise CliError(
            f"unknown profile {args.profile!r}; toolsets: {', '.join(sorted(ctx.runtime.rules.toolsets))}"
        )
    issued = await ctx.identity.keys.issue(
        site.name,
        _user(ctx, site.name, args.user),
        label=args.label or f"{args.user} key",
        scopes=_scopes(ctx, args.scopes),
        profile=args.profile,
        ttl_hours=_ttl(args.ttl_hours, ctx.runtime.config.identity.api_key_default_ttl_hours),
    )
    emit({**_key_row(issued.record), "key": issued.raw}, fmt=args.format)
    return 0


async def keys_list(ctx: AdminContext, args: argparse.Namespace) -> int:
    emit(
        [_key_row(record) for record in await ctx.identity.keys.list(ctx.site(args.site).name)],
        fmt=args.format,
    )
    return 0


async def keys_revoke(ctx: AdminContext, args: argparse.Namespace) -> int:
    revoked = await ctx.identity.keys.revoke(args.id)
    if not revoked:
        raise CliError(f"no live key with id {args.id!r}")
    emit({"id": args.id, "revoked": True}, fmt=args.format)
    return 0


async def keys_revoke_all(ctx: AdminContext, args: argparse.Namespace) -> int:
    site = ctx.site(args.site)
    emit({"site": site.name, "revoked": await ctx.identity.keys.revoke_all(site.name)}, fmt=args.format)
    return 0


async def clients_add(ctx: AdminContext, args: argparse.Namespace) -> int:
    site = ctx.site(args.site)
    grant_types = ["client_credentials"] if not args.redirect_uri else ["authorization_code", "refresh_token"]
    try:
        record, secret = await ctx.identity.clients.add(
            site.name,
            args.name,
            _user(ctx, site.name, args.user),
            _scopes(ctx, args.scopes),
            redirect_uris=args.redirect_uri,
            grant_types=grant_types,
            public=args.public,
        )
    except ValueError as error:  # a redirect URI or grant combination the registry refuses
        raise CliError(str(error)) from None
    emit({**_client_row(record), "client_secret": secret}, fmt=args.format)
    return 0


async def clients_list(ctx: AdminContext, args: argparse.Namespace) -> int:
    emit(
        [_client_row(record) for record in await ctx.identity.clients.list(ctx.site(args.site).name)],
        fmt=args.format,
    )
    return 0


async def clients_remove(ctx: AdminContext, args: argparse.Namespace) -> int:
    if not await ctx.identity.clients.remove(args.client_id):
        raise CliError(f"no client with id {args.client_id!r}")
    # A public client may have been authorized on any site.
    passwords = await _forget_app_passwords(ctx, ctx.runtime.sites, args.client_id)
    emit({"client_id": args.client_id, "removed": True, **passwords}, fmt=args.format)
    return 0


async def tokens_issue(ctx: AdminContext, args: argparse.Namespace) -> int:
    """A client_credentials token minted by the operator (server-to-server set-up)."""
    site = ctx.site(args.site)
    client = await ctx.identity.clients.get(args.client_id)
    if client is None or client.site != site.name:
        raise CliError(f"no client {args.client_id!r} on site {site.name}")
    if "client_credentials" not in client.grant_types:
        raise CliError(f"client {args.client_id!r} is not registered for client_credentials")
    ttl = _ttl(args.ttl_hours, ctx.runtime.config.identity.access_token_ttl_hours)
    if args.client_secret is not None:
        try:
            await ctx.identity.clients.authenticate(args.client_id, args.client_secret)
        except CredentialError:
            raise CliError("the client secret does not match") from None
    try:
        scopes = narrow_scope(args.scopes, client.scopes)
    except OAuthError as error:
        raise CliError(error.description) from None
    minted = await ctx.identity.tokens.mint(
        site=site.name,
        audience=site.resource,
        subject=client.client_id,
        client_id=client.client_id,
        scopes=scopes,
        ttl_hours=ttl,
        extra_claims={WP_USER_CLAIM: client.wp_user, GRANT_CLAIM: "client_credentials"},
    )
    emit(
        {
            "access_token": minted.token,
            "token_type": "Bearer",
            "expires_in": minted.expires_in,
            "scope": " ".join(scopes),
            "audience": site.resource,
            "jti": minted.claims["jti"],
        },
        fmt=args.format,
    )
    return 0


async def tokens_revoke(ctx: AdminContext, args: argparse.Namespace) -> int:
    """Deny one access token by its `jti` (printed by `tokens issue`), on every replica within the
    token revocation cache time."""
    await ctx.identity.tokens.revoke(args.jti, None)
    emit({"jti": args.jti, "revoked": True}, fmt=args.format)
    return 0


async def tokens_revoke_all(ctx: AdminContext, args: argparse.Namespace) -> int:
    """Every token (refresh tokens too) and granted password of a site; with --client-id, of that
    client only, wherever it was used (a public client may serve several sites)."""
    site = ctx.site(args.site)
    if args.client_id is None:
        await ctx.identity.tokens.revoke_all(site=site.name)
        passwords = await _forget_app_passwords(ctx, [site])
    else:
        client = await ctx.identity.clients.get(args.client_id)
        if client is None or not serves_site(client, site.name):
            raise CliError(f"no client {args.client_id!r} on site {site.name}")
        await ctx.identity.tokens.revoke_all(client_id=client.client_id)
        passwords = await _forget_app_passwords(ctx, ctx.runtime.sites, client.client_id)
    emit({"site": site.name, "client_id": args.client_id, "revoked": "all", **passwords}, fmt=args.format)
    return 0


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the `keys`, `clients` and `tokens` command groups."""
    keys = commands.add_parser("keys", help="API keys (X-API-Key)").add_subparsers(
        dest="action", required=True
    )
    issue = keys.add_parser("issue", parents=[common], help="issue a key (shown once)")
    issue.add_argument("--site", required=True, help="site name or any of its host names")
    issue.add_argument("--user", required=True, help="the WordPress login the key acts as")
    issue.add_argument("--label")
    issue.add_argument("--scopes", help='space-separated, e.g. "mcp.read content.read" (default: all)')
    issue.add_argument("--profile", help="toolset profile the key is limited to (default: none)")
    issue.add_argument("--ttl-hours", type=int, help="1-168, or 0 for never (default from config)")
    issue.set_defaults(run=keys_issue)
    listing = keys.add_parser("list", parents=[common], help="list a site's keys (never the keys themselves)")
    listing.add_argument("--site", required=True)
    listing.set_defaults(run=keys_list)
    revoke = keys.add_parser("revoke", parents=[common], help="revoke one key by id")
    revoke.add_argument("id")
    revoke.set_defaults(run=keys_revoke)
    revoke_all = keys.add_parser("revoke-all", parents=[common], help="revoke every key of a site")
    revoke_all.add_argument("--site", required=True)
    revoke_all.set_defaults(run=keys_revoke_all)

    clients = commands.add_parser("clients", help="OAuth clients").add_subparsers(
        dest="action", required=True
    )
    add = clients.add_parser("add", parents=[common], help="register a client (secret shown once)")
    add.add_argument("--site", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--user", required=True, help="the WordPress login the client acts as")
    add.add_argument("--scopes", help="allowed scopes (default: all)")
    add.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        help="for authorization-code clients (repeatable); none: a client_credentials client",
    )
    add.add_argument("--public", action="store_true", help="no secret (PKCE-only authorization-code client)")
    add.set_defaults(run=clients_add)
    clients_listing = clients.add_parser("list", parents=[common])
    clients_listing.add_argument("--site", required=True)
    clients_listing.set_defaults(run=clients_list)
    remove = clients.add_parser(
        "remove", parents=[common], help="remove a client, kill its tokens and forget its granted passwords"
    )
    remove.add_argument("client_id")
    remove.set_defaults(run=clients_remove)

    tokens = commands.add_parser("tokens", help="access tokens").add_subparsers(dest="action", required=True)
    mint = tokens.add_parser("issue", parents=[common], help="mint a client_credentials token")
    mint.add_argument("--site", required=True)
    mint.add_argument("--client-id", required=True)
    mint.add_argument("--client-secret", help="checked when given")
    mint.add_argument("--scopes", help="a subset of the client's scopes (default: all of them)")
    mint.add_argument("--ttl-hours", type=int)
    mint.set_defaults(run=tokens_issue)
    deny = tokens.add_parser("revoke", parents=[common], help="revoke one token by its jti")
    deny.add_argument("jti")
    deny.set_defaults(run=tokens_revoke)
    kill = tokens.add_parser(
        "revoke-all",
        parents=[common],
        help="kill every token of a site (or of one client) and forget the passwords granted to them",
    )
    kill.add_argument("--site", required=True)
    kill.add_argument("--client-id")
    kill.set_defaults(run=tokens_revoke_all)
