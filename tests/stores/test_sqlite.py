"""What only the SQLite backend promises: one file that survives restarts, migrations, WAL, shared files."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy.stores import SqliteStore, StoreError, StoreUnavailable
from proxy.stores.migrations import MIGRATIONS
from tests.stores.factories import make_audit, make_client, make_key, make_signing_key


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "sidecar.db"


@pytest.fixture
async def sqlite_store(db_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(db_path)
    await store.open()
    yield store
    await store.close()


def _schema_versions(path: Path) -> list[int]:
    with sqlite3.connect(path) as db:
        return [version for (version,) in db.execute("SELECT version FROM schema_version ORDER BY version")]


async def test_data_survives_close_and_a_new_store_on_the_same_file(db_path: Path) -> None:
    first = SqliteStore(db_path)
    await first.open()
    await first.add_key(make_key("key-1"))
    await first.revoke_key("key-1", at=2000.0)
    await first.add_client(make_client("client-1"))
    await first.add_signing_key(make_signing_key("kid-1"))
    await first.revoke_token("jti-1", None)
    await first.bump_epoch("site:demo")
    await first.put_grant("refresh", "h1", {"family": "f1"}, time.time() + 60)
    await first.set_setting("switch.writes", False)
    await first.append_audit(make_audit("audit-1"))
    await first.close()

    second = SqliteStore(db_path)
    await second.open()
    try:
        key = await second.key_by_hash("hash-of-key-1")
        assert key is not None
        assert key.revoked_at == 2000.0
        assert await second.get_client("client-1") == make_client("client-1")
        assert await second.list_signing_keys() == [make_signing_key("kid-1")]
        assert await second.is_token_revoked("jti-1") is True
        assert await second.get_epoch("site:demo") == 1
        assert await second.take_grant("refresh", "h1") == {"family": "f1"}
        assert await second.get_settings() == {"switch.writes": False}
        assert await second.list_audit("demo") == [make_audit("audit-1")]
    finally:
        await second.close()


async def test_migrations_run_once_and_reopening_is_idempotent(db_path: Path) -> None:
    for _ in range(2):
        store = SqliteStore(db_path)
        await store.open()
        await store.open()
        await store.close()

    assert _schema_versions(db_path) == list(range(1, len(MIGRATIONS) + 1))


async def test_a_file_from_a_newer_sidecar_is_refused(db_path: Path) -> None:
    store = SqliteStore(db_path)
    await store.open()
    await store.close()
    with sqlite3.connect(db_path) as db:
        db.execute("INSERT INTO schema_version VALUES (?, 0)", (len(MIGRATIONS) + 1,))

    with pytest.raises(StoreError, match="newer than this sidecar"):
        await store.open()
    with pytest.raises(StoreUnavailable):
        await store.ping()


async def test_file_is_in_wal_mode(sqlite_store: SqliteStore, db_path: Path) -> None:
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_closed_store_is_unavailable(sqlite_store: SqliteStore) -> None:
    await sqlite_store.close()
    await sqlite_store.close()

    with pytest.raises(StoreUnavailable, match="not open"):
        await sqlite_store.get_key("key-1")


async def test_a_file_in_a_missing_folder_is_unavailable(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "missing-folder" / "sidecar.db")
    with pytest.raises(StoreUnavailable, match="missing-folder does not exist"):
        await store.open()


async def test_stores_opening_a_new_file_together_all_open(tmp_path: Path) -> None:
    """The sidecar and CLI commands may create the file at once; the WAL switch must not fail any of them.

    Before the retry, about one round in seven failed one opener with "database is locked"."""
    for round_number in range(30):
        path = tmp_path / f"race-{round_number}.db"
        stores = [SqliteStore(path) for _ in range(6)]
        try:
            await asyncio.gather(*(store.open() for store in stores))
            await asyncio.gather(*(store.ping() for store in stores))
        finally:
            await asyncio.gather(*(store.close() for store in stores))
        assert _schema_versions(path) == list(range(1, len(MIGRATIONS) + 1))


async def test_two_stores_on_one_file_stay_atomic(sqlite_store: SqliteStore, db_path: Path) -> None:
    twin = SqliteStore(db_path)
    await twin.open()
    try:
        epochs = await asyncio.gather(
            *(store.bump_epoch("site:demo") for _ in range(25) for store in (sqlite_store, twin))
        )
        assert sorted(epochs) == list(range(1, 51))

        await sqlite_store.put_grant("refresh", "h1", {"family": "f1"}, time.time() + 60)
        takes = await asyncio.gather(
            *(store.take_grant("refresh", "h1") for _ in range(10) for store in (sqlite_store, twin))
        )
        assert [take for take in takes if take is not None] == [{"family": "f1"}]

        await twin.revoke_token("jti-1", None)
        assert await sqlite_store.is_token_revoked("jti-1") is True
    finally:
        await twin.close()


async def test_a_cancelled_write_leaves_the_store_usable(sqlite_store: SqliteStore) -> None:
    for n in range(20):
        await sqlite_store.add_key(make_key(f"key-{n}"))

    write = asyncio.create_task(sqlite_store.revoke_site_keys("demo", at=2000.0))
    await asyncio.sleep(0)
    write.cancel()
    with pytest.raises(asyncio.CancelledError):
        await write

    # the shielded transaction ran to its end: all keys revoked together, and the next write works
    await sqlite_store.add_key(make_key("after"))
    revoked = [key.revoked_at for key in await sqlite_store.list_keys("demo") if key.id != "after"]
    assert revoked == [2000.0] * 20
    assert await sqlite_store.revoke_site_keys("demo", at=3000.0) == 1


async def test_expired_grants_and_revocations_are_purged(sqlite_store: SqliteStore, db_path: Path) -> None:
    await sqlite_store.put_grant("code", "old", {"v": 1}, time.time() - 1)
    await sqlite_store.revoke_token("old", time.time() - 1)
    await sqlite_store.put_grant("code", "new", {"v": 2}, time.time() + 60)
    await sqlite_store.revoke_token("new", time.time() + 60)

    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT handle_hash FROM grants").fetchall() == [("new",)]
        assert db.execute("SELECT jti FROM revoked_tokens").fetchall() == [("new",)]


async def test_concurrent_appends_share_transactions_and_keep_their_order(
    sqlite_store: SqliteStore, db_path: Path
) -> None:
    ids = [f"audit-{n:02d}" for n in range(40)]
    await asyncio.gather(*(sqlite_store.append_audit(make_audit(record_id)) for record_id in ids))
    # committed by the time every append returned: another connection sees them all
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT count(*) FROM audit").fetchone() == (40,)
    assert [record.id for record in await sqlite_store.list_audit("demo", limit=100)] == ids[::-1]


async def test_records_appended_within_the_batch_window_share_one_commit(db_path: Path) -> None:
    """One connection's tool calls come one after another: the window lets them share a commit."""
    store = SqliteStore(db_path, audit_batch_seconds=0.5)  # far longer than the steps below take
    await store.open()
    try:
        first = asyncio.create_task(store.append_audit(make_audit("first")))
        await asyncio.sleep(0.02)
        second = asyncio.create_task(store.append_audit(make_audit("second")))
        await asyncio.sleep(0.02)
        assert not first.done()  # still waiting for company
        await asyncio.gather(first, second)
        assert [record.id for record in await store.list_audit("demo")] == ["second", "first"]
        late = asyncio.create_task(store.append_audit(make_audit("queued at close")))
        await asyncio.sleep(0)
    finally:
        await store.close()  # writes what is still waiting for its window
    assert late.done()
    assert late.exception() is None
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT count(*) FROM audit").fetchone() == (3,)


