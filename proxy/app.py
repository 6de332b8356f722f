"""Builds the public and ops aiohttp applications from a Runtime, and runs them."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from proxy.config import Config
from proxy.context import RequestContext
from proxy.endpoints.authorize import make_authorization_endpoint
from proxy.endpoints.discovery import make_discovery
from proxy.endpoints.oauth import make_oauth
from proxy.endpoints.registration import make_registration
from proxy.heap import settle_heap
from proxy.observe import configure_logging, get_logger
from proxy.ops import RELOAD_KEY, build_ops_app
from proxy.pipeline.authorize import make_authorize
from proxy.pipeline.classify import classify
from proxy.pipeline.gate import make_gate
from proxy.pipeline.identify import make_identify
from proxy.pipeline.inspect import inspect
from proxy.pipeline.limit import make_limit
from proxy.pipeline.record import make_recorder
from proxy.pipeline.runner import Pipeline
from proxy.pipeline.site import select_site
from proxy.runtime import ReloadResult, Runtime, load_runtime, restart_required
from proxy.services import SERVICES_KEY, Services, build_services
from proxy.stores.base import Store
from proxy.validation import ConfigError

__all__ = ["Sidecar", "build_sidecar", "serve"]

log = get_logger("proxy.app")


@dataclass(slots=True)
class Sidecar:
    """The two applications and what they share."""

    public: web.Application
    ops: web.Application
    services: Services

    def reload(self) -> ReloadResult:
        """Load config and rules again and swap them in at once; keep the old ones if the new are invalid.

        Requests already running finish with the Runtime they started with (see proxy.runtime). Runs on
        the event loop without awaiting, so two reloads never interleave.
        """
        current = self.services.holder.current
        path = current.config_path
        if path is None:
            return self._rejected(("the sidecar was started without a config file: nothing to reload",))
        try:
            runtime = load_runtime(path)
        except ConfigError as error:
            return self._rejected(tuple(error.problems))
        except Exception as error:  # a bad reload must never take the running sidecar down
            log.exception("config_reload_failed", path=str(path))
            return self._rejected((f"{path}: could not be loaded ({type(error).__name__})",))
        self.services.adopt(runtime)
        pending = restart_required(current, runtime)
        self.services.metrics.config_reloads.labels("ok").inc()
        if pending:
            log.warning("config_reloaded", path=str(path), restart_required=list(pending))
        else:
            log.info("config_reloaded", path=str(path))
        return ReloadResult(ok=True, restart_required=pending)

    def _rejected(self, problems: tuple[str, ...]) -> ReloadResult:
        self.services.metrics.config_reloads.labels("error").inc()
        log.error("config_reload_rejected", problems=list(problems))
        return ReloadResult(ok=False, problems=problems)


def build_sidecar(
    config: Config | Runtime, *, config_path: Path | None = None, store: Store | None = None
) -> Sidecar:
    """Wire services, the pipeline and routes. Connections open when the public app starts."""
    runtime = config if isinstance(config, Runtime) else Runtime.compile(config, config_path=config_path)
    services = build_services(runtime, store=store)
    forwarder = services.forwarder

    async def forward(ctx: RequestContext) -> web.StreamResponse:
        if ctx.route == "unknown":
            ctx.route = "passthrough"
        return await forwarder.forward(ctx)

    stages = (
        select_site,  # Host (and path prefix) -> site; unknown hosts never reach one
        classify,  # discovery / oauth / mcp / commands / passthrough, on the normalised route
        make_gate(services),  # switches, toolsets, Origin, entitlement
        make_discovery(services),  # answered here
        make_authorization_endpoint(services),  # /oauth/authorize and its callback: WordPress login
        make_registration(services),  # /oauth/register: dynamic client registration
        make_oauth(services),  # answered here
        make_identify(services),  # credential -> Principal
        inspect,  # the JSON-RPC body (or command envelope), parsed once
        make_limit(services),  # rate limits
        make_authorize(services),  # toolsets, scopes, WordPress capabilities; upstream credential
        forward,  # to WordPress, streamed both ways
    )
    pipeline = Pipeline(
        holder=services.holder, metrics=services.metrics, stages=stages, recorders=(make_recorder(services),)
    )
    public = web.Application(client_max_size=runtime.config.limits.max_body_bytes)
    public[SERVICES_KEY] = services
    public.router.add_route("*", "/{tail:.*}", pipeline.handle)

    async def start_services(_: web.Application) -> None:
        await services.start()

    async def close_services(_: web.Application) -> None:
        await pipeline.drain()  # every call-log record is written before the store closes
        await services.close()

    public.on_startup.append(start_services)
    public.on_cleanup.append(close_services)
    sidecar = Sidecar(public=public, ops=build_ops_app(services), services=services)
    sidecar.ops[RELOAD_KEY] = sidecar.reload
    return sidecar


async def serve(config_path: Path) -> None:
    """Run both listeners until SIGINT/SIGTERM; SIGHUP reloads config and rules."""
    runtime = load_runtime(config_path)
    config = runtime.config
    configure_logging(level=config.logging.level, fmt=config.logging.format, cache_loggers=True)
    sidecar = build_sidecar(runtime)
    public_runner = web.AppRunner(sidecar.public, handler_cancellation=True, access_log=None)
    ops_runner = web.AppRunner(sidecar.ops, access_log=None)
    await public_runner.setup()
    await ops_runner.setup()
    await web.TCPSite(public_runner, config.listen.host, config.listen.port).start()
    await web.TCPSite(ops_runner, config.ops.host, config.ops.port).start()
    settle_heap()  # after start-up: the loaded heap is permanent, keep the GC off it (proxy/heap.py)
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
