"""The `mcp-sidecar` command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from proxy.config import DEFAULT_CONFIG_ENV, Config, load_config
from proxy.validation import ConfigError

__all__ = ["main"]

EXIT_CONFIG = 2


class CliError(Exception):
    """A bad argument or unusable input: printed as one line, exit 2."""


def _config_path(args: argparse.Namespace) -> Path:
    value = args.config or os.environ.get(DEFAULT_CONFIG_ENV)
    if not value:
        raise CliError(f"no config: pass -c CONFIG or set {DEFAULT_CONFIG_ENV}")
    return Path(value)


def _load(args: argparse.Namespace) -> tuple[Path, Config]:
    path = _config_path(args)
    return path, load_config(path)


def cmd_check_config(args: argparse.Namespace) -> int:
    path, config = _load(args)
    hosts = sum(len(site.hosts) for site in config.sites.values())
    print(
        f"{path}: ok: {len(config.sites)} site(s), {hosts} host name(s), "
        f"public {config.listen.host}:{config.listen.port}, ops {config.ops.host}:{config.ops.port}"
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from proxy.app import serve

    path, _ = _load(args)  # refuse to start on the same errors check-config reports
    asyncio.run(serve(path))
    return 0


def cmd_demo_upstream(args: argparse.Namespace) -> int:
    from proxy.demo import run_demo_upstream

    run_demo_upstream(host=args.host, port=args.port)
    return 0


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", help=f"config file (default: ${DEFAULT_CONFIG_ENV})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-sidecar", description="An audited MCP door in front of WordPress."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="serve the public and ops listeners")
    _add_config(run)
    run.set_defaults(handler=cmd_run)

    check = commands.add_parser("check-config", help="validate a config file and exit (0 ok, 2 invalid)")
    _add_config(check)
    check.set_defaults(handler=cmd_check_config)

    demo = commands.add_parser("demo-upstream", help="run the demo WordPress-shaped site")
    demo.add_argument("--port", type=int, default=8081)
    demo.add_argument("--host", default="127.0.0.1")
    demo.set_defaults(handler=cmd_demo_upstream)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigError as error:
        for line in error.problems:
            print(line, file=sys.stderr)
        return EXIT_CONFIG
    except CliError as error:
        print(f"mcp-sidecar: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
