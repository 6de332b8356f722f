"""Whether a site may serve MCP right now: a licence source, plus proof that the plugin is still upstream.

A source (`static`, `file`, `http`) says whether the site holds the module; when it does and a namespace is
required, `GET <index_url>?_fields=namespaces` (WordPress's REST index) must still list that namespace, or
the answer is `plugin_missing` (plugin removed or renamed). Answers are cached for `ttl_seconds`, and one
refresh per site runs at a time (a burst makes one upstream call). When a source cannot answer, the last
known answer holds for `grace_seconds` past its TTL (so it is never older than TTL + grace, even after a
quiet spell); after that, or with nothing known, the site is closed (`entitlement_unavailable`) and asked
again every `retry_seconds`. Fail closed throughout.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol
from urllib.parse import quote

import aiohttp
import structlog
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, field_validator
from yarl import URL

__all__ = [
    "Entitlement",
    "EntitlementChecker",
    "EntitlementReason",
    "EntitlementSettings",
    "FileEntitlement",
    "HttpEntitlement",
    "StaticEntitlement",
]

EntitlementReason = Literal[
    "ok", "not_entitled", "module_missing", "plugin_missing", "entitlement_unavailable"
]
_Answer = tuple[EntitlementReason, str]  # (reason, detail) from a source or the namespace probe

_log = structlog.get_logger(__name__)


class _Common(BaseModel):
    """Settings every source shares. Times are seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ttl_seconds: float = Field(default=60.0, gt=0)
    grace_seconds: float = Field(default=300.0, ge=0)
    retry_seconds: float = Field(default=5.0, gt=0)
    timeout_seconds: float = Field(default=5.0, gt=0)
    require_namespace: str | None = "mcp"

    @field_validator("require_namespace")
    @classmethod
    def _bare_namespace(cls, value: str | None) -> str | None:
        if value is not None and (not value or value.strip("/") != value):
            raise ValueError("a REST namespace like 'mcp' or 'sytewide-mcp/v1' (no leading or trailing '/')")
        return value


class StaticEntitlement(_Common):
    """Entitlement fixed in config."""

    source: Literal["static"] = "static"
    entitled: bool = True


class FileEntitlement(_Common):
    """A JSON (`.json`) or YAML file, re-read when it changes: a list of entitled site names, or a mapping
    `{site: [modules]}` in which the site must hold `module` (when set)."""

    source: Literal["file"] = "file"
    path: Path
    module: str | None = None


class HttpEntitlement(_Common):
    """A provisioning API: `GET url` (`{site}` replaced) answers `{"modules": [...]}`; 404 means the site
    is unknown (not entitled). `headers` carry the API token and are never logged."""

    source: Literal["http"] = "http"
    url: str
    module: str
    headers: dict[str, SecretStr] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _absolute_http(cls, value: str) -> str:
        url = URL(value.replace("{site}", "site"))
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("an absolute http(s) URL, optionally with a {site} placeholder")
        return value


EntitlementSettings = Annotated[
    StaticEntitlement | FileEntitlement | HttpEntitlement, Field(discriminator="source")
]


@dataclass(frozen=True, slots=True)
class Entitlement:
    """One answer. `checked_at` is the checker's clock when the answer was obtained; `stale` marks a last
    known answer held through a source outage (`detail` then says what failed)."""

    entitled: bool
    reason: EntitlementReason
    checked_at: float
    source: str
    detail: str = ""
    stale: bool = False


class _Unavailable(Exception):
    """A source or the namespace probe could not answer; the message says why (never a secret)."""


class _Source(Protocol):
    async def ask(self, site: str) -> _Answer: ...


