"""What only the memory backend adds: a bounded call log per site."""

from __future__ import annotations

from proxy.stores import MemoryStore
from tests.stores.factories import make_audit


async def test_audit_keeps_the_newest_records_per_site() -> None:
    store = MemoryStore(audit_max_len=3)
    for n in range(5):
        await store.append_audit(make_audit(f"r{n}"))
    await store.append_audit(make_audit("other", site="other"))

    assert [record.id for record in await store.list_audit("demo")] == ["r4", "r3", "r2"]
    assert [record.id for record in await store.list_audit("other")] == ["other"]
