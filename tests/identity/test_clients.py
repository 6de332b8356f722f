from __future__ import annotations

from typing import Any

import pytest

from proxy.identity.clients import ClientService, check_redirect_uri
from proxy.identity.credentials import CredentialError
from proxy.identity.tokens import client_epoch
from proxy.stores import Store
from tests.identity.factories import PEPPER, SITE, FakeClock


@pytest.fixture
def clients(store: Store, clock: FakeClock) -> ClientService:
    return ClientService(store, pepper=PEPPER, clock=clock)


async def test_confidential_client_gets_a_secret_stored_hashed(clients: ClientService, store: Store) -> None:
    record, secret = await clients.add(SITE, "ci bot", "editor", ["posts:read"])
    assert secret is not None
    assert len(secret) >= 43
    stored = await store.get_client(record.client_id)
    assert stored == record
    assert record.secret_hash is not None
    assert secret not in repr(stored)
    assert record.grant_types == ("client_credentials",)
    assert await clients.authenticate(record.client_id, secret) == record


async def test_public_client_has_no_secret(clients: ClientService) -> None:
    record, secret = await clients.add(
        SITE,
        "desktop app",
        "editor",
        ["posts:read"],
        public=True,
        redirect_uris=["http://127.0.0.1:33418/callback"],
        grant_types=["authorization_code", "refresh_token"],
    )
    assert secret is None
    assert record.secret_hash is None
    assert await clients.authenticate(record.client_id, None) == record
    with pytest.raises(CredentialError, match="public_client_sent_secret"):
        await clients.authenticate(record.client_id, "anything")


@pytest.mark.parametrize(
    ("client_id", "secret", "reason"),
    [
        ("mcpc_unknown", "whatever", "unknown_client"),
        ("mcpc_unknown", None, "unknown_client"),
        ("", "whatever", "unknown_client"),
        ("KNOWN", "wrong", "bad_secret"),
        ("KNOWN", "", "bad_secret"),
        ("KNOWN", None, "secret_required"),
    ],
)
async def test_authentication_failures(
    clients: ClientService, client_id: str, secret: str | None, reason: str
) -> None:
    record, _ = await clients.add(SITE, "bot", "editor", [])
    with pytest.raises(CredentialError) as caught:
        await clients.authenticate(record.client_id if client_id == "KNOWN" else client_id, secret)
    assert caught.value.reason == reason


async def test_list_and_remove(clients: ClientService, store: Store) -> None:
    first, _ = await clients.add(SITE, "a", "editor", [])
    second, _ = await clients.add(SITE, "b", "editor", [])
    await clients.add("other", "c", "editor", [])
    assert {client.client_id for client in await clients.list(SITE)} == {first.client_id, second.client_id}
    assert await clients.remove(first.client_id) is True
    assert await clients.remove(first.client_id) is False
    assert await store.get_epoch(client_epoch(first.client_id)) == 1  # its tokens die with it
    assert [client.client_id for client in await clients.list(SITE)] == [second.client_id]
    with pytest.raises(CredentialError, match="unknown_client"):
        await clients.authenticate(first.client_id, "x")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"grant_types": []}, "non-empty subset"),
        ({"grant_types": ["password"]}, "non-empty subset"),
        ({"grant_types": ["implicit"]}, "non-empty subset"),
        ({"public": True}, "cannot use client_credentials"),
        ({"grant_types": ["authorization_code"]}, "needs at least one redirect URI"),
        ({"grant_types": ["client_credentials", "refresh_token"]}, "refresh_token needs authorization_code"),
        ({"redirect_uris": ["http://example.com/cb"]}, "must be https"),
        ({"scopes": ["a b"]}, "not a valid scope"),
        ({"site": ""}, "needs a site"),
    ],
)
async def test_bad_registrations(clients: ClientService, options: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"site": SITE, "name": "x", "wp_user": "editor", "scopes": []}
    arguments.update(options)
    with pytest.raises(ValueError, match=message):
        await clients.add(**arguments)


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example/cb",
        "https://app.example:8443/cb?x=1",
        "http://localhost:9999/cb",
        "http://127.0.0.1/cb",
        "http://[::1]:8080/cb",
    ],
)
def test_good_redirect_uris(uri: str) -> None:
    assert check_redirect_uri(uri) == uri


@pytest.mark.parametrize(
    "uri",
    [
        "http://app.example/cb",
        "https://app.example/cb#frag",
        "https://app.example/cb#",
        "/relative",
        "cb",
        "javascript:alert(1)",
        "https://",
        "http://localhost.evil.example/cb",
        "https://[::1/cb",
        "ftp://x/y",
    ],
)
def test_bad_redirect_uris(uri: str) -> None:
    with pytest.raises(ValueError, match="redirect URI"):
        check_redirect_uri(uri)
