"""Sealed MCP session ids: any replica can tell whose session an id is, without shared state.

The client never sees WordPress's session id. It gets that id encrypted with AES-GCM under a sidecar
key, with the principal and the site as associated data: an id replayed by another principal or at
another site fails authentication exactly like a forged or garbled one, and all of them are "session
not found" (HTTP 404), which tells a client to start a new session.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from proxy.caching import Memo
from proxy.mcp.jsonrpc import JsonRpcError

__all__ = ["SESSION_PREFIX", "SessionNotFound", "SessionSealer"]

SESSION_PREFIX = "wpmcp-s1."
_NONCE_BYTES = 12
_KEY_BYTES = 32
_MAX_SEALED = 1024
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_OPENED_CACHE_SIZE = 4096
_SESSION_NOT_FOUND_RPC = -32005  # what mcp-adapter answers; its clients re-initialize on it


class SessionNotFound(JsonRpcError):
    """An unknown, malformed, forged or foreign session id: 404, as the MCP transport prescribes."""

    def __init__(self) -> None:
        super().__init__(_SESSION_NOT_FOUND_RPC, "Session not found", reason="session_not_found", status=404)


def _associated_data(principal_id: str, site: str) -> bytes:
    # JSON keeps the fields apart whatever characters they hold ("a|b","c" vs "a","b|c").
    return json.dumps(["wpmcp-session-v1", site, principal_id]).encode()


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class SessionSealer:
    """Seals with `key`; opens with `key` or any of `old_keys` (rotation: add the new key first)."""

    def __init__(self, key: bytes, *, old_keys: Sequence[bytes] = ()) -> None:
        keys = (key, *old_keys)
        if any(len(k) != _KEY_BYTES for k in keys):
            raise ValueError(f"session keys must be {_KEY_BYTES} bytes each")
        self._sealer = AESGCM(key)
        self._openers = tuple(AESGCM(k) for k in keys)
        # A client sends its sealed id on every request: each one is authenticated and decrypted once,
        # then remembered by (id, principal, site), so a hit is exactly what decryption would answer.
        self._opened: Memo[tuple[str, str, str], str] = Memo(maxsize=_OPENED_CACHE_SIZE)

    def seal(self, upstream_session_id: str, principal_id: str, site: str) -> str:
        """An opaque id of visible ASCII (prefix + unpadded base64url) to hand to the client."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._sealer.encrypt(
            nonce, upstream_session_id.encode(), _associated_data(principal_id, site)
        )
        return SESSION_PREFIX + _b64encode(nonce + sealed)

    def open(self, sealed: str, *, principal_id: str, site: str) -> str:
        """The upstream session id inside `sealed`, or SessionNotFound if it is not this principal's here."""
        key = (sealed, principal_id, site)
        opened = self._opened.get(key)
        if opened is None:
            opened = self._opened.remember(key, self._decrypt(sealed, principal_id, site))
        return opened

    def _decrypt(self, sealed: str, principal_id: str, site: str) -> str:
        payload = sealed.removeprefix(SESSION_PREFIX)
        if payload == sealed or len(sealed) > _MAX_SEALED or not _BASE64URL.fullmatch(payload):
            raise SessionNotFound()
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        except (binascii.Error, ValueError):
            raise SessionNotFound() from None
        if _b64encode(raw) != payload or len(raw) <= _NONCE_BYTES:  # one spelling per id
            raise SessionNotFound()
        nonce, ciphertext = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        associated = _associated_data(principal_id, site)
        for opener in self._openers:
            try:
                return opener.decrypt(nonce, ciphertext, associated).decode()
            except InvalidTag:
                continue
        raise SessionNotFound()
