"""WordPress's Application Passwords, as the authorization endpoint uses them.

The browser is sent to `/wp-admin/authorize-application.php`, where the user logs in to WordPress and
approves; WordPress then redirects to our `success_url` with `user_login` and a new `password`. Anyone
can call that URL with made-up values, so the password is checked with WordPress itself before it is
trusted: `introspect` answers only to a password that really is that user's, and tells which application
(`app_id`) it was created for. A password this sidecar no longer needs is deleted at WordPress.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp

__all__ = [
    "AUTHORIZE_APPLICATION_PATH",
    "AppPasswordInfo",
    "AppPasswordRejected",
    "ApplicationPasswords",
    "WordPressUnavailable",
    "app_id_for",
    "authorize_application_url",
]

AUTHORIZE_APPLICATION_PATH = "/wp-admin/authorize-application.php"
_ROUTE = "/wp/v2/users/me/application-passwords"
_MAX_BODY = 64 * 1024


class AppPasswordRejected(Exception):
    """WordPress refused the login and password (unknown, revoked, or not an application password)."""


class WordPressUnavailable(Exception):
    """WordPress could not be asked (down, timeout, 5xx, garbage)."""


@dataclass(frozen=True, slots=True)
class AppPasswordInfo:
    uuid: str
    app_id: str


def app_id_for(issuer: str, site: str, client_id: str) -> str:
    """The stable UUID WordPress files a client's passwords under (one app per client and site)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{issuer}#{site}/{client_id}"))


def authorize_application_url(
    site_base: str, *, app_name: str, app_id: str, success_url: str, reject_url: str
) -> str:
    """Where to send the browser so the user approves a new application password."""
    query = urlencode(
        {"app_name": app_name, "app_id": app_id, "success_url": success_url, "reject_url": reject_url}
    )
    return f"{site_base}{AUTHORIZE_APPLICATION_PATH}?{query}"


class ApplicationPasswords:
    """Calls to one site's `users/me/application-passwords` routes, authenticated by a password itself.

    `rest_base` is the site's REST root upstream (`http://wp.internal/wp-json`); `host` the Host header
    WordPress expects there (a multisite picks the site by it), None for the URL's own.
    """

    def __init__(
        self, session: aiohttp.ClientSession, *, rest_base: str, host: str | None, timeout_seconds: float
    ) -> None:
        self._session = session
        self._base = rest_base.rstrip("/") + _ROUTE
        self._host = {"Host": host} if host else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    async def introspect(self, login: str, password: str) -> AppPasswordInfo:
        """Which application password this is; AppPasswordRejected or WordPressUnavailable otherwise."""
        status, body = await self._call("GET", f"{self._base}/introspect", login, password)
        if status in (401, 403, 404):
            raise AppPasswordRejected(f"WordPress answered HTTP {status}")
        if status != 200:
            raise WordPressUnavailable(f"WordPress answered HTTP {status}")
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("uuid", "app_id")):
            raise WordPressUnavailable("WordPress answered without uuid and app_id")
        return AppPasswordInfo(uuid=body["uuid"], app_id=body["app_id"])

    async def revoke(self, login: str, password: str, app_password_uuid: str) -> bool:
        """Delete one of the user's application passwords (authenticated with another or the same one).

        True when WordPress deleted it; never raises: a password left behind is the user's to remove.
        """
        try:
            status, body = await self._call(
                "DELETE", f"{self._base}/{quote(app_password_uuid)}", login, password
            )
        except WordPressUnavailable:
            return False
        return status == 200 and isinstance(body, dict) and body.get("deleted") is True

    async def _call(self, method: str, url: str, login: str, password: str) -> tuple[int, Any]:
        try:
            async with self._session.request(
                method,
                url,
                timeout=self._timeout,
                allow_redirects=False,  # a redirect means a misconfigured base; never resend the password
                headers={
                    **self._host,
                    "Accept": "application/json",
                    "Authorization": aiohttp.encode_basic_auth(login, password),
                },
            ) as response:
                raw = await response.content.read(_MAX_BODY + 1)
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            raise WordPressUnavailable(f"WordPress could not be reached ({type(error).__name__})") from None
        if len(raw) > _MAX_BODY:
            raise WordPressUnavailable("WordPress answered an oversized body")
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None
