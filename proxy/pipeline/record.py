"""The record step: every tool call (allowed or refused) becomes a call-log record, attributed to the
principal and the WordPress user it acted as. A record the store cannot take is written to the log in
full instead (and counted), so no call goes unrecorded."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict

from proxy.context import RequestContext
from proxy.observe import get_logger
from proxy.pipeline.base import Stage
from proxy.services import Services
from proxy.stores.base import StoreError
from proxy.stores.records import AuditRecord

__all__ = ["make_recorder"]

log = get_logger("proxy.audit")


def make_recorder(services: Services) -> Stage:
    async def record(ctx: RequestContext) -> None:
        if not ctx.calls or ctx.site is None:
            return None
        principal = ctx.principal
        now = time.time()
        for call in ctx.calls:
            services.metrics.tool_calls.labels(
                ctx.site.name, call.ability or call.tool or "-", "allowed" if call.allowed else "denied"
            ).inc()
            record = AuditRecord(
                id=uuid.uuid4().hex,
                at=now,
                site=ctx.site.name,
                request_id=ctx.request_id,
                principal_kind=principal.kind if principal else "unknown",
                principal_id=principal.id if principal else "unknown",
                wp_user=principal.wp_user if principal else None,
                method=call.method,
                tool=call.tool,
                ability=call.ability,
                decision="allowed" if call.allowed else "denied",
                reason=call.code if not call.allowed or ctx.code == "ok" else ctx.code,
                status=ctx.status,
                duration_ms=round(ctx.elapsed * 1000, 3),
                extra={"upstream_status": ctx.upstream_status} if ctx.upstream_status else {},
            )
            try:
                await services.store.append_audit(record)
            except StoreError as error:
                services.metrics.audit_failures.inc()
                log.error("audit_fallback", error=type(error).__name__, record=asdict(record))
        return None

    return record
