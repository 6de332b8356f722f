"""The `mcp-sidecar` command line. Every command takes `-c CONFIG` (or $MCP_SIDECAR_CONFIG) and
`--format json|table`; bad arguments and invalid config exit 2 with one line per problem."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from proxy.admin import credentials_cli, operations_cli
from proxy.admin.context import CliError, admin_context
from proxy.config import DEFAULT_CONFIG_ENV
from proxy.runtime import load_runtime
from proxy.stores.base import StoreError
from proxy.validation import ConfigError

__all__ = ["main"]

EXIT_USAGE = 2


def _config_path(args: argparse.Namespace) -> Path:
    value = args.config or os.environ.get(DEFAULT_CONFIG_ENV)
    if not value:
        raise CliError(f"no config: pass -c CONFIG or set {DEFAULT_CONFIG_ENV}")
    return Path(value)


def cmd_check_config(args: argparse.Namespace) -> int:
    path = _config_path(args)
    runtime = load_runtime(path)
    config = runtime.config
    hosts = sum(len(site.hosts) for site in config.sites.values())
    print(
        f"{path}: ok: {len(config.sites)} site(s), {hosts} host name(s), "
        f"{len(runtime.rules.tools)} tool(s), {len(runtime.rules.abilities)} abilit(ies), "
        f"public {config.listen.host}:{config.listen.port}, ops {config.ops.host}:{config.ops.port}"
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from proxy.app import serve

    path = _config_path(args)
    load_runtime(path)  # refuse to start on the same errors check-config reports
    asyncio.run(serve(path))
    return 0


def cmd_demo_upstream(args: argparse.Namespace) -> int:
    from proxy.demo import run_demo_upstream

    run_demo_upstream(host=args.host, port=args.port)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from proxy.admin.demo_launcher import run_demo

    return run_demo(_config_path(args))


async def _run_admin(args: argparse.Namespace) -> int:
    async with admin_context(_config_path(args)) as ctx:
        return int(await args.run(ctx, args))


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", help=f"config file (default: ${DEFAULT_CONFIG_ENV})")
    common.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    parser = argparse.ArgumentParser(
        prog="mcp-sidecar", description="An audited MCP door in front of WordPress."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("run", parents=[common], help="serve the public and ops listeners").set_defaults(
        handler=cmd_run
    )
    commands.add_parser(
        "check-config", parents=[common], help="validate config and rules (exit 0 or 2)"
    ).set_defaults(handler=cmd_check_config)
    commands.add_parser(
        "demo", parents=[common], help="demo upstream + sidecar + a demo key (make demo)"
    ).set_defaults(handler=cmd_demo)
    demo = commands.add_parser("demo-upstream", help="run the demo WordPress-shaped site")
    demo.add_argument("--port", type=int, default=8081)
    demo.add_argument("--host", default="127.0.0.1")
    demo.set_defaults(handler=cmd_demo_upstream)
    credentials_cli.register(commands, common)
    operations_cli.register(commands, common)
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    if hasattr(args, "handler"):
        return int(args.handler(args))
    if hasattr(args, "with_runtime"):
        return int(args.with_runtime(load_runtime(_config_path(args)), args))
    return asyncio.run(_run_admin(args))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except ConfigError as error:
        for line in error.problems:
            print(line, file=sys.stderr)
        return EXIT_USAGE
    except CliError as error:
        print(f"mcp-sidecar: {error}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as error:
        print(f"mcp-sidecar: the store is unavailable: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
