"""`switch`, `reload` and `audit`: what an operator changes or reads on a running fleet.

Switches are written to the store; every replica reads them within `settings_poll_seconds`.
`reload` asks a running sidecar (its ops listener) to re-read config and rules, like SIGHUP.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any

from pydantic import ValidationError

from proxy.admin.context import AdminContext, CliError
from proxy.admin.output import emit, when
from proxy.ratelimit import RateLimitOverrides
from proxy.runtime import Runtime
from proxy.switches import GLOBAL_SWITCH, rate_limit_key, site_switch_key, toolset_switch_key
from proxy.validation import describe_validation_error

__all__ = ["register", "reload_running"]

_STATES = {"on": True, "off": False, "default": None}


async def switch_set(ctx: AdminContext, args: argparse.Namespace) -> int:
    value = _STATES[args.state]
    if args.scope == "global":
        name = GLOBAL_SWITCH
    else:
        site = ctx.site(args.site)
        if args.toolset is None:
            name = site_switch_key(site.name)
        elif args.toolset not in ctx.runtime.rules.toolsets:
            raise CliError(
                f"unknown toolset {args.toolset!r}; toolsets: {', '.join(sorted(ctx.runtime.rules.toolsets))}"
            )
        else:
            name = toolset_switch_key(site.name, args.toolset)
    await ctx.store.set_setting(name, value)
    emit({"switch": name, "state": args.state}, fmt=args.format)
    return 0


async def switch_show(ctx: AdminContext, args: argparse.Namespace) -> int:
    settings = await ctx.store.get_settings()
    rows = [{"setting": name, "value": json.dumps(value)} for name, value in sorted(settings.items())]
    emit(rows, fmt=args.format)
    return 0


async def limits_set(ctx: AdminContext, args: argparse.Namespace) -> int:
    site = ctx.site(args.site)
    value: Any = None if args.json == "default" else _json_object(args.json)
    await ctx.store.set_setting(rate_limit_key(site.name), value)
    emit({"site": site.name, "rate_limits": value}, fmt=args.format)
    return 0


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise CliError(f"rate-limit override must be a JSON object: {error}") from None
    if not isinstance(value, dict):
        raise CliError("rate-limit override must be a JSON object")
    try:  # a typo stored here would be ignored by every replica: refuse it now
        RateLimitOverrides.model_validate(value)
    except ValidationError as error:
        raise CliError("; ".join(describe_validation_error("rate-limit override", error))) from None
    return value


async def audit_list(ctx: AdminContext, args: argparse.Namespace) -> int:
    site = ctx.site(args.site)
    records = await ctx.store.list_audit(site.name, limit=args.limit)
    emit(
        [
            {
                "at": when(r.at),
                "principal": f"{r.principal_kind}:{r.principal_id}",
                "user": r.wp_user,
                "method": r.method,
                "tool": r.tool,
                "ability": r.ability,
                "decision": r.decision,
                "reason": r.reason,
                "status": r.status,
                "request_id": r.request_id,
            }
            for r in records
        ],
        fmt=args.format,
    )
    return 0


def reload_running(runtime: Runtime, args: argparse.Namespace) -> int:
    """POST the ops listener's /admin/reload; exit 1 (problems on stderr) when the sidecar keeps its old
    config. The config is validated here first, so an invalid file never reaches the sidecar."""
    ops = runtime.config.ops
    host = "127.0.0.1" if ops.host in ("0.0.0.0", "::") else ops.host  # noqa: S104 - reaching, not binding
    url = f"http://{host}:{ops.port}/admin/reload"
    request = urllib.request.Request(url, method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - a URL we built
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        answer = json.loads(error.read() or b"{}")
    except OSError as error:
        raise CliError(f"no sidecar answered at {url}: {error}") from None
    if answer.get("status") != "reloaded":
        for problem in answer.get("problems") or ["the sidecar refused to reload"]:
            print(problem, file=sys.stderr)
        return 1
    emit({"status": "reloaded", "restart_required": answer.get("restart_required", [])}, fmt=args.format)
    return 0


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    switch = commands.add_parser("switch", help="runtime switches (every replica within seconds)")
    actions = switch.add_subparsers(dest="action", required=True)
    for scope in ("global", "site"):
        setter = actions.add_parser(
            scope,
            parents=[common],
            help="the global MCP switch" if scope == "global" else "a site or toolset",
        )
        if scope == "site":
            setter.add_argument("--site", required=True)
            setter.add_argument("--toolset", help="switch one toolset of the site")
        setter.add_argument("state", choices=sorted(_STATES), help="'default' removes the runtime override")
        setter.set_defaults(run=switch_set, scope=scope)
    show = actions.add_parser("show", parents=[common], help="every runtime switch and override")
    show.set_defaults(run=switch_show)

    limits = commands.add_parser("limits", help="runtime rate-limit overrides").add_subparsers(
        dest="action", required=True
    )
    override = limits.add_parser(
        "set",
        parents=[common],
        help='e.g. \'{"authenticated": {"requests": 10, "per_seconds": 60}}\', or default',
    )
    override.add_argument("--site", required=True)
    override.add_argument("json")
    override.set_defaults(run=limits_set)

    audit = commands.add_parser("audit", help="the call log").add_subparsers(dest="action", required=True)
    audit_listing = audit.add_parser("list", parents=[common], help="newest tool calls of a site")
    audit_listing.add_argument("--site", required=True)
    audit_listing.add_argument("--limit", type=int, default=50)
    audit_listing.set_defaults(run=audit_list)

    reload = commands.add_parser(
        "reload", parents=[common], help="ask the running sidecar to reload (SIGHUP)"
    )
    reload.set_defaults(with_runtime=reload_running)
