from __future__ import annotations

import pytest

from proxy.errors import SidecarError
from proxy.identity.credentials import MAX_CREDENTIAL_BYTES, Credential, extract_credential

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
KEY = "wpmcp_" + "A" * 43


@pytest.mark.parametrize(
    ("authorization", "x_api_key", "expected"),
    [
        (None, None, None),
        (f"Bearer {JWT}", None, Credential("bearer", JWT)),
        (f"bearer {JWT}", None, Credential("bearer", JWT)),
        (f"BEARER {JWT}", None, Credential("bearer", JWT)),
        (f"  Bearer   {JWT}  ", None, Credential("bearer", JWT)),
        (f"Bearer\t{JWT}", None, Credential("bearer", JWT)),
        (f"Bearer {KEY}", None, Credential("bearer", KEY)),
        ("Bearer abc+/=", None, Credential("bearer", "abc+/=")),
        (None, KEY, Credential("api_key", KEY)),
        (None, f"  {KEY} ", Credential("api_key", KEY)),
        (
            f"Bearer {'a' * (MAX_CREDENTIAL_BYTES - 7)}",
            None,
            Credential("bearer", "a" * (MAX_CREDENTIAL_BYTES - 7)),
        ),
    ],
)
def test_reads_well_formed_credentials(
    authorization: str | None, x_api_key: str | None, expected: Credential | None
) -> None:
    assert extract_credential(authorization, x_api_key) == expected


@pytest.mark.parametrize(
    ("authorization", "x_api_key"),
    [
        ("Bearer", None),
        ("Bearer ", None),
        ("", None),
        ("   ", None),
        ("Bearer a b", None),
        (f"Bearer {JWT} extra", None),
        ("Basic dXNlcjpwYXNz", None),
        ("Token abc", None),
        ("Bearer= abc", None),
        (f"{JWT}", None),
        ("Bearer abc=def", None),
        ("Bearer tökén", None),
        ("Bearer abc\x00def", None),
        ("Bearer abc\x7f", None),
        ("Bearer abc\r\nX-Evil: 1", None),
        ("Bearer \u00a0abc", None),
        (f"Bearer {'a' * MAX_CREDENTIAL_BYTES}", None),
        (None, ""),
        (None, "two words"),
        (None, "k\u00e9y"),
        (None, "key\x01"),
        (None, "a" * (MAX_CREDENTIAL_BYTES + 1)),
    ],
)
def test_refuses_malformed_headers(authorization: str | None, x_api_key: str | None) -> None:
    with pytest.raises(SidecarError) as caught:
        extract_credential(authorization, x_api_key)
    assert (caught.value.status, caught.value.code, caught.value.challenge) == (401, "invalid_header", True)
    assert "abc" not in caught.value.message  # the credential is never echoed


def test_refuses_both_bearer_and_api_key() -> None:
    with pytest.raises(SidecarError) as caught:
        extract_credential(f"Bearer {JWT}", KEY)
    assert (caught.value.status, caught.value.code) == (400, "invalid_request")
