"""Typed, validated configuration: parsed once at start (or reload) into frozen models.

Unknown keys are errors everywhere (a typo must never silently disable a policy). Every problem is
reported as `FILE: key.path: what was expected, what was found`; `load_config` raises ConfigError
with all of them at once.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from proxy.discovery.settings import DiscoverySettings
from proxy.envsubst import interpolate
from proxy.identity.settings import IdentitySettings
from proxy.policy.allowlist import AllowlistSettings
from proxy.policy.entitlement import EntitlementSettings, StaticEntitlement
from proxy.ratelimit.settings import RateLimitSettings
from proxy.stores.settings import StoreSettings
from proxy.validation import ConfigError, describe_validation_error

__all__ = [
    "Config",
    "ConfigError",
    "ListenSettings",
    "SiteSettings",
    "UpstreamSettings",
    "load_config",
]

DEFAULT_CONFIG_ENV = "MCP_SIDECAR_CONFIG"


class Strict(BaseModel):
    """Base of every config model: frozen, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ListenSettings(Strict):
    host: str = "0.0.0.0"  # noqa: S104 - the public listener is meant to be reachable
    port: Annotated[int, Field(ge=0, le=65535)] = 8080


class OpsListenSettings(Strict):
    """/healthz, /readyz, /metrics and the admin API: loopback by default, never the public port."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 9090


class TimeoutSettings(Strict):
    """Upstream timeouts in seconds. `first_byte` bounds the wait for response headers (a slow tool
    call); `idle` bounds the silence between two body chunks (an SSE stream with keep-alives)."""

    connect: Annotated[float, Field(gt=0)] = 5.0
    first_byte: Annotated[float, Field(gt=0)] = 60.0
    idle: Annotated[float, Field(gt=0)] = 300.0

    @model_validator(mode="after")
    def _first_byte_within_idle(self) -> TimeoutSettings:
        if self.first_byte > self.idle:
            raise ValueError(
                f"timeouts.first_byte ({self.first_byte}) must not exceed timeouts.idle ({self.idle})"
            )
        return self


class UpstreamSettings(Strict):
    """How a site's WordPress is reached."""

    url: str
    preserve_host: bool = True  # send the client's Host upstream (WordPress builds URLs from it)
    timeouts: TimeoutSettings = TimeoutSettings()
    max_connections: Annotated[int, Field(ge=1)] = 100

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("an http(s) URL such as http://127.0.0.1:8081")
        if parts.query or parts.fragment:
            raise ValueError("a base URL without query or fragment")
        return value.rstrip("/")


class WordPressUser(Strict):
    """A WordPress login the sidecar may act as, with its application password (from the environment)."""

    app_password: str = Field(min_length=1, repr=False)


class AnonymousSettings(Strict):
    """Access without a credential: its own (lower) rate-limit tier, acting upstream as `wp_user`.

    Risky: anyone who can reach the site gets what `wp_user`'s capabilities and `scopes` allow. Off by
    default; when on, give it a low-privilege WordPress user (a subscriber) and read-only scopes."""

    enabled: bool = False
    wp_user: str | None = None
    scopes: list[str] = ["mcp.read", "content.read"]
    profile: str | None = "read-only"

    @model_validator(mode="after")
    def _user_when_enabled(self) -> AnonymousSettings:
        if self.enabled and not self.wp_user:
            raise ValueError("anonymous.wp_user is required when anonymous.enabled is true")
        return self


