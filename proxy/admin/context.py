"""What a CLI command works with: the validated config, an open store and the identity services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from proxy.identity.services import IdentityServices
from proxy.runtime import Runtime, SiteRuntime, load_runtime
from proxy.stores import create_store
from proxy.stores.base import Store

__all__ = ["AdminContext", "CliError", "admin_context"]


class CliError(Exception):
    """A bad argument or unusable input: printed as one line, exit 2."""


@dataclass(frozen=True, slots=True)
class AdminContext:
    runtime: Runtime
    store: Store
    identity: IdentityServices

    def site(self, name_or_host: str) -> SiteRuntime:
        site = self.runtime.site_named(name_or_host)
        if site is None:
            known = ", ".join(f"{s.name} ({' '.join(s.settings.hosts)})" for s in self.runtime.sites)
            raise CliError(f"unknown site {name_or_host!r}; configured: {known}")
        return site


@asynccontextmanager
async def admin_context(config_path: Path) -> AsyncIterator[AdminContext]:
    runtime = load_runtime(config_path)
    config = runtime.config
    store = create_store(config.store, base_dir=runtime.base_dir)
    await store.open()
    try:
        identity = IdentityServices.build(
            store, config.identity, pepper=config.secrets.key_pepper.encode(), issuer=runtime.issuer
        )
        yield AdminContext(runtime, store, identity)
    finally:
        await store.close()
