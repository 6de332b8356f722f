"""A browser without JavaScript: keeps cookies, follows redirects one by one, and fills WordPress's
login and Application Password approval forms as a person would (upstream.md drove a real site so)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import aiohttp

from proxy.demo import DEMO_LOGIN_PASSWORDS

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: dict[str, str] = field(default_factory=dict)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, Form] = {}
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._current = self.forms[attributes.get("id", "")] = Form(attributes.get("action", ""))
        elif self._current is not None and "name" in attributes:
            kind = attributes.get("type", "text")
            if tag == "button" or kind == "submit":
                self._current.buttons[attributes["name"]] = attributes.get("value", "")
            elif kind != "checkbox":
                self._current.fields[attributes["name"]] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


@dataclass
class Page:
    """Where the browser stopped: an answer that is not a redirect."""

    status: int
    url: str
    text: str

    def forms(self) -> dict[str, Form]:
        parser = _Forms()
        parser.feed(self.text)
        return parser.forms


@dataclass
class Browser:
    """`http` must keep cookies for IP hosts: `aiohttp.CookieJar(unsafe=True)`."""

    http: aiohttp.ClientSession
    visited: list[str] = field(default_factory=list)

    async def go(self, url: str, *, stop_at: str | None = None) -> Page | str:
        """GET `url` and follow redirects; one to a URL starting with `stop_at` is returned, not followed."""
        return await self._request("GET", url, None, stop_at)

    async def submit(
        self, page: Page, form_id: str, *, button: str, stop_at: str | None = None, **values: str
    ) -> Page | str:
        form = page.forms()[form_id]
        data = {**form.fields, **values, button: form.buttons[button]}
        return await self._request("POST", urljoin(page.url, form.action), data, stop_at)

    async def approve(
        self,
        authorize_url: str,
        *,
        login: str,
        stop_at: str,
        approve: bool = True,
        password: str | None = None,
    ) -> Page | str:
        """The whole consent: open the URL, log in to WordPress if asked, approve (or reject) the app."""
        landed = await self.go(authorize_url, stop_at=stop_at)
        if isinstance(landed, Page) and "loginform" in landed.forms():
            secret = DEMO_LOGIN_PASSWORDS[login] if password is None else password
            landed = await self.submit(
                landed, "loginform", button="wp-submit", stop_at=stop_at, log=login, pwd=secret
            )
        if isinstance(landed, Page) and "approve-app" in landed.forms():
            button = "approve" if approve else "reject"
            landed = await self.submit(landed, "approve-app", button=button, stop_at=stop_at)
        return landed

    async def _request(
        self, method: str, url: str, data: dict[str, str] | None, stop_at: str | None
    ) -> Page | str:
        while True:
            self.visited.append(url)
            async with self.http.request(method, url, data=data, allow_redirects=False) as response:
                text = await response.text()
                if response.status not in _REDIRECTS:
                    return Page(response.status, url, text)
                location = urljoin(url, response.headers["Location"])
            if stop_at is not None and location.startswith(stop_at):
                return location
            method, url, data = "GET", location, None
