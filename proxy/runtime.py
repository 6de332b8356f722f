"""Config compiled into the objects requests use. A reload builds a new Runtime and swaps it in one
assignment: a request keeps the Runtime it started with, so in-flight requests finish under the old
policy while new ones see the new one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proxy.authz.decision import Authorizer
from proxy.caching import Memo
from proxy.config import Config, RateLimitSettings, SiteSettings, load_config
from proxy.discovery.oauth_metadata import prm_url, resource_url
from proxy.policy.allowlist import Allowlist
from proxy.policy.paths import TargetNormalizer
from proxy.rules import Rules, load_rules
from proxy.validation import ConfigError

__all__ = ["ReloadResult", "Runtime", "RuntimeHolder", "SiteRuntime", "load_runtime", "restart_required"]

ROUTE_CACHE_SIZE = 4096
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True, slots=True)
class SiteRuntime:
    """One site, ready for requests."""

    name: str
    settings: SiteSettings
    public_base: str  # http(s)://host[:port][/prefix] agents use to reach the site through the sidecar
    resource: str  # the canonical MCP resource URL: the audience of this site's tokens
    resource_metadata: str  # the RFC 9728 metadata URL named in WWW-Authenticate challenges
    normalizer: TargetNormalizer
    allowlist: Allowlist
    toolsets: frozenset[str]  # toolsets the config enables here (runtime switches may turn some off)
    discovery_routes: frozenset[str]  # REST routes serving the manifest where /.well-known cannot
    allowed_origins: frozenset[str]  # lower-case, no trailing slash
    rate_limits: RateLimitSettings  # the site's own, else the config's (limits, trusted proxies, caps)
    # classify's verdicts by (method, raw target, method-override headers): the same few MCP and REST
    # targets arrive again and again, and judging one re-reads it as PHP would (proxy.policy.paths).
    # Bounded, and new with every reload, so a verdict never outlives the policy that made it.
    route_cache: Memo[tuple[str, str, frozenset[str]], Any] = field(
        default_factory=lambda: Memo(ROUTE_CACHE_SIZE), compare=False, repr=False
    )

    # Worked out once (__post_init__), as every MCP request asks for them:
    # WordPress's REST index of this site, upstream (`GET` it for the registered `namespaces`).
    rest_index_url: str = field(init=False, compare=False, repr=False)
    # The Host header WordPress expects on the sidecar's own calls: the site's first host name when the
    # Host is preserved (a multisite picks the site by it), else None (the upstream URL's host).
    upstream_host: str | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        settings = self.settings
        object.__setattr__(self, "rest_index_url", f"{self.wordpress_url}{settings.rest_prefix}/")
        upstream_host = settings.hosts[0] if settings.upstream.preserve_host else None
        object.__setattr__(self, "upstream_host", upstream_host)

    @property
    def upstream_url(self) -> str:
        return self.settings.upstream.url

    @property
    def wordpress_url(self) -> str:
        """Where this site's WordPress lives upstream: the upstream URL plus the sub-directory prefix
        (the sidecar forwards paths unchanged, so `/blog/wp-json/...` is `<upstream>/blog/wp-json/...`)."""
        return self.settings.upstream.url + self.settings.path_prefix

    @property
    def display_name(self) -> str:
        return self.settings.name or self.name


def _site_runtime(name: str, settings: SiteSettings, config: Config, rules: Rules) -> SiteRuntime:
    base = (settings.public_url or f"https://{settings.hosts[0]}{settings.path_prefix}").rstrip("/")
    toolsets = settings.toolsets if settings.toolsets is not None else rules.default_enabled
    return SiteRuntime(
        name=name,
        settings=settings,
        public_base=base,
        resource=resource_url(base, settings.mcp_path),
        resource_metadata=prm_url(base, settings.mcp_path),
        normalizer=TargetNormalizer(
            rest_prefix=settings.rest_prefix,
            site_prefix=settings.path_prefix,
            subdirectory_multisite=settings.subdirectory_multisite,
        ),
        allowlist=Allowlist(settings.allowlist),
        toolsets=frozenset(toolsets),
        allowed_origins=frozenset(origin.rstrip("/").lower() for origin in settings.allowed_origins),
        rate_limits=settings.rate_limits or config.rate_limits,
        discovery_routes=frozenset(
            path[len(settings.rest_prefix) :].lower()
            for path in config.discovery.fallback_routes
            if path.startswith(settings.rest_prefix + "/")
        ),
    )


def _cross_check(config: Config, rules: Rules, source: str) -> list[str]:
    """What each file is fine alone but wrong together: names the config uses that the rules lack."""
    problems = []
    for name, site in config.sites.items():
        for index, toolset in enumerate(site.toolsets or ()):
            if toolset not in rules.toolsets:
                problems.append(
                    f"{source}: sites.{name}.toolsets.{index}: a toolset of the rules files "
                    f"({', '.join(sorted(rules.toolsets))}), found {toolset!r}"
                )
        anonymous = site.anonymous
        if anonymous.enabled and anonymous.profile is not None and anonymous.profile not in rules.toolsets:
            problems.append(
                f"{source}: sites.{name}.anonymous.profile: a toolset of the rules files, "
                f"found {anonymous.profile!r}"
            )
        if anonymous.enabled and anonymous.wp_user not in site.users:
            problems.append(
                f"{source}: sites.{name}.anonymous.wp_user: a login listed under "
                f"sites.{name}.users, found {anonymous.wp_user!r}"
            )
    return problems


@dataclass(frozen=True, slots=True)
class Runtime:
    """Everything derived from one version of the config and rules."""

    config: Config
    config_path: Path | None
    rules: Rules
    authorizer: Authorizer
    issuer: str
    sites: tuple[SiteRuntime, ...]
    _by_host: dict[str, tuple[SiteRuntime, ...]]

    @classmethod
    def compile(cls, config: Config, *, config_path: Path | None = None) -> Runtime:
        """Load the rules and compile every site; ConfigError lists every problem."""
        base_dir = config_path.parent if config_path else Path.cwd()
        rules = load_rules(base_dir / config.rules.tools, base_dir / config.rules.toolsets)
        problems = _cross_check(config, rules, str(config_path or "config"))
        if problems:
            raise ConfigError(problems)
        sites = tuple(_site_runtime(name, settings, config, rules) for name, settings in config.sites.items())
        by_host: dict[str, list[SiteRuntime]] = {}
        for site in sites:
            for host in site.settings.hosts:
                by_host.setdefault(host, []).append(site)
        # the longest path prefix wins, so /blog is tried before the root site
        ordered = {
            host: tuple(sorted(group, key=lambda s: len(s.settings.path_prefix), reverse=True))
            for host, group in by_host.items()
        }
        issuer = (config.issuer or sites[0].public_base).rstrip("/")
        return cls(config, config_path, rules, Authorizer(rules), issuer, sites, ordered)

    def sites_at(self, host: str) -> tuple[SiteRuntime, ...]:
        """The sites a Host header (port ignored) names, longest path prefix first; () for an unknown host."""
        return self._by_host.get(_host_name(host), ())

    def site_for(self, host: str, path: str) -> SiteRuntime | None:
        """The site for a Host header and a decoded, normalised path (`paths.request_path`); None when no
        site matches: never a default. Prefixes match whole segments, ignoring ASCII case, as WordPress
        does when it picks a sub-directory site."""
        for site in self.sites_at(host):
            prefix = site.settings.path_prefix
            if not prefix:
                return site
            head = path[: len(prefix)].translate(_ASCII_LOWER)
            if head == prefix.translate(_ASCII_LOWER) and path[len(prefix) : len(prefix) + 1] in ("", "/"):
                return site
        return None

    def site_named(self, name_or_host: str) -> SiteRuntime | None:
        """A site by its key or any of its host names (the CLI's --site)."""
        for site in self.sites:
            if site.name == name_or_host:
                return site
        matches = self._by_host.get(_host_name(name_or_host), ())
        return matches[-1] if matches else None

    @property
    def base_dir(self) -> Path:
        return self.config_path.parent if self.config_path else Path.cwd()


def load_runtime(path: Path) -> Runtime:
    """Config and rules from disk, validated together (what `check-config`, `run` and reload use)."""
    return Runtime.compile(load_config(path), config_path=path)


def _host_name(host: str) -> str:
    """'Example.COM.:8080' -> 'example.com'; '[::1]:8080' -> '::1'."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    name, _, port = host.rpartition(":")
    if name and port.isdigit():
        host = name
    return host.rstrip(".")


class RuntimeHolder:
    """The current Runtime; replaced whole on reload."""

    def __init__(self, runtime: Runtime) -> None:
        self.current = runtime


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """What a reload did. `ok`: the new config and rules are in force; else `problems` says why the old
    ones stay. `restart_required`: changed settings that live in long-lived parts (listeners, store,
    secrets...) and only take effect at the next start."""

    ok: bool
    problems: tuple[str, ...] = ()
    restart_required: tuple[str, ...] = ()


# Read once at start by the listeners and Services; everything else is read per request from the Runtime.
_RESTART_ONLY = (
    "listen",
    "ops",
    "store",
    "secrets",
    "identity",
    "capabilities",
    "logging",
    "settings_poll_seconds",
)


def restart_required(old: Runtime, new: Runtime) -> tuple[str, ...]:
    """The settings that differ between two Runtimes but that a reload cannot apply."""
    changed = [name for name in _RESTART_ONLY if getattr(old.config, name) != getattr(new.config, name)]
    if old.config.limits.max_body_bytes != new.config.limits.max_body_bytes:
        changed.append("limits.max_body_bytes")
    if old.issuer != new.issuer:
        changed.append("issuer")
    return tuple(changed)
