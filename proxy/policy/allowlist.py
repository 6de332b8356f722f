"""Which REST routes of a site are guarded (its MCP surfaces) and, inside them, which are open, and how.

Routes are the canonical ones of `paths.NormalizedTarget` (lower case, no trailing or doubled slashes), so
every spelling of a request is judged once. Globs are compiled to regular expressions at load:

- `*` matches any characters inside one segment, `?` exactly one; neither crosses a `/`.
- `**` as a whole segment matches zero or more segments: `/mcp/**` matches `/mcp`, `/mcp/a`, `/mcp/a/b`;
  `/a/**/run` matches `/a/run` and `/a/x/y/run`.
- Matching ignores case, like WordPress's own route matching.

A guard names a namespace subtree: it covers the route it names, its namespace index, and everything below,
so `/mcp`, `/mcp/*` and `/mcp/**` all guard the same routes. The Abilities REST API (`/wp-abilities/**`)
runs abilities outside MCP and is guarded unless `guard_abilities` is switched off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo, field_validator

from proxy.policy.paths import NormalizedTarget

__all__ = [
    "ABILITIES_GUARD",
    "AllowRule",
    "Allowlist",
    "AllowlistSettings",
    "RouteKind",
    "Verdict",
    "compile_glob",
]

RouteKind = Literal["mcp", "commands"]
Outcome = Literal["unguarded", "allowed", "denied"]

ABILITIES_GUARD = "/wp-abilities/**"
"""WordPress core's second way to run abilities (`/wp-abilities/v1/abilities/<name>/run`)."""

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_UNSUPPORTED = re.compile(r"[\[\]{}\\%\s]")
_ANY_SEGMENTS = "(?:/[^/]*)*"


def _glob_segments(glob: str) -> list[str]:
    """Validate a route glob and split it into segments; ValueError says what is wrong."""
    if not glob.startswith("/"):
        raise ValueError("a route glob starting with '/'")
    if _UNSUPPORTED.search(glob):
        raise ValueError(
            "a route glob with only '*', '**' and '?' as wildcards, written decoded "
            "(no spaces, brackets, braces, '%' or backslashes)"
        )
    if glob == "/":
        return []
    segments = glob[1:].split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise ValueError("a route glob without empty, '.' or '..' segments (nor a trailing '/')")
        if "**" in segment and segment != "**":
            raise ValueError("a route glob where '**' is a whole segment")
    return segments


def _segment_regex(segment: str) -> str:
    if segment == "**":
        return _ANY_SEGMENTS
    text = "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in segment)
    return "/" + text


def compile_glob(glob: str) -> re.Pattern[str]:
    """A route glob (see module doc) as a regex to `fullmatch` against canonical routes."""
    segments = _glob_segments(glob.lower())
    if not segments:
        return re.compile("/")
    return re.compile("".join(_segment_regex(segment) for segment in segments))


def _compile_guard(glob: str) -> re.Pattern[str]:
    """A guard as a regex matching its namespace subtree (see module doc)."""
    segments = _glob_segments(glob.lower())
    while segments and segments[-1] in ("*", "**"):
        segments.pop()
    if not segments:
        return re.compile("/.*")
    return re.compile("".join(_segment_regex(segment) for segment in segments) + "(?:/.*)?")


def _example(glob: str) -> str:
    """One concrete route a glob matches (wildcards filled in), to check it lies inside a guard."""
    segments = [s.replace("*", "x").replace("?", "x") for s in _glob_segments(glob.lower()) if s != "**"]
    return "/" + "/".join(segments)


def _valid_guard(glob: str) -> str:
    _compile_guard(glob)
    return glob


def _guards_of(guarded: tuple[str, ...], *, guard_abilities: bool) -> tuple[str, ...]:
    return (*guarded, ABILITIES_GUARD) if guard_abilities else guarded


