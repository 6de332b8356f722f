"""create_store: the configured backend, with a relative SQLite path placed beside the config file."""

from __future__ import annotations

from pathlib import Path

from proxy.stores import MemoryStore, RedisStore, SqliteStore, StoreSettings, create_store


def test_memory_backend() -> None:
    assert isinstance(create_store(StoreSettings(backend="memory")), MemoryStore)


async def test_redis_backend_uses_url_and_prefix(redis_url: str, clean_redis_prefix: str) -> None:
    settings = StoreSettings(backend="redis", redis_url=redis_url, prefix=clean_redis_prefix)
    store = create_store(settings)
    assert isinstance(store, RedisStore)
    await store.open()
    try:
        assert await store.bump_epoch("site:demo") == 1
        twin = RedisStore(redis_url, clean_redis_prefix)
        await twin.open()
        assert await twin.get_epoch("site:demo") == 1
        await twin.close()
    finally:
        await store.close()


async def test_relative_sqlite_path_is_resolved_against_base_dir(tmp_path: Path) -> None:
    store = create_store(StoreSettings(path="state/nested/sidecar.db"), base_dir=tmp_path)
    assert isinstance(store, SqliteStore)
    assert (tmp_path / "state" / "nested").is_dir()

    await store.open()
    await store.close()
    assert (tmp_path / "state" / "nested" / "sidecar.db").is_file()


def test_absolute_sqlite_path_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "sidecar.db"
    create_store(StoreSettings(path=str(target)), base_dir=tmp_path / "config")
    assert target.parent.is_dir()
    assert not (tmp_path / "config").exists()
