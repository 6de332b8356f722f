"""Structured logs (structlog, JSON) and Prometheus metrics, one registry per application.

A registry per app (not the global default) lets tests and benchmarks run several sidecars in one
process without metric name clashes.
"""

from __future__ import annotations

import logging
import sys

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics", "configure_logging", "get_logger"]

PREFIX = "mcp_sidecar_"
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class _StdoutLogger:
    """Writes each rendered line to whatever sys.stdout is at that moment (so a replaced stdout, as
    under a test runner or a log shipper's wrapper, never leaves a cached logger on a closed file)."""

    def __init__(self, *_args: object) -> None:
        pass

    def msg(self, message: str) -> None:
        stream = sys.stdout
        stream.write(message + "\n")
        stream.flush()

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def configure_logging(*, level: str = "info", fmt: str = "json") -> None:
    """Send structlog output as one JSON object per line to stdout (console renderer for humans)."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=_StdoutLogger,
        cache_logger_on_first_use=True,  # the access line is on the hot path: resolve the chain once
    )


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)


class Metrics:
    """Every metric the sidecar exports, registered on its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            PREFIX + "requests_total",
            "Requests answered, by route class and status.",
            ["route", "status"],
            registry=r,
        )
        self.request_duration = Histogram(
            PREFIX + "request_duration_seconds",
            "Time from request to the end of the response.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_duration = Histogram(
            PREFIX + "upstream_duration_seconds",
            "Time until WordPress sent response headers.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(PREFIX + "in_flight_requests", "Requests being served now.", registry=r)
        self.upstream_errors = Counter(
            PREFIX + "upstream_errors_total",
            "Upstream failures by kind (connect, timeout, reset).",
            ["kind"],
            registry=r,
        )
        self.denials = Counter(
            PREFIX + "denials_total",
            "Requests refused by the sidecar, by site and stable code.",
            ["site", "code"],
            registry=r,
        )
        self.tool_calls = Counter(
            PREFIX + "tool_calls_total",
            "MCP tool calls by site, tool and decision.",
            ["site", "tool", "decision"],
            registry=r,
        )
        self.ratelimit = Counter(
            PREFIX + "ratelimit_decisions_total",
            "Rate-limit decisions by site, tier and outcome.",
            ["site", "tier", "outcome"],
            registry=r,
        )
        self.config_reloads = Counter(
            PREFIX + "config_reload_total", "Config reloads by result (ok, error).", ["result"], registry=r
        )
        self.entitlement = Counter(
            PREFIX + "entitlement_checks_total",
            "Entitlement answers by site and reason.",
            ["site", "reason"],
            registry=r,
        )
        self.audit_failures = Counter(
            PREFIX + "audit_write_failures_total",
            "Call-log records that could not be written at once.",
            registry=r,
        )
