"""The embedded default: one SQLite file in WAL mode through aiosqlite, surviving restarts.

Records are stored as codec JSON beside the columns that lookups need (see migrations.py). Every write
is one statement or one BEGIN IMMEDIATE transaction, so a failure leaves nothing half-written, and
read-modify-write changes hold SQLite's write lock from read to write, even against other processes.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from proxy.observe import get_logger
from proxy.stores.base import DuplicateRecord, Store, StoreError, StoreUnavailable
from proxy.stores.changes import retired, revoked, revoked_live, touched
from proxy.stores.codec import dump_record, dump_value, load_record, load_value
from proxy.stores.guard import translating
from proxy.stores.migrations import MIGRATIONS
from proxy.stores.records import ApiKeyRecord, AuditRecord, ClientRecord, SigningKeyRecord

__all__ = ["SqliteStore"]

log = get_logger("proxy.stores.sqlite")

# "database is locked" past the busy timeout, "unable to open database file", disk I/O errors.
_guarded = translating(
    backend="sqlite", unavailable=(sqlite3.OperationalError,), failed=sqlite3.Error, shielded=True
)

Row = tuple[Any, ...]


class SqliteStore(Store):
    """A store in one SQLite file; several processes may share it (SQLite's locks serialise writers).

    One connection per store, used by one operation at a time. `timeout_seconds` is how long a write
    waits for another process's write before the store reports itself unavailable;
    `audit_batch_seconds` how long a call-log record waits for others to share its commit;
    `audit_max_len` how many call-log records are kept per site (None: all of them).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        timeout_seconds: float = 2.0,
        audit_batch_seconds: float = 0.0,
        audit_max_len: int | None = None,
    ) -> None:
        self._path = Path(path)
        self._timeout = timeout_seconds
        self._audit_batch = audit_batch_seconds
        self._audit_max_len = audit_max_len
        # records written per site since its call log was last trimmed to audit_max_len
        self._audit_unpruned: Counter[str] = Counter()
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        # call-log group commit: records waiting for the writer, and the writer while it runs
        self._audit_queue: list[tuple[AuditRecord, asyncio.Future[None]]] = []
        self._audit_writer: asyncio.Task[None] | None = None

    # plumbing ------------------------------------------------------------------------------
    def _connection(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreUnavailable(f"sqlite store {self._path} is not open")
        return self._db

    async def _run(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        """Run one statement (its own implicit transaction) and return its rows."""
        async with self._lock:
            return [tuple(row) for row in await self._connection().execute_fetchall(sql, params)]

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error: all of the block's writes or none."""
        async with self._lock:
            db = self._connection()
            await _begin(db)
            try:
                yield db
                await db.commit()
            except BaseException:
                await db.rollback()
                raise

    # lifecycle -----------------------------------------------------------------------------
    @_guarded
    async def open(self) -> None:
        async with self._lock:
            if self._db is not None:
                return
            if not self._path.parent.is_dir():  # the usual misconfiguration, named plainly
                raise StoreUnavailable(f"sqlite store folder {self._path.parent} does not exist")
            db = await aiosqlite.connect(self._path, timeout=self._timeout, isolation_level=None)
            try:
                await _enter_wal(db, self._timeout)
                await db.execute("PRAGMA synchronous=FULL")  # a returned write survives a power cut
                await _migrate(db)
                if self._audit_max_len is not None:  # the cap may have been lowered since the last run
                    for (site,) in list(await db.execute_fetchall("SELECT DISTINCT site FROM audit")):
                        await _trim_audit(db, site, self._audit_max_len)
            except BaseException:
                await db.close()
                raise
            self._db = db

    @_guarded
    async def close(self) -> None:
        if self._audit_writer is not None:  # records already accepted are written before closing
            await asyncio.wait([self._audit_writer])
        async with self._lock:
            if self._db is not None:
                db, self._db = self._db, None
                await db.close()

    @_guarded
    async def ping(self) -> None:
        await self._run("SELECT 1")

    # API keys ------------------------------------------------------------------------------
    @_guarded
    async def add_key(self, record: ApiKeyRecord) -> None:
        try:
            await self._run(
                "INSERT INTO api_keys (id, site, key_hash, created_at, data) VALUES (?, ?, ?, ?, ?)",
                (record.id, record.site, record.key_hash, record.created_at, dump_record(record)),
            )
        except sqlite3.IntegrityError:
            raise DuplicateRecord(
                f"an API key with id {record.id!r} or the same hash exists already"
            ) from None

    @_guarded
    async def get_key(self, key_id: str) -> ApiKeyRecord | None:
        rows = await self._run("SELECT data FROM api_keys WHERE id = ?", (key_id,))
        return load_record(ApiKeyRecord, rows[0][0]) if rows else None

    @_guarded
    async def key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        rows = await self._run("SELECT data FROM api_keys WHERE key_hash = ?", (key_hash,))
        return load_record(ApiKeyRecord, rows[0][0]) if rows else None

    @_guarded
    async def list_keys(self, site: str) -> list[ApiKeyRecord]:
        rows = await self._run("SELECT data FROM api_keys WHERE site = ? ORDER BY created_at, id", (site,))
        return [load_record(ApiKeyRecord, data) for (data,) in rows]

    @_guarded
    async def revoke_key(self, key_id: str, at: float) -> bool:
        async with self._transaction() as db:
            rows = list(await db.execute_fetchall("SELECT data FROM api_keys WHERE id = ?", (key_id,)))
            changed = revoked(load_record(ApiKeyRecord, rows[0][0]), at) if rows else None
            if changed is not None:
                await _save_keys(db, [changed])
        return changed is not None

    @_guarded
    async def revoke_site_keys(self, site: str, at: float) -> int:
        async with self._transaction() as db:
            rows = await db.execute_fetchall("SELECT data FROM api_keys WHERE site = ?", (site,))
            changed = revoked_live((load_record(ApiKeyRecord, data) for (data,) in rows), at)
            await _save_keys(db, changed)
        return len(changed)

    @_guarded
    async def touch_keys(self, last_used: Mapping[str, float]) -> None:
        if not last_used:
            return
        async with self._transaction() as db:
            rows = await db.execute_fetchall(
                "SELECT data FROM api_keys WHERE id IN (SELECT value FROM json_each(?))",
                (dump_value(list(last_used)),),
            )
            keys = [load_record(ApiKeyRecord, data) for (data,) in rows]
            changed = [key for key in (touched(key, last_used[key.id]) for key in keys) if key is not None]
            await _save_keys(db, changed)

    # OAuth clients -------------------------------------------------------------------------
    @_guarded
    async def add_client(self, record: ClientRecord) -> None:
        try:
            await self._run(
                "INSERT INTO clients (client_id, site, created_at, data) VALUES (?, ?, ?, ?)",
                (record.client_id, record.site, record.created_at, dump_record(record)),
            )
        except sqlite3.IntegrityError:
            raise DuplicateRecord(f"an OAuth client with id {record.client_id!r} exists already") from None

    @_guarded
    async def get_client(self, client_id: str) -> ClientRecord | None:
        rows = await self._run("SELECT data FROM clients WHERE client_id = ?", (client_id,))
        return load_record(ClientRecord, rows[0][0]) if rows else None

    @_guarded
    async def list_clients(self, site: str) -> list[ClientRecord]:
        rows = await self._run(
            "SELECT data FROM clients WHERE site = ? ORDER BY created_at, client_id", (site,)
        )
        return [load_record(ClientRecord, data) for (data,) in rows]

    @_guarded
    async def remove_client(self, client_id: str) -> bool:
        rows = await self._run("DELETE FROM clients WHERE client_id = ? RETURNING client_id", (client_id,))
        return bool(rows)

    # access-token revocation ---------------------------------------------------------------
    @_guarded
    async def revoke_token(self, jti: str, expires_at: float | None) -> None:
        async with self._transaction() as db:
            await db.execute("DELETE FROM revoked_tokens WHERE expires_at <= ?", (time.time(),))
            await db.execute(
                "INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?)"
                " ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at",
                (jti, expires_at),
            )

    @_guarded
    async def is_token_revoked(self, jti: str) -> bool:
        rows = await self._run(
            "SELECT 1 FROM revoked_tokens WHERE jti = ? AND (expires_at IS NULL OR expires_at > ?)",
            (jti, time.time()),
        )
        return bool(rows)

    @_guarded
    async def get_epoch(self, scope: str) -> int:
        rows = await self._run("SELECT value FROM epochs WHERE scope = ?", (scope,))
        return int(rows[0][0]) if rows else 0

    @_guarded
    async def bump_epoch(self, scope: str) -> int:
        rows = await self._run(
            "INSERT INTO epochs (scope, value) VALUES (?, 1)"
            " ON CONFLICT (scope) DO UPDATE SET value = value + 1 RETURNING value",
            (scope,),
        )
        return int(rows[0][0])

    # one-time grants -----------------------------------------------------------------------
    @_guarded
    async def put_grant(
        self, kind: str, handle_hash: str, data: Mapping[str, Any], expires_at: float
    ) -> None:
        text = dump_value(dict(data))
        async with self._transaction() as db:
            await db.execute("DELETE FROM grants WHERE expires_at <= ?", (time.time(),))
            await db.execute(
                "INSERT OR REPLACE INTO grants (kind, handle_hash, expires_at, data) VALUES (?, ?, ?, ?)",
                (kind, handle_hash, expires_at, text),
            )

    @_guarded
    async def take_grant(self, kind: str, handle_hash: str) -> dict[str, Any] | None:
        rows = await self._run(
            "DELETE FROM grants WHERE kind = ? AND handle_hash = ? RETURNING data, expires_at",
            (kind, handle_hash),
        )
        if not rows or rows[0][1] <= time.time():
            return None
        data: dict[str, Any] = load_value(rows[0][0])
        return data

    @_guarded
    async def get_grant(self, kind: str, handle_hash: str) -> dict[str, Any] | None:
        rows = await self._run(
            "SELECT data FROM grants WHERE kind = ? AND handle_hash = ? AND expires_at > ?",
            (kind, handle_hash, time.time()),
        )
        if not rows:
            return None
        data: dict[str, Any] = load_value(rows[0][0])
        return data

    # signing keys --------------------------------------------------------------------------
    @_guarded
    async def list_signing_keys(self) -> list[SigningKeyRecord]:
        rows = await self._run("SELECT data FROM signing_keys ORDER BY created_at, kid")
        return [load_record(SigningKeyRecord, data) for (data,) in rows]

    @_guarded
    async def add_signing_key(self, record: SigningKeyRecord) -> None:
        try:
            await self._run(
                "INSERT INTO signing_keys (kid, created_at, data) VALUES (?, ?, ?)",
                (record.kid, record.created_at, dump_record(record)),
            )
        except sqlite3.IntegrityError:
            raise DuplicateRecord(f"a signing key with kid {record.kid!r} exists already") from None

    @_guarded
    async def retire_signing_key(self, kid: str, at: float) -> bool:
        async with self._transaction() as db:
            rows = list(await db.execute_fetchall("SELECT data FROM signing_keys WHERE kid = ?", (kid,)))
            changed = retired(load_record(SigningKeyRecord, rows[0][0]), at) if rows else None
            if changed is not None:
                await db.execute(
                    "UPDATE signing_keys SET data = ? WHERE kid = ?", (dump_record(changed), kid)
                )
        return changed is not None

    # runtime settings ----------------------------------------------------------------------
    @_guarded
    async def get_settings(self) -> dict[str, Any]:
        rows = await self._run("SELECT name, value FROM settings")
        return {name: load_value(value) for name, value in rows}

    @_guarded
    async def set_setting(self, name: str, value: Any | None) -> None:
        if value is None:
            await self._run("DELETE FROM settings WHERE name = ?", (name,))
            return
        await self._run(
            "INSERT INTO settings (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, dump_value(value)),
        )

    # call log ------------------------------------------------------------------------------
    @_guarded
    async def append_audit(self, record: AuditRecord) -> None:
        """Queue the record for the writer and wait until its transaction is committed (or failed).

        Group commit: records appended while a batch waits (`audit_batch_seconds`) or is being written
        go together in the next transaction, so tool calls share one commit and one fsync instead of
        paying for one each (about 0.1 ms of CPU, however small the batch). A record is in memory
        until then: `close()` writes what is queued.
        """
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._audit_queue.append((record, done))
        if self._audit_writer is None:
            self._audit_writer = asyncio.create_task(self._write_audit())
        await done

    async def _write_audit(self) -> None:
        """Write queued records, one transaction per batch, until none are left; every waiter of a
        failed batch gets its error (the recorder then logs the records instead)."""
        try:
            while self._audit_queue:
                if self._audit_batch > 0:
                    await asyncio.sleep(self._audit_batch)
                batch, self._audit_queue = self._audit_queue, []
                try:
                    rows = dump_value([[record.site, dump_record(record)] for record, _ in batch])
                    # one statement: atomic, one trip to the worker thread, rows numbered in list order
                    await self._run(
                        "INSERT INTO audit (site, data) SELECT json_extract(value, '$[0]'),"
                        " json_extract(value, '$[1]') FROM json_each(?) ORDER BY key",
                        (rows,),
                    )
                except BaseException as exc:
                    error = exc if isinstance(exc, Exception) else StoreUnavailable("sqlite store stopped")
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(error)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
                await self._trim_audit_after(batch)
        finally:
            self._audit_writer = None
            left, self._audit_queue = self._audit_queue, []
            for _, done in left:  # only when the writer itself was cancelled
                done.set_exception(StoreUnavailable("sqlite store stopped before writing the record"))

    async def _trim_audit_after(self, batch: list[tuple[AuditRecord, asyncio.Future[None]]]) -> None:
        """Keep each site's call log near `audit_max_len`: trimmed after every 1% of the cap (at least
        100 records) written to it, so it never exceeds the cap by more, and the delete runs once per
        many records rather than once per batch."""
        if self._audit_max_len is None:
            return
        self._audit_unpruned.update(record.site for record, _ in batch)
        slack = max(100, self._audit_max_len // 100)
        for site in [site for site, count in self._audit_unpruned.items() if count >= slack]:
            del self._audit_unpruned[site]
            try:
                async with self._lock:
                    await _trim_audit(self._connection(), site, self._audit_max_len)
            except (sqlite3.Error, StoreUnavailable) as exc:  # the records are safe; trimming waits
                log.warning("audit_trim_failed", site=site, error=type(exc).__name__)

    @_guarded
    async def list_audit(self, site: str, limit: int = 100) -> list[AuditRecord]:
        rows = await self._run(
            "SELECT data FROM audit WHERE site = ? ORDER BY seq DESC LIMIT ?", (site, max(limit, 0))
        )
        return [load_record(AuditRecord, data) for (data,) in rows]


async def _trim_audit(db: aiosqlite.Connection, site: str, keep: int) -> None:
    """Drop a site's call-log records older than its newest `keep` (one indexed delete, autocommit)."""
    await db.execute(
        "DELETE FROM audit WHERE site = ?1 AND seq <="
        " (SELECT seq FROM audit WHERE site = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
        (site, keep),
    )


async def _enter_wal(db: aiosqlite.Connection, retry_seconds: float) -> None:
    """Switch the file to WAL, retrying while another opener holds it.

    Unlike other statements, the switch answers "database is locked" at once instead of waiting on
    the busy timeout, so two processes creating the file together (the sidecar and a CLI command, two
    CLI commands) would otherwise fail at random. The mode persists in the file: once it is WAL, this
    is a no-op that takes no lock.
    """
    deadline = time.monotonic() + retry_seconds
    while True:
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
        await asyncio.sleep(random.uniform(0.005, 0.03))  # jittered, so openers don't retry in step


async def _begin(db: aiosqlite.Connection) -> None:
    """Take the write lock now, so a read-modify-write never loses a race to another writer."""
    await db.execute("BEGIN IMMEDIATE")


async def _save_keys(db: aiosqlite.Connection, keys: list[ApiKeyRecord]) -> None:
    await db.executemany(
        "UPDATE api_keys SET data = ? WHERE id = ?", [(dump_record(key), key.id) for key in keys]
    )


async def _migrate(db: aiosqlite.Connection) -> None:
    """Bring the file to the newest schema in one transaction; a file from a newer sidecar is refused."""
    await _begin(db)
    try:
        await db.execute(
            "CREATE TABLE IF NOT EXISTS schema_version"
            " (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        rows = list(await db.execute_fetchall("SELECT coalesce(max(version), 0) FROM schema_version"))
        current = int(rows[0][0])
        if current > len(MIGRATIONS):
            raise StoreError(
                f"the database has schema version {current}, newer than this sidecar knows "
                f"({len(MIGRATIONS)}): upgrade the sidecar"
            )
        for version, statements in enumerate(MIGRATIONS[current:], start=current + 1):
            for statement in statements:
                await db.execute(statement)
            await db.execute("INSERT INTO schema_version VALUES (?, ?)", (version, time.time()))
        await db.commit()
    except BaseException:
        await db.rollback()
        raise
