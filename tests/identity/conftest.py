"""Identity fixtures: a fake clock (starting at real time, so store-side expiry agrees), a memory store,
and every identity service built the way the app builds them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from proxy.identity.services import IdentityServices
from proxy.identity.settings import IdentitySettings
from proxy.stores import MemoryStore, Store
from tests.identity.factories import ISSUER, PEPPER, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    backend = MemoryStore()
    await backend.open()
    yield backend
    await backend.close()


@pytest.fixture
def settings() -> IdentitySettings:
    return IdentitySettings()


@pytest.fixture
def identity(store: Store, settings: IdentitySettings, clock: FakeClock) -> IdentityServices:
    return IdentityServices.build(store, settings, pepper=PEPPER, issuer=ISSUER, clock=clock)
