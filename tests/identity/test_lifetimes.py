from __future__ import annotations

import pytest

from proxy.identity.lifetimes import check_ttl_hours, expires_at


@pytest.mark.parametrize("hours", [0, 1, 24, 168])
def test_good_lifetimes(hours: int) -> None:
    assert check_ttl_hours(hours, what="ttl") == hours


@pytest.mark.parametrize("hours", [-1, 169, 1.0, "1", None, True])
def test_bad_lifetimes_name_the_setting(hours: object) -> None:
    with pytest.raises(ValueError, match=r"^access_ttl_hours must be a whole number of hours from 1 to 168"):
        check_ttl_hours(hours, what="access_ttl_hours")


def test_expiry_instant() -> None:
    assert expires_at(1000.0, 0) is None
    assert expires_at(1000.0, 2) == 1000.0 + 7200