class SiteSettings(Strict):
    """One WordPress site behind the sidecar, chosen by Host (and path prefix for sub-directory sites)."""

    hosts: Annotated[list[str], Field(min_length=1)]
    path_prefix: str = ""
    # How agents reach this site through the sidecar: the base of the MCP resource URL (the token
    # audience) and of every discovery document. Default: http(s)://<first host><path_prefix>.
    public_url: str | None = None
    name: str | None = None  # shown in /.well-known/mcp.json; default: the site key
    description: str | None = None
    upstream: UpstreamSettings
    rest_prefix: str = "/wp-json"
    # The upstream is (or may be) a sub-directory multisite: `/<sub-site>/wp-json/...` is then judged as
    # the REST route it reaches, by this site's allowlist. Off only for a single site that really serves
    # pages under `/<segment>/wp-json/`; on, a multisite's sub-site MCP routes can never slip past the guard.
    subdirectory_multisite: bool = True
    mcp_path: str = "/wp-json/mcp/mcp-adapter-default-server"
    enabled: bool = True  # the site's MCP switch: false answers 404 on its guarded surfaces
    toolsets: list[str] | None = None  # toolsets enabled here; None: rules' default_enabled
    allowed_origins: list[str] = []  # browser Origins allowed on MCP routes; others get 403
    anonymous: AnonymousSettings = AnonymousSettings()
    allowlist: AllowlistSettings = AllowlistSettings()
    entitlement: EntitlementSettings = StaticEntitlement()
    rate_limits: RateLimitSettings | None = None  # None: the top-level rate_limits
    token_path_aliases: list[str] = []  # extra paths answering like /oauth/token
    users: dict[str, WordPressUser] = {}

    @field_validator("users")
    @classmethod
    def _logins_fit_basic_auth(cls, value: dict[str, WordPressUser]) -> dict[str, WordPressUser]:
        for login in value:
            if not login or ":" in login or any(ord(ch) < 0x20 for ch in login):
                raise ValueError(f"WordPress logins without ':' or control characters, found {login!r}")
        return value

    @field_validator("hosts")
    @classmethod
    def _lower_hosts(cls, value: list[str]) -> list[str]:
        return [host.strip().lower() for host in value]

    @field_validator("path_prefix")
    @classmethod
    def _prefix_shape(cls, value: str) -> str:
        if value and (not value.startswith("/") or value.endswith("/")):
            raise ValueError("empty, or a path like /blog (leading slash, no trailing slash)")
        return value

    @field_validator("rest_prefix")
    @classmethod
    def _rest_prefix_shape(cls, value: str) -> str:
        if not value.startswith("/") or value.endswith("/"):
            raise ValueError("a path like /wp-json (leading slash, no trailing slash)")
        return value

    @field_validator("mcp_path")
    @classmethod
    def _mcp_path_shape(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("an absolute path such as /wp-json/mcp/mcp-adapter-default-server")
        return value


class LoggingSettings(Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"


class LimitSettings(Strict):
    max_body_bytes: Annotated[int, Field(ge=1)] = 10 * 1024 * 1024
    max_mcp_body_bytes: Annotated[int, Field(ge=1)] = 1024 * 1024


class SecretSettings(Strict):
    """Server-side secrets. Give them through the environment (`${VAR}`), never commit real ones."""

    key_pepper: str = Field(min_length=16, repr=False)
    session_keys: Annotated[list[str], Field(min_length=1, repr=False)]
    # Encrypt the application passwords WordPress users grant through /oauth/authorize; the first
    # encrypts, all decrypt (rotation). Empty: keys derived from session_keys (rotating those then
    # makes stored passwords unreadable, and their users must authorize again).
    credential_keys: list[str] = Field(default=[], repr=False)

    @field_validator("session_keys", "credential_keys")
    @classmethod
    def _keys_are_32_bytes(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                raw = base64.b64decode(item, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("base64 of 32 random bytes (openssl rand -base64 32)") from None
            if len(raw) != 32:
                raise ValueError(f"base64 of 32 random bytes, got {len(raw)} bytes")
        return value


class RulesPaths(Strict):
    """Where the rules files are; relative paths are read from the config file's folder."""

    tools: str = "rules/tools.yaml"
    toolsets: str = "rules/toolsets.yaml"


class CapabilitySettings(Strict):
    """How long a WordPress user's roles and capabilities are trusted before asking WordPress again."""

    ttl_seconds: Annotated[float, Field(ge=0, le=3600)] = 60.0
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0


class Config(Strict):
    """The whole sidecar configuration."""

    listen: ListenSettings = ListenSettings()
    ops: OpsListenSettings = OpsListenSettings()
    mcp_enabled: bool = True  # the global MCP switch: False answers 404 on every guarded surface
    logging: LoggingSettings = LoggingSettings()
    limits: LimitSettings = LimitSettings()
    secrets: SecretSettings
    issuer: str | None = None  # the token service's issuer URL; default: the first site's public URL
    store: StoreSettings = StoreSettings()
    identity: IdentitySettings = IdentitySettings()
    rules: RulesPaths = RulesPaths()
    capabilities: CapabilitySettings = CapabilitySettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    discovery: DiscoverySettings = DiscoverySettings()
    # How often runtime switches and overrides are re-read from the store (other replicas' changes).
    settings_poll_seconds: Annotated[float, Field(gt=0, le=60)] = 2.0
    sites: Annotated[dict[str, SiteSettings], Field(min_length=1)]

    @model_validator(mode="after")
    def _hosts_unique(self) -> Config:
        seen: dict[tuple[str, str], str] = {}
        for name, site in self.sites.items():
            for host in site.hosts:
                key = (host, site.path_prefix)
                if key in seen:
                    raise ValueError(
                        f"host {host!r} (prefix {site.path_prefix!r}) is claimed by sites "
                        f"{seen[key]!r} and {name!r}"
                    )
                seen[key] = name
        return self

    def site_by_host(self, name_or_host: str) -> tuple[str, SiteSettings] | None:
        """A site by its name or any of its host names (the CLI's --site)."""
        if name_or_host in self.sites:
            return name_or_host, self.sites[name_or_host]
        wanted = name_or_host.lower()
        for name, site in self.sites.items():
            if wanted in site.hosts:
                return name, site
        return None


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: (file): the config file does not exist"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            [f"{path}: (file): a readable UTF-8 file, found {type(exc).__name__}: {exc}"]
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "(unknown position)"
        raise ConfigError([f"{path}: {where}: valid YAML, found {exc.problem}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: (file): valid YAML, found {exc}"]) from None


def load_config(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> Config:
    """Read, interpolate and validate a config file; raise ConfigError listing every problem."""
    source = Path(path)
    raw = _read_yaml(source)
    if not isinstance(raw, dict):
        raise ConfigError([f"{source}: (top level): a mapping of settings, found {type(raw).__name__}"])
    problems: list[str] = []
    data = interpolate(raw, os.environ if env is None else env, source=str(source), problems=problems)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems.extend(describe_validation_error(str(source), exc))
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    return config
