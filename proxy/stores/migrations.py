"""The SQLite schema as an ordered list of migrations; migration N brings a file to schema version N.

Never edit a released migration: append a new one. Records live as JSON (`data`, see codec.py) next to
the columns that lookups, ordering and uniqueness need, so adding a record field needs no migration.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the first schema
    (
        """CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            site TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL,
            data TEXT NOT NULL
        )""",
        "CREATE INDEX api_keys_by_site ON api_keys (site, created_at, id)",
        """CREATE TABLE clients (
            client_id TEXT PRIMARY KEY,
            site TEXT NOT NULL,
            created_at REAL NOT NULL,
            data TEXT NOT NULL
        )""",
        "CREATE INDEX clients_by_site ON clients (site, created_at, client_id)",
        "CREATE TABLE revoked_tokens (jti TEXT PRIMARY KEY, expires_at REAL)",
        "CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at)",
        "CREATE TABLE epochs (scope TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        """CREATE TABLE grants (
            kind TEXT NOT NULL,
            handle_hash TEXT NOT NULL,
            expires_at REAL NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (kind, handle_hash)
        )""",
        "CREATE INDEX grants_by_expiry ON grants (expires_at)",
        """CREATE TABLE signing_keys (
            kid TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            data TEXT NOT NULL
        )""",
        "CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE audit (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            site TEXT NOT NULL,
            data TEXT NOT NULL
        )""",
        "CREATE INDEX audit_by_site ON audit (site, seq)",
    ),
)
