"""Config compiled into the objects requests use. A reload builds a new Runtime and swaps it in one
assignment: a request keeps the Runtime it started with, so in-flight requests finish under the old
policy while new ones see the new one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from proxy.config import Config, SiteSettings

__all__ = ["Runtime", "RuntimeHolder", "SiteRuntime"]


@dataclass(frozen=True, slots=True)
class SiteRuntime:
    """One site, ready for requests."""

    name: str
    settings: SiteSettings

    @property
    def upstream_url(self) -> str:
        return self.settings.upstream.url

    def public_base(self, host: str, scheme: str) -> str:
        """The URL agents use to reach this site through the sidecar."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        return f"{scheme}://{host}{self.settings.path_prefix}"


@dataclass(frozen=True, slots=True)
class Runtime:
    """Everything derived from one version of the config."""

    config: Config
    config_path: Path | None
    sites: tuple[SiteRuntime, ...]
    _by_host: dict[str, tuple[SiteRuntime, ...]]

    @classmethod
    def compile(cls, config: Config, *, config_path: Path | None = None) -> Runtime:
        sites = tuple(SiteRuntime(name, settings) for name, settings in config.sites.items())
        by_host: dict[str, list[SiteRuntime]] = {}
        for site in sites:
            for host in site.settings.hosts:
                by_host.setdefault(host, []).append(site)
        # the longest path prefix wins, so /blog is tried before the root site
        ordered = {
            host: tuple(sorted(group, key=lambda s: len(s.settings.path_prefix), reverse=True))
            for host, group in by_host.items()
        }
        return cls(config, config_path, sites, ordered)

    def site_for(self, host: str, path: str) -> SiteRuntime | None:
        """The site for a Host header (port ignored) and path; None for an unknown host: never a default."""
        for site in self._by_host.get(_host_name(host), ()):
            prefix = site.settings.path_prefix
            if not prefix or path == prefix or path.startswith(prefix + "/"):
                return site
        return None

    @property
    def base_dir(self) -> Path:
        return self.config_path.parent if self.config_path else Path.cwd()


def _host_name(host: str) -> str:
    """'Example.COM:8080' -> 'example.com'; '[::1]:8080' -> '::1'."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    name, _, port = host.rpartition(":")
    if name and port.isdigit():
        return name
    return host.rstrip(".")


class RuntimeHolder:
    """The current Runtime; replaced whole on reload."""

    def __init__(self, runtime: Runtime) -> None:
        self.current = runtime