class AllowRule(BaseModel):
    """Inside a guarded namespace, one route glob that is open for `methods`, served as `kind`.

    `kind` picks how later stages read the traffic: `mcp` (JSON-RPC over Streamable HTTP) or `commands`
    (a command-envelope API).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    methods: tuple[str, ...] = ("GET", "POST", "DELETE")
    kind: RouteKind = "mcp"

    @field_validator("path")
    @classmethod
    def _valid_glob(cls, value: str) -> str:
        compile_glob(value)
        return value

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        upper = tuple(method.upper() for method in value)
        unknown = sorted(set(upper) - _METHODS)
        if unknown:
            raise ValueError(f"methods among {sorted(_METHODS)}")
        if not upper:
            raise ValueError("at least one method")
        return upper


class AllowlistSettings(BaseModel):
    """Per site: the guarded namespaces and the routes open inside them (everything else guarded: 404).

    `guard_abilities` (default on) also guards `/wp-abilities/**`. Turning it off lets the Abilities REST
    API through untouched: any WordPress user could then run abilities without the sidecar's policy.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    guarded: tuple[Annotated[str, AfterValidator(_valid_guard)], ...] = ("/mcp/**",)
    guard_abilities: bool = True
    allow: tuple[AllowRule, ...] = (AllowRule(path="/mcp/mcp-adapter-default-server"),)

    @field_validator("allow")
    @classmethod
    def _rules_inside_guards(
        cls, value: tuple[AllowRule, ...], info: ValidationInfo
    ) -> tuple[AllowRule, ...]:
        if "guarded" not in info.data or "guard_abilities" not in info.data:
            return value  # the guards are invalid themselves; that error is reported
        globs = _guards_of(info.data["guarded"], guard_abilities=info.data["guard_abilities"])
        guards = [_compile_guard(glob) for glob in globs]
        outside = [rule.path for rule in value if not any(g.fullmatch(_example(rule.path)) for g in guards)]
        if outside:
            raise ValueError(
                f"allow rules inside the guarded namespaces {list(globs)} (outside them everything passes "
                f"through anyway); {outside} lie outside"
            )
        return value

    @property
    def all_guards(self) -> tuple[str, ...]:
        """The configured guards plus the Abilities API guard when it is on."""
        return _guards_of(self.guarded, guard_abilities=self.guard_abilities)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The gate's answer for one request.

    `unguarded`: not an MCP surface, pass it through. `allowed`: guarded and open; `namespace` is the guard
    and `rule` the allow glob that matched, `kind` how to serve it. `denied`: guarded and not open; the
    stage answers 404 as if nothing were there, and `code` (`route_not_allowlisted`,
    `method_not_allowlisted` or `method_override_not_allowed`) says why for metrics and logs.
    """

    outcome: Outcome
    route: str | None = None
    namespace: str | None = None
    kind: RouteKind | None = None
    rule: str | None = None
    code: str | None = None


_UNGUARDED = Verdict(outcome="unguarded")


@dataclass(frozen=True, slots=True)
class _Rule:
    glob: str
    regex: re.Pattern[str]
    methods: frozenset[str]
    kind: RouteKind


class Allowlist:
    """One site's compiled guards and allow rules."""

    __slots__ = ("_guards", "_rules")

    def __init__(self, settings: AllowlistSettings) -> None:
        self._guards = tuple((glob, _compile_guard(glob)) for glob in settings.all_guards)
        self._rules = tuple(
            _Rule(rule.path, compile_glob(rule.path), frozenset(rule.methods), rule.kind)
            for rule in settings.allow
        )

    def decide(self, target: NormalizedTarget, method: str) -> Verdict:
        """Judge a request by its canonical route and method; HEAD is open wherever GET is, since
        WordPress runs the GET handler for it.

        A method override (`_method`, `X-HTTP-Method-Override`) on a guarded route is denied
        (`method_override_not_allowed`): WordPress would dispatch another method than the request's own,
        so the body the sidecar inspects (or skips) would not be what WordPress runs.
        """
        route = target.rest_route
        if route is None:
            return _UNGUARDED
        namespace = next((glob for glob, regex in self._guards if regex.fullmatch(route)), None)
        if namespace is None:
            return _UNGUARDED
        effective = target.effective_method(method)
        if effective != method.upper():
            return Verdict("denied", route=route, namespace=namespace, code="method_override_not_allowed")
        accepted = {effective, "GET"} if effective == "HEAD" else {effective}
        code = "route_not_allowlisted"
        for rule in self._rules:
            if not rule.regex.fullmatch(route):
                continue
            if accepted & rule.methods:
                return Verdict("allowed", route=route, namespace=namespace, kind=rule.kind, rule=rule.glob)
            code = "method_not_allowlisted"
        return Verdict("denied", route=route, namespace=namespace, code=code)
