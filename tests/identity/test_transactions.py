"""Authorization transactions: kept once, for a while, and bound to the browser that started them."""

from __future__ import annotations

import asyncio

from proxy.identity.oauth.authorization import AuthorizationRequest
from proxy.identity.oauth.transactions import AuthorizationTransactions
from proxy.stores import Store
from tests.identity.factories import AUDIENCE

REQUEST = AuthorizationRequest("mcpc_1", "http://127.0.0.1:9/cb", ("mcp.read",), AUDIENCE, "c" * 43, "st")


async def test_a_transaction_is_finished_once(store: Store) -> None:
    transactions = AuthorizationTransactions(store)
    handle, binding = await transactions.begin(REQUEST)
    pending = await transactions.finish(handle)
    assert pending is not None
    assert pending.request == REQUEST
    assert pending.bound_to(binding)
    assert await transactions.finish(handle) is None


async def test_only_the_starting_browser_matches(store: Store) -> None:
    transactions = AuthorizationTransactions(store)
    handle, binding = await transactions.begin(REQUEST)
    _, other_binding = await transactions.begin(REQUEST)
    pending = await transactions.finish(handle)
    assert pending is not None
    assert not pending.bound_to(None)
    assert not pending.bound_to(other_binding)
    assert not pending.bound_to(handle)
    assert pending.bound_to(binding)


async def test_unknown_oversized_and_expired_handles(store: Store) -> None:
    transactions = AuthorizationTransactions(store, ttl_seconds=0.05)
    handle, _ = await transactions.begin(REQUEST)
    assert await transactions.finish("") is None
    assert await transactions.finish("nope") is None
    assert await transactions.finish("h" * 500) is None
    await asyncio.sleep(0.1)
    assert await transactions.finish(handle) is None


async def test_only_hashes_are_stored(store: Store) -> None:
    handle, binding = await AuthorizationTransactions(store).begin(REQUEST)
    assert await store.take_grant("authz_txn", handle) is None  # stored under the handle's hash
    assert binding not in str(store.__dict__)
