"""Upstream credentials: sealed at rest, bound to their entry, rotated, cached, and picked per principal."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pytest

from proxy.identity.principal import Principal, PrincipalKind
from proxy.identity.upstream_credentials import (
    CREDENTIAL_KIND,
    CredentialCipher,
    UpstreamCredentials,
    credential_keys,
)
from proxy.runtime import Runtime, SiteRuntime
from proxy.stores import MemoryStore, Store
from tests.factories import make_config
from tests.identity.factories import FakeClock

KEY_A, KEY_B = bytes(range(32)), bytes(range(1, 33))
DAY = 86400.0


def _credentials(store: Store, clock: FakeClock, *keys: bytes, cache: float = 0) -> UpstreamCredentials:
    return UpstreamCredentials(
        store, keys=keys or (KEY_A,), lifetime_seconds=30 * DAY, cache_seconds=cache, clock=clock
    )


def _site() -> SiteRuntime:
    config = make_config("http://127.0.0.1:1", users={"editor": {"app_password": "configured pw"}})
    return Runtime.compile(config).sites[0]


def _principal(
    kind: PrincipalKind, wp_user: str | None = "editor", principal_id: str = "mcpc_1"
) -> Principal:
    return Principal(kind, principal_id, "demo", wp_user, frozenset(), None, "authenticated")


def test_cipher_round_trip_is_bound_to_its_entry_and_rotates() -> None:
    old = CredentialCipher([KEY_A])
    sealed = old.seal("app password", b"entry-1")
    assert "app password" not in sealed
    assert old.open(sealed, b"entry-1") == "app password"
    assert old.open(sealed, b"entry-2") is None  # moved to another entry
    rotated = CredentialCipher([KEY_B, KEY_A])
    assert rotated.open(sealed, b"entry-1") == "app password"
    assert old.open(rotated.seal("new", b"entry-1"), b"entry-1") is None
    assert old.open("!!not base64!!", b"entry-1") is None
    assert old.open(base64.urlsafe_b64encode(b"short").decode(), b"entry-1") is None


@pytest.mark.parametrize("keys", [[], [b"short"]])
def test_cipher_wants_32_byte_keys(keys: list[bytes]) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        CredentialCipher(keys)


def test_keys_come_from_config_or_are_derived_apart_from_session_keys() -> None:
    session = base64.b64encode(KEY_A).decode()
    assert credential_keys([base64.b64encode(KEY_B).decode()], [session]) == [KEY_B]
    derived = credential_keys([], [session])
    assert len(derived) == 1
    assert len(derived[0]) == 32
    assert derived[0] != KEY_A
    assert derived == credential_keys([], [session])  # the same on every replica


async def test_remember_then_stored_and_only_sealed_at_rest(store: Store) -> None:
    clock = FakeClock()
    credentials = _credentials(store, clock)
    assert (
        await credentials.remember(site="demo", client_id="c1", login="editor", password="pw-1", uuid="u1")
        is None
    )
    fresh = _credentials(store, clock)  # another replica: nothing cached
    stored = await fresh.stored("demo", "c1", "editor")
    assert stored is not None
    assert (stored.login, stored.password, stored.uuid) == ("editor", "pw-1", "u1")
    assert await fresh.stored("demo", "c2", "editor") is None
    assert await fresh.stored("other", "c1", "editor") is None
    assert "pw-1" not in str(store.__dict__)


async def test_remember_returns_what_it_replaced(store: Store) -> None:
    credentials = _credentials(store, FakeClock())
    await credentials.remember(site="demo", client_id="c1", login="editor", password="pw-1", uuid="u1")
    replaced = await credentials.remember(
        site="demo", client_id="c1", login="editor", password="pw-2", uuid="u2"
    )
    assert replaced is not None
    assert (replaced.password, replaced.uuid) == ("pw-1", "u1")
    stored = await credentials.stored("demo", "c1", "editor")
    assert stored is not None
    assert stored.password == "pw-2"


async def test_an_entry_no_key_opens_is_none(store: Store) -> None:
    clock = FakeClock()
    await _credentials(store, clock, KEY_A).remember(
        site="demo", client_id="c1", login="editor", password="pw", uuid=None
    )
    assert await _credentials(store, clock, KEY_B).stored("demo", "c1", "editor") is None
    assert await _credentials(store, clock, KEY_B, KEY_A).stored("demo", "c1", "editor") is not None


async def test_reads_are_cached(store: Store) -> None:
    clock = FakeClock()
    credentials = _credentials(store, clock, cache=5)
    assert await credentials.stored("demo", "c1", "editor") is None
    await _credentials(store, clock).remember(
        site="demo", client_id="c1", login="editor", password="pw", uuid=None
    )
    assert await credentials.stored("demo", "c1", "editor") is None  # another replica's write, not seen yet
    clock.advance(6)
    assert await credentials.stored("demo", "c1", "editor") is not None


class _ExpiryStore(MemoryStore):
    """Records the expiry of every credential written."""

    def __init__(self) -> None:
        super().__init__()
        self.expiries: list[float] = []

    async def put_grant(
        self, kind: str, handle_hash: str, data: Mapping[str, Any], expires_at: float
    ) -> None:
        if kind == CREDENTIAL_KIND:
            self.expiries.append(expires_at)
        await super().put_grant(kind, handle_hash, data, expires_at)


async def test_an_entry_in_use_lives_on() -> None:
    store = _ExpiryStore()
    clock = FakeClock()
    credentials = _credentials(store, clock)
    await credentials.remember(site="demo", client_id="c1", login="editor", password="pw", uuid=None)
    clock.advance(10 * DAY)
    assert await credentials.stored("demo", "c1", "editor") is not None
    assert len(store.expiries) == 1  # young enough: no write on read
    clock.advance(10 * DAY)
    assert await credentials.stored("demo", "c1", "editor") is not None
    assert store.expiries[-1] == pytest.approx(clock.now + 30 * DAY)


async def test_oauth_users_act_with_their_granted_password_first(store: Store) -> None:
    credentials = _credentials(store, FakeClock())
    site = _site()
    await credentials.remember(site="demo", client_id="mcpc_1", login="editor", password="granted", uuid=None)
    await credentials.remember(
        site="demo", client_id="mcpc_1", login="stranger", password="theirs", uuid=None
    )
    assert await credentials.get(site, _principal("oauth_user")) == "granted"
    assert await credentials.get(site, _principal("oauth_user", "stranger")) == "theirs"
    assert await credentials.get(site, _principal("oauth_user", principal_id="mcpc_2")) == "configured pw"
    assert await credentials.get(site, _principal("oauth_user", "nobody")) is None
    # Other principals act only as configured users, even with the same id and login.
    assert await credentials.get(site, _principal("api_key")) == "configured pw"
    assert await credentials.get(site, _principal("oauth_client", "stranger")) is None
    assert await credentials.get(site, _principal("anonymous", None)) is None


async def _remember(credentials: UpstreamCredentials, site: str, client_id: str, login: str) -> None:
    password = f"pw {site} {client_id} {login}"
    await credentials.remember(site=site, client_id=client_id, login=login, password=password, uuid=login)


async def test_granted_entries_are_listed_per_site_and_forgotten(store: Store) -> None:
    clock = FakeClock()
    credentials = _credentials(store, clock)
    for site, client_id, login in [
        ("demo", "c1", "editor"),
        ("demo", "c1", "admin"),
        ("demo", "c2", "editor"),
    ]:
        await _remember(credentials, site, client_id, login)
    await _remember(credentials, "other", "c1", "editor")
    assert sorted(await credentials.granted("demo")) == [("c1", "admin"), ("c1", "editor"), ("c2", "editor")]
    assert sorted(await credentials.granted("demo", "c1")) == [("c1", "admin"), ("c1", "editor")]
    assert await credentials.granted("nowhere") == []
    forgotten = await credentials.forget("demo", "c1", "editor")
    assert forgotten is not None
    assert (forgotten.login, forgotten.password, forgotten.uuid) == ("editor", "pw demo c1 editor", "editor")
    assert await credentials.stored("demo", "c1", "editor") is None  # not from this replica's cache either
    assert await _credentials(store, clock).stored("demo", "c1", "editor") is None
    assert await credentials.forget("demo", "c1", "editor") is None
    assert sorted(await credentials.granted("demo")) == [("c1", "admin"), ("c2", "editor")]
    assert await credentials.granted("other") == [("c1", "editor")]
    await credentials.forget("other", "c1", "editor")
    assert await credentials.granted("other") == []
    assert "pw demo" not in str(store.__dict__)  # the index names entries, never their secrets


async def test_the_index_follows_the_entries_lifetime(store: Store) -> None:
    clock = FakeClock()
    credentials = _credentials(store, clock)
    await _remember(credentials, "demo", "c1", "editor")
    await _remember(credentials, "demo", "c1", "admin")
    clock.advance(20 * DAY)
    assert await credentials.stored("demo", "c1", "editor") is not None  # in use: extended
    clock.advance(20 * DAY)
    assert await credentials.granted("demo") == [("c1", "editor")]  # the unused one expired
    await credentials.forget("demo", "c1", "editor")
    assert await credentials.granted("demo") == []
