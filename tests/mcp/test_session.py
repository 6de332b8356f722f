"""Sealed session ids: round trip, tamper, cross-principal, cross-site, rotation."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable

import pytest

from proxy.mcp.session import SESSION_PREFIX, SessionNotFound, SessionSealer

KEY = bytes(range(32))
OLD_KEY = bytes(range(32, 64))
UPSTREAM = str(uuid.UUID("6f1c2d9e-3b4a-4c5d-8e9f-0a1b2c3d4e5f"))


@pytest.fixture
def sealer() -> SessionSealer:
    return SessionSealer(KEY)


def test_round_trip(sealer: SessionSealer) -> None:
    sealed = sealer.seal(UPSTREAM, "key:abc123", "blog.example.org")
    assert sealed.startswith(SESSION_PREFIX)
    assert re.fullmatch(r"[\x21-\x7e]+", sealed)
    assert UPSTREAM not in sealed
    assert sealer.open(sealed, principal_id="key:abc123", site="blog.example.org") == UPSTREAM


def test_unicode_and_random_nonces(sealer: SessionSealer) -> None:
    first = sealer.seal("séssion-✓", "client:ü", "site")
    second = sealer.seal("séssion-✓", "client:ü", "site")
    assert first != second
    assert sealer.open(second, principal_id="client:ü", site="site") == "séssion-✓"


@pytest.mark.parametrize(
    ("principal", "site"),
    [
        pytest.param("key:other", "blog.example.org", id="other-principal"),
        pytest.param("key:abc123", "shop.example.org", id="other-site"),
        pytest.param("key:abc12", "3blog.example.org", id="shifted-boundary"),
        pytest.param("", "", id="empty"),
    ],
)
def test_foreign_ids_are_not_found(sealer: SessionSealer, principal: str, site: str) -> None:
    sealed = sealer.seal(UPSTREAM, "key:abc123", "blog.example.org")
    # opened (and remembered) by its owner first: what is remembered never opens it for anyone else
    assert sealer.open(sealed, principal_id="key:abc123", site="blog.example.org") == UPSTREAM
    with pytest.raises(SessionNotFound) as caught:
        sealer.open(sealed, principal_id=principal, site=site)
    assert (caught.value.status, caught.value.code) == (404, "session_not_found")


def test_every_single_character_change_is_refused(sealer: SessionSealer) -> None:
    sealed = sealer.seal(UPSTREAM, "p", "s")
    for index in range(len(sealed)):
        replacement = "A" if sealed[index] != "A" else "B"
        tampered = sealed[:index] + replacement + sealed[index + 1 :]
        with pytest.raises(SessionNotFound):
            sealer.open(tampered, principal_id="p", site="s")


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda s: s[:-4], id="truncated"),
        pytest.param(lambda s: s + "=", id="padded"),
        pytest.param(lambda s: s + "AA", id="extended"),
        pytest.param(lambda s: s.removeprefix(SESSION_PREFIX), id="no-prefix"),
        pytest.param(lambda s: "wpmcp-s2." + s.removeprefix(SESSION_PREFIX), id="other-version"),
        pytest.param(lambda s: s.replace("-", "+").replace("_", "/") + "+/", id="standard-base64"),
        pytest.param(lambda s: s[:20] + " " + s[20:], id="space"),
        pytest.param(lambda s: SESSION_PREFIX, id="prefix-only"),
        pytest.param(lambda s: SESSION_PREFIX + "AAAA", id="too-short"),
        pytest.param(lambda s: SESSION_PREFIX + "A" * 2000, id="too-long"),
        pytest.param(lambda s: UPSTREAM, id="raw-upstream-id"),
        pytest.param(lambda s: "", id="empty"),
        pytest.param(lambda s: s[:-1] + ("B" if s[-1] == "A" else "A"), id="last-char"),
    ],
)
def test_malformed_ids_are_not_found(sealer: SessionSealer, make: Callable[[str], str]) -> None:
    sealed = sealer.seal(UPSTREAM, "p", "s")
    with pytest.raises(SessionNotFound):
        sealer.open(make(sealed), principal_id="p", site="s")


def test_non_canonical_base64_is_refused(sealer: SessionSealer) -> None:
    sealed = sealer.seal(UPSTREAM, "p", "s")
    payload = sealed.removeprefix(SESSION_PREFIX)
    assert len(payload) % 4 == 2  # 64 bytes: the last character carries 4 unused bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(payload[-1])
    twin = payload[:-1] + alphabet[last | 1 if last % 2 == 0 else last & ~1]
    with pytest.raises(SessionNotFound):
        sealer.open(SESSION_PREFIX + twin, principal_id="p", site="s")


def test_key_rotation() -> None:
    before = SessionSealer(OLD_KEY)
    during = SessionSealer(KEY, old_keys=[OLD_KEY])
    after = SessionSealer(KEY)
    old_id = before.seal(UPSTREAM, "p", "s")
    new_id = during.seal(UPSTREAM, "p", "s")
    assert during.open(old_id, principal_id="p", site="s") == UPSTREAM
    assert after.open(new_id, principal_id="p", site="s") == UPSTREAM
    with pytest.raises(SessionNotFound):
        after.open(old_id, principal_id="p", site="s")
    with pytest.raises(SessionNotFound):
        before.open(new_id, principal_id="p", site="s")


@pytest.mark.parametrize("key", [b"", b"short", os.urandom(16), os.urandom(33)])
def test_keys_must_be_32_bytes(key: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SessionSealer(key)
    with pytest.raises(ValueError, match="32 bytes"):
        SessionSealer(KEY, old_keys=[key])