async def _fetch_json(
    session: aiohttp.ClientSession, url: str | URL, *, headers: dict[str, str], seconds: float, what: str
) -> tuple[int, Any]:
    """GET without redirects (a token must not follow one); (status, JSON body or None unless 200)."""
    try:
        async with session.get(
            url, headers=headers, timeout=aiohttp.ClientTimeout(total=seconds), allow_redirects=False
        ) as response:
            if response.status != 200:
                return response.status, None
            return 200, await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise _Unavailable(f"{what} unreachable ({type(exc).__name__})") from None
    except ValueError:
        raise _Unavailable(f"{what} answered invalid JSON") from None


class _StaticSource:
    def __init__(self, settings: StaticEntitlement) -> None:
        self._entitled = settings.entitled

    async def ask(self, site: str) -> _Answer:
        return ("ok", "") if self._entitled else ("not_entitled", "switched off in config")


_Table = list[str] | dict[str, list[str]]
_TABLE: TypeAdapter[_Table] = TypeAdapter(_Table)


class _FileSource:
    def __init__(self, settings: FileEntitlement) -> None:
        self._path = settings.path
        self._module = settings.module
        self._cache: tuple[tuple[int, int, int], _Table] | None = None  # (mtime, size, inode), table

    async def ask(self, site: str) -> _Answer:
        table = await asyncio.to_thread(self._read)
        if isinstance(table, list):
            return ("ok", "") if site in table else ("not_entitled", "site not listed")
        modules = table.get(site)
        if modules is None:
            return "not_entitled", "site not listed"
        if self._module is not None and self._module not in modules:
            return "module_missing", f"module {self._module!r} not listed for the site"
        return "ok", ""

    def _read(self) -> _Table:
        try:
            stat = self._path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            if self._cache is not None and self._cache[0] == stamp:
                return self._cache[1]
            text = self._path.read_text(encoding="utf-8")
        except OSError as exc:
            raise _Unavailable(f"cannot read {self._path}: {exc.strerror or exc}") from None
        try:
            data = json.loads(text) if self._path.suffix.lower() == ".json" else yaml.safe_load(text)
            table = _TABLE.validate_python(data)
        except (ValueError, yaml.YAMLError):
            raise _Unavailable(
                f"{self._path} is not a list of sites or a mapping of site to modules"
            ) from None
        self._cache = (stamp, table)
        return table


