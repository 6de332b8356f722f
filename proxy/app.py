"""Builds the public and ops aiohttp applications from a Config, and runs them."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from proxy.config import Config, load_config
from proxy.context import RequestContext
from proxy.observe import Metrics, configure_logging, get_logger
from proxy.ops import build_ops_app
from proxy.pipeline.runner import Pipeline
from proxy.pipeline.site import select_site
from proxy.runtime import Runtime, RuntimeHolder
from proxy.services import SERVICES_KEY, Services
from proxy.upstream import Forwarder
from proxy.validation import ConfigError

__all__ = ["Sidecar", "build_sidecar", "serve"]

log = get_logger("proxy.app")


@dataclass(slots=True)
class Sidecar:
    """The two applications and what they share."""

    public: web.Application
    ops: web.Application
    services: Services

    def reload(self) -> bool:
        """Load the config again; keep the old one if the new one is invalid. True when swapped."""
        holder = self.services.holder
        path = holder.current.config_path
        if path is None:
            return False
        try:
            config = load_config(path)
        except ConfigError as error:
            self.services.metrics.config_reloads.labels("error").inc()
            log.error("config_reload_rejected", problems=error.problems)
            return False
        holder.current = Runtime.compile(config, config_path=path)
        self.services.metrics.config_reloads.labels("ok").inc()
        log.info("config_reloaded", path=str(path))
        return True


def build_sidecar(config: Config, *, config_path: Path | None = None) -> Sidecar:
    """Wire services, pipeline and routes. Connections open when the public app starts."""
    holder = RuntimeHolder(Runtime.compile(config, config_path=config_path))
    metrics = Metrics()
    forwarder = Forwarder(metrics=metrics, max_body_bytes=config.limits.max_body_bytes)
    services = Services(holder=holder, metrics=metrics, forwarder=forwarder)

    async def forward(ctx: RequestContext) -> web.StreamResponse:
        if ctx.route == "unknown":
            ctx.route = "passthrough"
        return await forwarder.forward(ctx)

    pipeline = Pipeline(holder=holder, metrics=metrics, stages=(select_site, forward))
    public = web.Application(client_max_size=config.limits.max_body_bytes)
    public[SERVICES_KEY] = services
    public.router.add_route("*", "/{tail:.*}", pipeline.handle)

    async def close_services(_: web.Application) -> None:
        await services.close()

    public.on_cleanup.append(close_services)
    return Sidecar(public=public, ops=build_ops_app(services), services=services)


async def serve(config_path: Path) -> None:
    """Run both listeners until SIGINT/SIGTERM; SIGHUP reloads the config."""
    config = load_config(config_path)
    configure_logging(level=config.logging.level, fmt=config.logging.format)
    sidecar = build_sidecar(config, config_path=config_path)
    public_runner = web.AppRunner(sidecar.public, handler_cancellation=True, access_log=None)
    ops_runner = web.AppRunner(sidecar.ops, access_log=None)
    await public_runner.setup()
    await ops_runner.setup()
    await web.TCPSite(public_runner, config.listen.host, config.listen.port).start()
    await web.TCPSite(ops_runner, config.ops.host, config.ops.port).start()
    log.info(
        "listening",
        public=f"{config.listen.host}:{config.listen.port}",
        ops=f"{config.ops.host}:{config.ops.port}",
        sites=sorted(config.sites),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGHUP, sidecar.reload)
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        await public_runner.cleanup()
        await ops_runner.cleanup()