async def test_the_call_log_is_trimmed_to_its_cap_per_site(db_path: Path) -> None:
    store = SqliteStore(db_path, audit_max_len=150)
    await store.open()
    try:
        for number in range(260):  # trimmed every 100 records written (1% of the cap, at least 100)
            await store.append_audit(make_audit(f"demo-{number:03d}", site="demo"))
        await store.append_audit(make_audit("other-1", site="other"))
        kept = [record.id for record in await store.list_audit("demo", limit=1000)]
        assert len(kept) == 210  # trimmed to 150 at the 200th, then 60 more
        assert kept[0] == "demo-259"
        assert kept[-1] == "demo-050"
        assert [record.id for record in await store.list_audit("other")] == ["other-1"]
    finally:
        await store.close()
    lowered = SqliteStore(db_path, audit_max_len=20)  # a lower cap applies at the next start
    await lowered.open()
    try:
        kept = [record.id for record in await lowered.list_audit("demo", limit=1000)]
        assert kept == [f"demo-{number:03d}" for number in range(259, 239, -1)]
        assert len(await lowered.list_audit("other")) == 1
    finally:
        await lowered.close()


async def test_a_failing_batch_fails_every_waiter_and_writes_none_of_it(
    sqlite_store: SqliteStore, db_path: Path
) -> None:
    with sqlite3.connect(db_path) as db:  # SQLite itself refuses one record of the batch
        db.execute(
            "CREATE TRIGGER poison BEFORE INSERT ON audit WHEN NEW.data LIKE '%poison%'"
            " BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
        )
    results = await asyncio.gather(
        *(sqlite_store.append_audit(make_audit(record_id)) for record_id in ["a", "poison", "b"]),
        return_exceptions=True,
    )
    assert all(isinstance(result, StoreError) for result in results)
    assert await sqlite_store.list_audit("demo") == []
    await sqlite_store.append_audit(make_audit("after"))  # the writer recovers for the next batch
    assert [record.id for record in await sqlite_store.list_audit("demo")] == ["after"]