class _HttpSource:
    def __init__(self, settings: HttpEntitlement, session: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._session = session

    async def ask(self, site: str) -> _Answer:
        settings = self._settings
        status, body = await _fetch_json(
            self._session,
            settings.url.replace("{site}", quote(site, safe="")),
            headers={name: value.get_secret_value() for name, value in settings.headers.items()},
            seconds=settings.timeout_seconds,
            what="provisioning API",
        )
        if status == 404:
            return "not_entitled", "the provisioning API does not know the site"
        if status != 200:
            raise _Unavailable(f"provisioning API answered HTTP {status}")
        modules = body.get("modules") if isinstance(body, dict) else None
        if not isinstance(modules, list) or not all(isinstance(module, str) for module in modules):
            raise _Unavailable("provisioning API answer has no 'modules' list of strings")
        if settings.module not in modules:
            return "module_missing", f"module {settings.module!r} is not active for the site"
        return "ok", ""


def _source_for(settings: EntitlementSettings, session: aiohttp.ClientSession) -> _Source:
    if isinstance(settings, StaticEntitlement):
        return _StaticSource(settings)
    if isinstance(settings, FileEntitlement):
        return _FileSource(settings)
    return _HttpSource(settings, session)


@dataclass(frozen=True, slots=True)
class _Slot:
    """What the checker knows about one site: the answer to serve until `fresh_until`."""

    current: Entitlement
    fresh_until: float
    known: Entitlement | None  # the last answer a source actually gave


class EntitlementChecker:
    """Caches entitlement per site and asks its source at most once at a time per site.

    `session` is the application's shared client session; `clock` (monotonic seconds) is injectable for tests.
    """

    def __init__(
        self,
        settings: EntitlementSettings,
        *,
        session: aiohttp.ClientSession,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._session = session
        self._clock = clock
        self._source = _source_for(settings, session)
        self._slots: dict[str, _Slot] = {}
        self._inflight: dict[str, asyncio.Task[Entitlement]] = {}

    async def check(
        self, site: str, *, index_url: str | None = None, index_host: str | None = None
    ) -> Entitlement:
        """The site's entitlement. `index_url` is its WordPress REST index (`https://host/wp-json/`),
        required when the settings name a namespace to look for; `index_host` the Host header to ask it
        with (a multisite or a shared web server picks the site by it), None for the URL's own."""
        if self._settings.require_namespace is not None and index_url is None:
            raise ValueError("index_url is required when require_namespace is set")
        answer = self._fresh(site)
        if answer is not None:
            return answer
        task = self._inflight.get(site)
        if task is None:
            task = asyncio.create_task(self._refresh(site, index_url, index_host), name=f"entitlement:{site}")
            self._inflight[site] = task
            task.add_done_callback(partial(self._finished, site))
        # shield: a caller that goes away must not cancel the refresh the others are waiting for
        return await asyncio.shield(task)

    def _fresh(self, site: str) -> Entitlement | None:
        """The site's answer while it is fresh; None: it must be asked again."""
        slot = self._slots.get(site)
        return slot.current if slot is not None and self._clock() < slot.fresh_until else None

    def _finished(self, site: str, task: asyncio.Task[Entitlement]) -> None:
        if self._inflight.get(site) is task:
            del self._inflight[site]
        if not task.cancelled():
            task.exception()  # retrieved here too, so a refresh whose callers all left logs no warning

    async def _refresh(self, site: str, index_url: str | None, index_host: str | None) -> Entitlement:
        settings = self._settings
        try:
            reason, detail = await self._source.ask(site)
            if reason == "ok" and settings.require_namespace is not None and index_url is not None:
                reason, detail = await self._probe(index_url, index_host, settings.require_namespace)
        except _Unavailable as exc:
            return self._unavailable(site, str(exc))
        now = self._clock()
        answer = Entitlement(reason == "ok", reason, now, settings.source, detail)
        self._slots[site] = _Slot(answer, now + settings.ttl_seconds, known=answer)
        return answer

    async def _probe(self, index_url: str, host: str | None, namespace: str) -> _Answer:
        status, body = await _fetch_json(
            self._session,
            URL(index_url).update_query(_fields="namespaces"),
            headers={"Host": host} if host is not None else {},
            seconds=self._settings.timeout_seconds,
            what="WordPress REST index",
        )
        if status != 200:
            raise _Unavailable(f"WordPress REST index answered HTTP {status}")
        namespaces = body.get("namespaces") if isinstance(body, dict) else None
        if not isinstance(namespaces, list):
            raise _Unavailable("WordPress REST index has no 'namespaces' list")
        if namespace not in namespaces:
            return "plugin_missing", f"namespace {namespace!r} is not registered upstream"
        return "ok", ""

    def _unavailable(self, site: str, detail: str) -> Entitlement:
        """Hold the last known answer through the grace period, then close."""
        settings = self._settings
        now = self._clock()
        slot = self._slots.get(site)
        known = slot.known if slot is not None else None
        grace_ends = (
            known.checked_at + settings.ttl_seconds + settings.grace_seconds if known is not None else now
        )
        holding = known is not None and now < grace_ends
        _log.warning(
            "entitlement_source_unavailable",
            site=site,
            source=settings.source,
            detail=detail,
            holding_last_answer=holding,
        )
        if known is not None and holding:
            current = replace(known, stale=True, detail=detail)
            fresh_until = min(now + settings.retry_seconds, grace_ends)
        else:
            current = Entitlement(False, "entitlement_unavailable", now, settings.source, detail)
            fresh_until = now + settings.retry_seconds
        self._slots[site] = _Slot(current, fresh_until, known=known)
        return current
