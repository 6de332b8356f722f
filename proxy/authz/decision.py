"""The authorization decision: may this principal see or call this tool, ability or command?

An entry passes when it is in the caller's toolsets (profile ∩ `?toolset=` narrowing ∩ the site's
enabled toolsets), the WordPress user holds its capability, and the credential holds its scope.
Checked in that order, so the refusal names the obstacle that matters: no scope step-up is offered
for a call the WordPress user could never make anyway. Toolsets and scopes only narrow; the
capability, read live from WordPress, is the final authority.

Refusal codes (stable; also the audit reason and metric label):

| code                                  | status | when                                               |
|---------------------------------------|--------|----------------------------------------------------|
| unknown_tool, _ability, _command      | 404    | not in tools.yaml and `unknown: deny` (1)          |
| tool_, ability_, command_not_in_toolset | 403  | outside the caller's toolsets                      |
| insufficient_capability               | 403    | the WordPress user lacks it (message names it)     |
| insufficient_scope                    | 403    | the credential lacks it (`missing_scope`: step up) |
| ability_required                      | 400    | a meta-tool that targets an ability got none       |
| unknown_toolset (raised by view)      | 400    | `?toolset=` names a toolset the site does not offer |
| unknown_profile (raised by view)      | 403    | the credential's profile is no longer a toolset    |

(1) 404, not 403: an unlisted name is treated as not existing, as WordPress itself answers an
unknown tool (-32003, HTTP 404); with `unknown: deny` it can never be reached anyway.

With `unknown: allow` in tools.yaml an unlisted name gets its `unknown_rule` (a capability, a scope,
writes true unless said otherwise) and must still fall in the caller's toolsets through their globs:
unknown never means unchecked.

The per-(profile, narrowing, site toolsets) part is parsed and validated once and cached; the
capabilities and scopes are applied per check, so a view is cheap to build on every request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from proxy.caching import Memo
from proxy.errors import SidecarError
from proxy.identity.principal import Principal
from proxy.rules import Kind, Rule, Rules

__all__ = ["AccessView", "Authorizer", "Denial"]


@dataclass(frozen=True, slots=True)
class Denial:
    """Why a call is refused. `missing_scope` drives the WWW-Authenticate step-up challenge."""

    code: str
    message: str
    missing_scope: str | None
    missing_capability: str | None
    http_status: int
    target: str

    def to_error(self, *, challenge: bool = False) -> SidecarError:
        """The refusal as a SidecarError; `challenge` for Bearer credentials (RFC 6750 step-up)."""
        return SidecarError(
            self.http_status,
            self.code,
            self.message,
            challenge=challenge,
            scope=self.missing_scope,
            data={"target": self.target},
        )


@dataclass(frozen=True, slots=True)
class _Gate:
    """The toolset part of a decision: which toolsets an entry must belong to."""

    profile: str | None  # must be among the entry's toolsets (None: no profile limit)
    narrow: frozenset[str] | None  # one of these (None: no narrowing)
    site: frozenset[str]  # one of these

    def admits(self, toolsets: frozenset[str]) -> bool:
        return (
            (self.profile is None or self.profile in toolsets)
            and (self.narrow is None or not self.narrow.isdisjoint(toolsets))
            and not self.site.isdisjoint(toolsets)
        )


class Authorizer:
    """Builds per-request views over one version of the rules (a reload makes a new Authorizer)."""

    def __init__(self, rules: Rules, *, cache_size: int = 1024) -> None:
        self.rules = rules
        self._gates: Memo[tuple[Any, ...], _Gate] = Memo(maxsize=cache_size)

    def view(
        self,
        principal: Principal,
        capabilities: frozenset[str],
        *,
        narrow: Sequence[str] = (),
        site_toolsets: frozenset[str] | None = None,
    ) -> AccessView:
        """What `principal`, acting as a WordPress user holding `capabilities`, may see and call.

        `narrow` are the `?toolset=` values (each may be comma-separated); a name the site does not
        offer is SidecarError(400, unknown_toolset). `site_toolsets` None: the rules' default_enabled.
        A principal whose profile names no toolset gets SidecarError(403, unknown_profile).
        """
        site = self.rules.default_enabled if site_toolsets is None else site_toolsets
        key = (principal.profile, tuple(narrow), site)
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates.remember(key, self._gate(principal.profile, narrow, site))
        return AccessView(self.rules, gate, principal.scopes, capabilities)

    def _gate(self, profile: str | None, narrow: Sequence[str], site: frozenset[str]) -> _Gate:
        known = self.rules.toolsets
        if profile is not None and profile not in known:
            raise SidecarError(
                403,
                "unknown_profile",
                f"the credential is limited to toolset {_shown(profile)}, which the rules no longer define",
            )
        offered = site & known.keys()
        names = {name.strip() for value in narrow for name in value.split(",")} - {""}
        for name in sorted(names):
            if name not in offered:
                raise SidecarError(
                    400,
                    "unknown_toolset",
                    f"toolset {_shown(name)} is not offered by this site; "
                    f"offered: {', '.join(sorted(offered))}",
                )
        return _Gate(profile=profile, narrow=frozenset(names) or None, site=frozenset(offered))


class AccessView:
    """One principal's view for one request: answers visibility and call checks."""

    __slots__ = ("_capabilities", "_gate", "_rules", "_scopes")

    def __init__(
        self, rules: Rules, gate: _Gate, scopes: frozenset[str], capabilities: frozenset[str]
    ) -> None:
        self._rules = rules
        self._gate = gate
        self._scopes = scopes
        self._capabilities = capabilities

    def tool_visible(self, name: str) -> bool:
        """Whether tools/list may show the tool (its ability, if any, is checked per call)."""
        return self._check("tool", name) is None

    def ability_visible(self, name: str) -> bool:
        """Whether discover-abilities may list the ability."""
        return self._check("ability", name) is None

    def command_allowed(self, name: str) -> bool:
        return self._check("command", name) is None

    def check_command(self, name: str) -> Denial | None:
        return self._check("command", name)

    def check_ability(self, name: str) -> Denial | None:
        """An ability reached directly."""
        return self._check("ability", name)

    def check_backed(self, name: str) -> Denial | None:
        """A resource (by URI) or prompt (by name): judged as the ability of that name when the rules
        list one; any other is WordPress's own to judge (the plugin checks it as the mapped user)."""
        if name not in self._rules.entries["ability"]:
            return None
        return self._check("ability", name)

    def backed_visible(self, name: str) -> bool:
        """Whether resources/list or prompts/list may show the entry (see check_backed)."""
        return self.check_backed(name) is None

    def check_tool(self, name: str, ability: str | None = None) -> Denial | None:
        """A tools/call: the tool, then the ability it targets (both must pass)."""
        rule = self._rules.lookup("tool", name)
        if rule is None:
            return _unknown("tool", name)
        denial = self._judge(rule)
        if denial is not None or (ability is None and rule.ability_param is None):
            return denial
        if ability is None:
            return Denial(
                code="ability_required",
                message=f"tool {_shown(name)} needs the argument {rule.ability_param!r} naming an ability",
                missing_scope=None,
                missing_capability=None,
                http_status=400,
                target=name,
            )
        return self._check("ability", ability)

    def _check(self, kind: Kind, name: str) -> Denial | None:
        rule = self._rules.lookup(kind, name)
        return _unknown(kind, name) if rule is None else self._judge(rule)

    def _judge(self, rule: Rule) -> Denial | None:
        if not self._gate.admits(rule.toolsets):
            return Denial(
                code=f"{rule.kind}_not_in_toolset",
                message=f"{rule.kind} {_shown(rule.name)} is not in the toolsets this credential may use",
                missing_scope=None,
                missing_capability=None,
                http_status=403,
                target=rule.name,
            )
        if rule.capability is not None and rule.capability not in self._capabilities:
            return Denial(
                code="insufficient_capability",
                message=f"the WordPress user lacks the {rule.capability!r} capability that "
                f"{rule.kind} {_shown(rule.name)} requires",
                missing_scope=None,
                missing_capability=rule.capability,
                http_status=403,
                target=rule.name,
            )
        if rule.scope not in self._scopes:
            return Denial(
                code="insufficient_scope",
                message=f"{rule.kind} {_shown(rule.name)} requires the {rule.scope!r} scope",
                missing_scope=rule.scope,
                missing_capability=None,
                http_status=403,
                target=rule.name,
            )
        return None


def _unknown(kind: Kind, name: str) -> Denial:
    return Denial(
        code=f"unknown_{kind}",
        message=f"{kind} {_shown(name)} is not known here",
        missing_scope=None,
        missing_capability=None,
        http_status=404,
        target=name,
    )


def _shown(name: str) -> str:
    """A caller-supplied name quoted for a message, cut short so a huge name cannot bloat replies."""
    return repr(name if len(name) <= 80 else name[:77] + "...")
