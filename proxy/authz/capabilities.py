"""What a WordPress user may do, asked of WordPress itself and cached briefly.

`GET <rest root>/wp/v2/users/me?context=edit` with the user's application password answers its roles and
capabilities. The REST root is the site's own upstream (`<upstream><path_prefix><rest_prefix>`), asked
with the site's Host header when the forwarder preserves it: a multisite or a name-based virtual host
answers per Host, and any other Host would reach another site (or none) and name another user.

Answers are cached per (site, login) for `ttl_seconds`, tied to a keyed hash of the password (a changed
password is a miss; the password itself is never kept in a key). Concurrent misses share one upstream
call.

Fails closed: when WordPress cannot answer (down, timeout, 5xx, a redirect, garbage) the call is
refused with 503 `capabilities_unavailable`; nothing stale is served. When WordPress rejects the
application password (401: revoked or changed), the cached answer is dropped and the call is refused
with 403 `upstream_credential_rejected`: the caller's own credential was fine, but this WordPress
identity is unusable until an operator or the user fixes it, so retrying (what a 503 invites) is
pointless and a 401 would wrongly blame the caller's credential. Both failures are remembered for
`failure_ttl_seconds` so a busy agent cannot hammer WordPress with a dead credential.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from proxy.caching import ExpiringMemo, cached
from proxy.errors import SidecarError

__all__ = ["USERS_ME_ROUTE", "CapabilityResolver"]

USERS_ME_ROUTE = "/wp/v2/users/me?context=edit"  # below the REST root
_MAX_BODY = 1024 * 1024  # a users/me answer is a few KB; more is not WordPress

_Key = tuple[str, str]  # (site, login)
_Failure = tuple[int, str, str]  # (status, code, message) of a remembered refusal


class CapabilityResolver:
    """Resolves and caches the capability set (capabilities with a true value, plus roles) of a user."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        ttl_seconds: float = 60,
        timeout_seconds: float = 5,
        maxsize: int = 10000,
        failure_ttl_seconds: float = 5,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._secret = os.urandom(32)  # per process: password digests mean nothing outside it
        self._answers: ExpiringMemo[_Key, tuple[bytes, frozenset[str]]] = ExpiringMemo(
            maxsize=maxsize, ttl=ttl_seconds, timer=timer
        )
        self._failures: ExpiringMemo[_Key, tuple[bytes, _Failure]] = ExpiringMemo(
            maxsize=maxsize, ttl=failure_ttl_seconds, timer=timer
        )
        self._flights: dict[tuple[str, str, bytes], asyncio.Task[frozenset[str]]] = {}
        self._digests: dict[str, bytes] = {}  # password -> keyed digest: one HMAC per password, not per call
        self._max_digests = maxsize

    async def resolve(
        self, site_key: str, rest_root: str, login: str, app_password: str, *, host: str | None = None
    ) -> frozenset[str]:
        """The user's capabilities and roles; SidecarError (503 or 403, see the module doc) otherwise.

        `rest_root` is the site's REST root upstream (`SiteRuntime.rest_index_url`); `host` the Host header
        to send (`SiteRuntime.upstream_host`), None for the URL's own."""
        known = self._known(site_key, login, app_password)
        if known is not None:
            return known
        key = (site_key, login)
        digest = self._digest(app_password)
        failure = cached(self._failures, key, None)
        if failure is not None and hmac.compare_digest(failure[0], digest):
            raise SidecarError(*failure[1])
        flight = (site_key, login, digest)
        task = self._flights.get(flight)
        if task is None:
            task = asyncio.create_task(self._fetch(key, digest, rest_root, host, login, app_password))
            self._flights[flight] = task
            task.add_done_callback(lambda done: self._landed(flight, done))
        try:
            # shield: one impatient caller giving up must not cancel the answer the others wait for
            return await asyncio.shield(task)
        except SidecarError as error:  # a fresh error per waiter: they must not share one traceback
            raise SidecarError(error.status, error.code, error.message) from None

    def _known(self, site_key: str, login: str, app_password: str) -> frozenset[str] | None:
        """The user's capabilities while remembered for this same password; None: not remembered."""
        try:
            digest, capabilities = self._answers[site_key, login]
        except KeyError:
            return None
        return capabilities if hmac.compare_digest(digest, self._digest(app_password)) else None

    def _digest(self, app_password: str) -> bytes:
        digest = self._digests.get(app_password)
        if digest is None:
            if len(self._digests) >= self._max_digests:  # passwords come from config: rarely reached
                self._digests.clear()
            digest = hmac.new(self._secret, app_password.encode(), hashlib.sha256).digest()
            self._digests[app_password] = digest
        return digest

    def invalidate(self, site_key: str, login: str) -> None:
        """Forget the user's answer, remembered failure and any call in flight (its answer is dropped)."""
        key = (site_key, login)
        self._answers.pop(key, None)
        self._failures.pop(key, None)
        for flight in [flight for flight in self._flights if flight[:2] == key]:
            del self._flights[flight]

    def _landed(self, flight: tuple[str, str, bytes], task: asyncio.Task[frozenset[str]]) -> None:
        if self._flights.get(flight) is task:
            del self._flights[flight]
        if not task.cancelled():
            task.exception()  # retrieved here: no "never retrieved" warning when every waiter left

    async def _fetch(
        self, key: _Key, digest: bytes, rest_root: str, host: str | None, login: str, app_password: str
    ) -> frozenset[str]:
        try:
            capabilities = await self._ask(rest_root, host, login, app_password)
        except SidecarError as error:
            if self._current(key, digest):
                self._answers.pop(key, None)
                self._failures[key] = (digest, (error.status, error.code, error.message))
            raise
        if self._current(key, digest):
            self._answers[key] = (digest, capabilities)
            self._failures.pop(key, None)
        return capabilities

    def _current(self, key: _Key, digest: bytes) -> bool:
        """False when invalidate() ran while this call was in flight: its answer may predate the change."""
        return self._flights.get((*key, digest)) is asyncio.current_task()

    async def _ask(self, rest_root: str, host: str | None, login: str, app_password: str) -> frozenset[str]:
        url = rest_root.rstrip("/") + USERS_ME_ROUTE
        try:
            async with self._session.get(
                url,
                timeout=self._timeout,
                allow_redirects=False,  # a redirect means a misconfigured base; never resend the password
                headers={
                    "Accept": "application/json",
                    "Authorization": aiohttp.encode_basic_auth(login, app_password),
                    **({"Host": host} if host is not None else {}),
                },
            ) as response:
                if response.status == 401:
                    raise SidecarError(
                        403,
                        "upstream_credential_rejected",
                        "WordPress rejected the application password of the mapped user (revoked or changed)",
                    )
                if response.status != 200:
                    raise _unavailable(f"WordPress answered HTTP {response.status}")
                body = bytearray()
                async for chunk in response.content.iter_any():
                    body += chunk
                    if len(body) > _MAX_BODY:
                        raise _unavailable("WordPress answered an oversized body")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _unavailable(f"WordPress could not be reached ({type(exc).__name__})") from None
        return _parse(body)


def _parse(body: bytes | bytearray) -> frozenset[str]:
    try:
        data: Any = json.loads(body)
    except ValueError:
        raise _unavailable("WordPress answered something that is not JSON") from None
    capabilities = data.get("capabilities") if isinstance(data, dict) else None
    roles = data.get("roles", []) if isinstance(data, dict) else None
    if not isinstance(capabilities, dict) or not isinstance(roles, list):
        raise _unavailable("WordPress answered without capabilities and roles")
    # allcaps values are true for granted capabilities; some plugins store 1 or "1" instead
    granted = {name for name, value in capabilities.items() if value in (True, "1")}
    return frozenset(granted | {role for role in roles if isinstance(role, str)})


def _unavailable(reason: str) -> SidecarError:
    return SidecarError(
        503, "capabilities_unavailable", f"cannot check the WordPress user's capabilities: {reason}"
    )
