"""The `store:` section of the config file: which backend keeps the sidecar's state, and where."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["RAM_AUDIT_DEFAULT", "SQLITE_AUDIT_DEFAULT", "StoreSettings"]

SQLITE_AUDIT_DEFAULT = 1_000_000
RAM_AUDIT_DEFAULT = 100_000


class StoreSettings(BaseModel):
    """Backend choice and its options. `memory` keeps nothing across restarts and is not shared."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["memory", "sqlite", "redis"] = "sqlite"
    path: str = Field(default="var/sidecar.db", min_length=1)  # sqlite; relative to the config file's folder
    # redis; may carry a password, so it is kept out of repr()
    redis_url: str | None = Field(default=None, repr=False)
    prefix: str = Field(default="mcp-sidecar:", min_length=1)  # redis; every key starts with it
    timeout_seconds: float = Field(default=2.0, gt=0, le=60)  # redis connect/reply, sqlite lock wait
    # the newest call-log records kept per site; older ones are dropped (default: see audit_cap)
    audit_max_len: int | None = Field(default=None, ge=1)
    # sqlite: how long a call-log record waits for others to share its commit (and its fsync). Each
    # commit costs about 0.1 ms of CPU however few records it holds; 0 commits every record at once.
    audit_batch_ms: float = Field(default=10.0, ge=0, le=1000)

    @property
    def audit_cap(self) -> int:
        """`audit_max_len`, or the backend's default: a million records per site on disk (SQLite, about
        0.5 to 1 GB), a hundred thousand in memory or Redis (which hold it in RAM)."""
        if self.audit_max_len is not None:
            return self.audit_max_len
        return SQLITE_AUDIT_DEFAULT if self.backend == "sqlite" else RAM_AUDIT_DEFAULT

    @model_validator(mode="after")
    def _redis_needs_a_url(self) -> Self:
        # The URL itself is checked by RedisStore.open(): a validation error here would echo the whole
        # input, password included.
        if self.backend == "redis" and not self.redis_url:
            raise ValueError("backend 'redis' needs redis_url, e.g. redis://127.0.0.1:6379/0")
        return self
