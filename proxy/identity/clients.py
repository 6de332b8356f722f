"""The OAuth client registry: pre-registered clients of a site, their secrets kept as peppered hashes."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from proxy.identity.credentials import CredentialError
from proxy.identity.hashing import KeyedHasher, check_pepper
from proxy.identity.scopes import check_scopes
from proxy.identity.tokens import client_epoch
from proxy.stores.base import Store
from proxy.stores.records import ClientRecord

__all__ = ["GRANT_TYPES", "ClientService", "check_redirect_uri"]

GRANT_TYPES = ("client_credentials", "authorization_code", "refresh_token")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def check_redirect_uri(uri: str) -> str:
    """Return `uri` if it is an https URL, or http on a loopback host (RFC 8252), and has no fragment."""
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        host = None
    if (
        host is None
        or parts.fragment
        or "#" in uri
        or not (parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK_HOSTS))
    ):
        raise ValueError(f"redirect URI {uri!r} must be https (or http on localhost) and have no fragment")
    return uri


def _check_grant_types(
    grant_types: Iterable[str], *, public: bool, redirect_uris: tuple[str, ...]
) -> tuple[str, ...]:
    grants = tuple(dict.fromkeys(grant_types))
    if not grants or not set(grants) <= set(GRANT_TYPES):
        raise ValueError(f"grant_types must be a non-empty subset of {list(GRANT_TYPES)}; got {list(grants)}")
    if public and "client_credentials" in grants:
        raise ValueError("a public client has no secret, so it cannot use client_credentials")
    if "refresh_token" in grants and "authorization_code" not in grants:
        raise ValueError("refresh_token needs authorization_code: refresh tokens are only issued with codes")
    if "authorization_code" in grants and not redirect_uris:
        raise ValueError("authorization_code needs at least one redirect URI")
    return grants


class ClientService:
    def __init__(self, store: Store, *, pepper: bytes, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._hash = KeyedHasher(check_pepper(pepper)).hexdigest
        self._clock = clock
        # Compared against when the client is unknown or public, so every failure costs the same work.
        self._dummy_hash = self._hash(secrets.token_urlsafe(32))

    async def add(
        self,
        site: str,
        name: str,
        wp_user: str,
        scopes: Iterable[str],
        *,
        redirect_uris: Iterable[str] = (),
        grant_types: Iterable[str] = ("client_credentials",),
        public: bool = False,
    ) -> tuple[ClientRecord, str | None]:
        """Register a client; returns it with its raw secret (shown once), None for a public client.

        `wp_user` is whom a client_credentials client acts as; authorization-code clients act for the
        WordPress user who signs in, so theirs may be empty (dynamically registered clients)."""
        uris = tuple(check_redirect_uri(uri) for uri in dict.fromkeys(redirect_uris))
        grants = _check_grant_types(grant_types, public=public, redirect_uris=uris)
        if not site or (not wp_user and "client_credentials" in grants):
            raise ValueError("an OAuth client needs a site, and a WordPress user for client_credentials")
        secret = None if public else secrets.token_urlsafe(32)
        record = ClientRecord(
            client_id="mcpc_" + secrets.token_urlsafe(16),
            site=site,
            name=name,
            wp_user=wp_user,
            scopes=check_scopes(scopes),
            secret_hash=None if secret is None else self._hash(secret),
            redirect_uris=uris,
            grant_types=grants,
            created_at=self._clock(),
        )
        await self._store.add_client(record)
        return record, secret

    async def authenticate(self, client_id: str, secret: str | None) -> ClientRecord:
        """The client if `secret` is right for it (None for a public client); CredentialError otherwise.

        The secret is hashed and compared in constant time even for an unknown client.
        """
        record = await self._store.get_client(client_id)
        expected = record.secret_hash if record is not None and record.secret_hash else self._dummy_hash
        matches = hmac.compare_digest(self._hash(secret or ""), expected)
        if record is None:
            raise CredentialError("unknown_client")
        if record.secret_hash is None:
            if secret is not None:
                raise CredentialError("public_client_sent_secret")
            return record
        if secret is None:
            raise CredentialError("secret_required")
        if not matches:
            raise CredentialError("bad_secret")
        return record

    async def get(self, client_id: str) -> ClientRecord | None:
        return await self._store.get_client(client_id)

    async def list(self, site: str) -> list[ClientRecord]:
        return await self._store.list_clients(site)

    async def remove(self, client_id: str) -> bool:
        """Delete a client and kill its tokens (on every replica within the token revocation cache time).

        The epoch is bumped first, so a failure in between leaves the tokens dead rather than alive.
        """
        if await self._store.get_client(client_id) is None:
            return False
        await self._store.bump_epoch(client_epoch(client_id))
        return await self._store.remove_client(client_id)
