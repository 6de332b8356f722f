"""Authorization transactions: a checked request kept while the user is away at WordPress approving it.

The request is stored under the hash of a random handle and taken back once (the store's `take_grant`),
so it cannot be replayed or altered on its way through WordPress: only the handle travels, in the
callback URL. A second random value, the binding, goes to the browser that started the flow as a
cookie; the callback must bring both, so a victim lured into finishing an attacker's transaction in
their own browser gets no code for the attacker's client.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from proxy.identity.hashing import handle_hash
from proxy.identity.oauth.authorization import AuthorizationRequest
from proxy.stores.base import Store

__all__ = ["TRANSACTION_KIND", "AuthorizationTransactions", "PendingAuthorization"]

TRANSACTION_KIND = "authz_txn"
MAX_HANDLE = 128


@dataclass(frozen=True, slots=True)
class PendingAuthorization:
    request: AuthorizationRequest
    _binding_hash: str

    def bound_to(self, binding: str | None) -> bool:
        """True when `binding` (the cookie) comes from the browser that started this transaction."""
        return binding is not None and hmac.compare_digest(handle_hash(binding), self._binding_hash)


class AuthorizationTransactions:
    def __init__(
        self, store: Store, *, ttl_seconds: float = 600, clock: Callable[[], float] = time.time
    ) -> None:
        """`ttl_seconds` is how long the user has to log in to WordPress and approve."""
        self._store = store
        self._ttl = ttl_seconds
        self._clock = clock

    @property
    def ttl_seconds(self) -> float:
        return self._ttl

    async def begin(self, request: AuthorizationRequest) -> tuple[str, str]:
        """Keep `request`; returns (handle for the callback URL, binding for the browser's cookie)."""
        handle, binding = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        data = {**request.to_data(), "binding": handle_hash(binding)}
        await self._store.put_grant(TRANSACTION_KIND, handle_hash(handle), data, self._clock() + self._ttl)
        return handle, binding

    async def finish(self, handle: str) -> PendingAuthorization | None:
        """The transaction, taken out for good; None when unknown, expired or finished already."""
        if not handle or len(handle) > MAX_HANDLE:
            return None
        data = await self._store.take_grant(TRANSACTION_KIND, handle_hash(handle))
        if data is None:
            return None
        return PendingAuthorization(AuthorizationRequest.from_data(data), data["binding"])
