"""The shared store: many sidecar replicas see one Redis, so a revocation on one is seen by all at once.

Every key lives under `prefix`. Records are codec JSON strings; each kind also has a sorted-set index
(score: created_at, so ties order by id as in the other backends). Multi-key writes are MULTI/EXEC
transactions guarded by WATCH (a concurrent change retries the whole read-check-write), single-key ones
use Redis's own atomic commands: GETDEL for grants, INCR for epochs, PXAT expiry for revocations.
No Lua: its cjson would round our float timestamps. Not for Redis Cluster (keys span hash slots).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from proxy.stores.base import DuplicateRecord, Store, StoreError, StoreUnavailable
from proxy.stores.changes import retired, revoked, revoked_live, touched
from proxy.stores.codec import dump_record, dump_value, load_record, load_value
from proxy.stores.guard import translating
from proxy.stores.records import ApiKeyRecord, AuditRecord, ClientRecord, SigningKeyRecord

__all__ = ["RedisStore"]

_guarded = translating(
    backend="redis", unavailable=(RedisConnectionError, RedisTimeoutError), failed=RedisError
)

# Per store. A burst beyond it waits for a free connection instead of failing.
_MAX_CONNECTIONS = 64

T = TypeVar("T")
R = TypeVar("R", ApiKeyRecord, ClientRecord, SigningKeyRecord)


class RedisStore(Store):
    """A store in Redis, shared by every replica that uses the same URL and prefix.

    `timeout_seconds` bounds every connect and every reply, so a dead Redis surfaces as StoreUnavailable
    within about that long. A refused or dropped connection is retried once at once (it reconnects a pooled
    connection after a Redis restart); timeouts are not retried. Each site's call log is a stream capped
    at about `audit_max_len` entries.
    """

    def __init__(
        self, url: str, prefix: str, *, timeout_seconds: float = 2.0, audit_max_len: int = 100_000
    ) -> None:
        self._url = url
        self._prefix = prefix
        self._timeout = timeout_seconds
        self._audit_max_len = audit_max_len
        self._redis: aioredis.Redis | None = None

    # plumbing ------------------------------------------------------------------------------
    def _k(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    def _client(self) -> aioredis.Redis:
        if self._redis is None:
            raise StoreUnavailable("redis store is not open")
        return self._redis

    async def _transaction(self, body: Callable[[Pipeline], Awaitable[T]], *watch: str) -> T:
        """Run `body` under WATCH: it reads, calls pipe.multi(), queues writes; retried on a conflict."""
        result: T = await self._client().transaction(body, *watch, value_from_callable=True)
        return result

    async def _insert(
        self, entries: Mapping[str, str], index: str, member: str, score: float, duplicate: str
    ) -> None:
        """Write every entry and index `member`, unless one of the entries exists already."""

        async def body(pipe: Pipeline) -> None:
            if await pipe.exists(*entries):
                raise DuplicateRecord(duplicate)
            pipe.multi()
            pipe.mset(dict(entries))
            pipe.zadd(index, {member: score})

        await self._transaction(body, *entries)

    async def _rewrite(self, name: str, cls: type[R], change: Callable[[R], R | None]) -> bool:
        """Replace the record under `name` by `change(record)`; False when absent or change gives None."""

        async def body(pipe: Pipeline) -> bool:
            text = await pipe.get(name)
            changed = None if text is None else change(load_record(cls, text))
            if changed is not None:
                pipe.multi()
                pipe.set(name, dump_record(changed))
            return changed is not None

        return await self._transaction(body, name)

    async def _get(self, name: str, cls: type[R]) -> R | None:
        text = await self._client().get(name)
        return None if text is None else load_record(cls, text)

    async def _list(self, index: str, kind: str, cls: type[R]) -> list[R]:
        ids = cast(list[str], await self._client().zrange(index, 0, -1))
        texts = await self._client().mget([self._k(kind, member) for member in ids]) if ids else []
        return [load_record(cls, text) for text in texts if text is not None]

    # lifecycle -----------------------------------------------------------------------------
    @_guarded
    async def open(self) -> None:
        if self._redis is not None:
            return
        try:
            pool = aioredis.BlockingConnectionPool.from_url(
                self._url,
                max_connections=_MAX_CONNECTIONS,
                timeout=self._timeout,  # wait for a free connection at most this long
                decode_responses=True,  # replies are str (redis-py's types still say bytes | str: cast)
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
                retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            )
        except ValueError:  # the message could quote the URL, password and all
            raise StoreError("redis_url is not a Redis URL (redis://, rediss:// or unix://)") from None
        client = aioredis.Redis.from_pool(pool)
        try:
            await client.ping()
        except BaseException:
            await client.aclose()
            raise
        self._redis = client

    @_guarded
    async def close(self) -> None:
        if self._redis is not None:
            client, self._redis = self._redis, None
            await client.aclose()

    @_guarded
    async def ping(self) -> None:
        await self._client().ping()

    # API keys ------------------------------------------------------------------------------
    @_guarded
    async def add_key(self, record: ApiKeyRecord) -> None:
        await self._insert(
            {self._k("key", record.id): dump_record(record), self._k("key-hash", record.key_hash): record.id},
            self._k("site-keys", record.site),
            record.id,
            record.created_at,
            f"an API key with id {record.id!r} or the same hash exists already",
        )

    @_guarded
    async def get_key(self, key_id: str) -> ApiKeyRecord | None:
        return await self._get(self._k("key", key_id), ApiKeyRecord)

    @_guarded
    async def key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        key_id = cast(str | None, await self._client().get(self._k("key-hash", key_hash)))
        return None if key_id is None else await self._get(self._k("key", key_id), ApiKeyRecord)

    @_guarded
    async def list_keys(self, site: str) -> list[ApiKeyRecord]:
        return await self._list(self._k("site-keys", site), "key", ApiKeyRecord)

    @_guarded
    async def revoke_key(self, key_id: str, at: float) -> bool:
        return await self._rewrite(self._k("key", key_id), ApiKeyRecord, lambda key: revoked(key, at))

    @_guarded
    async def revoke_site_keys(self, site: str, at: float) -> int:
        index = self._k("site-keys", site)

        async def body(pipe: Pipeline) -> int:
            names = [self._k("key", key_id) for key_id in cast(list[str], await pipe.zrange(index, 0, -1))]
            if names:
                await pipe.watch(*names)
            texts = await pipe.mget(names) if names else []
            changed = revoked_live((load_record(ApiKeyRecord, text) for text in texts if text), at)
            pipe.multi()
            for key in changed:
                pipe.set(self._k("key", key.id), dump_record(key))
            return len(changed)

        return await self._transaction(body, index)

    @_guarded
    async def touch_keys(self, last_used: Mapping[str, float]) -> None:
        names = [self._k("key", key_id) for key_id in last_used]
        if not names:
            return

        async def body(pipe: Pipeline) -> None:
            texts = await pipe.mget(names)
            keys = [load_record(ApiKeyRecord, text) for text in texts if text is not None]
            changed = [key for key in (touched(key, last_used[key.id]) for key in keys) if key is not None]
            pipe.multi()
            for key in changed:
                pipe.set(self._k("key", key.id), dump_record(key))

        await self._transaction(body, *names)

    # OAuth clients -------------------------------------------------------------------------
    @_guarded
    async def add_client(self, record: ClientRecord) -> None:
        await self._insert(
            {self._k("client", record.client_id): dump_record(record)},
            self._k("site-clients", record.site),
            record.client_id,
            record.created_at,
            f"an OAuth client with id {record.client_id!r} exists already",
        )

    @_guarded
    async def get_client(self, client_id: str) -> ClientRecord | None:
        return await self._get(self._k("client", client_id), ClientRecord)

    @_guarded
    async def list_clients(self, site: str) -> list[ClientRecord]:
        return await self._list(self._k("site-clients", site), "client", ClientRecord)

    @_guarded
    async def remove_client(self, client_id: str) -> bool:
        name = self._k("client", client_id)

        async def body(pipe: Pipeline) -> bool:
            text = await pipe.get(name)
            if text is None:
                return False
            pipe.multi()
            pipe.delete(name)
            pipe.zrem(self._k("site-clients", load_record(ClientRecord, text).site), client_id)
            return True

        return await self._transaction(body, name)

    # access-token revocation ---------------------------------------------------------------
    @_guarded
    async def revoke_token(self, jti: str, expires_at: float | None) -> None:
        name = self._k("revoked-token", jti)
        if expires_at is None:
            await self._client().set(name, "1")
        else:  # rounded up: a revocation may outlive its token by a millisecond, never the reverse
            await self._client().set(name, "1", pxat=math.ceil(expires_at * 1000))

    @_guarded
    async def is_token_revoked(self, jti: str) -> bool:
        return bool(await self._client().exists(self._k("revoked-token", jti)))

    @_guarded
    async def get_epoch(self, scope: str) -> int:
        value = await self._client().get(self._k("epoch", scope))
        return 0 if value is None else int(value)

    @_guarded
    async def bump_epoch(self, scope: str) -> int:
        return int(await self._client().incr(self._k("epoch", scope)))

    # one-time grants -----------------------------------------------------------------------
    @_guarded
    async def put_grant(
        self, kind: str, handle_hash: str, data: Mapping[str, Any], expires_at: float
    ) -> None:
        # rounded down: a grant may die a millisecond early, never late; a past expiry stores nothing
        await self._client().set(
            self._k("grant", kind, handle_hash), dump_value(dict(data)), pxat=math.floor(expires_at * 1000)
        )

    @_guarded
    async def take_grant(self, kind: str, handle_hash: str) -> dict[str, Any] | None:
        text = await self._client().getdel(self._k("grant", kind, handle_hash))
        if text is None:
            return None
        data: dict[str, Any] = load_value(text)
        return data

    @_guarded
    async def get_grant(self, kind: str, handle_hash: str) -> dict[str, Any] | None:
        text = await self._client().get(self._k("grant", kind, handle_hash))
        if text is None:
            return None
        data: dict[str, Any] = load_value(text)
        return data

    # signing keys --------------------------------------------------------------------------
    @_guarded
    async def list_signing_keys(self) -> list[SigningKeyRecord]:
        return await self._list(self._k("signing-keys"), "signing-key", SigningKeyRecord)

    @_guarded
    async def add_signing_key(self, record: SigningKeyRecord) -> None:
        await self._insert(
            {self._k("signing-key", record.kid): dump_record(record)},
            self._k("signing-keys"),
            record.kid,
            record.created_at,
            f"a signing key with kid {record.kid!r} exists already",
        )

    @_guarded
    async def retire_signing_key(self, kid: str, at: float) -> bool:
        return await self._rewrite(
            self._k("signing-key", kid), SigningKeyRecord, lambda key: retired(key, at)
        )

    # runtime settings ----------------------------------------------------------------------
    @_guarded
    async def get_settings(self) -> dict[str, Any]:
        stored = cast(dict[str, str], await self._client().hgetall(self._k("settings")))
        return {name: load_value(text) for name, text in stored.items()}

    @_guarded
    async def set_setting(self, name: str, value: Any | None) -> None:
        if value is None:
            await self._client().hdel(self._k("settings"), name)
        else:
            await self._client().hset(self._k("settings"), name, dump_value(value))

    # call log ------------------------------------------------------------------------------
    @_guarded
    async def append_audit(self, record: AuditRecord) -> None:
        await self._client().xadd(
            self._k("audit", record.site),
            {"record": dump_record(record)},
            maxlen=self._audit_max_len,
            approximate=True,
        )

    @_guarded
    async def list_audit(self, site: str, limit: int = 100) -> list[AuditRecord]:
        if limit <= 0:
            return []
        entries = cast(
            list[tuple[str, dict[str, str]]],
            await self._client().xrevrange(self._k("audit", site), count=limit),
        )
        return [load_record(AuditRecord, fields["record"]) for _, fields in entries]
