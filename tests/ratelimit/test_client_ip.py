"""client_ip: X-Forwarded-For is believed only from trusted proxies, read right to left."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from proxy.ratelimit import address_bucket, client_ip

PROXIES = (ip_network("10.0.0.0/8"), ip_network("2001:db8:ffff::/48"))


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        pytest.param("203.0.113.5", None, "203.0.113.5", id="direct"),
        pytest.param("203.0.113.5", "198.51.100.1", "203.0.113.5", id="spoofed-from-untrusted-peer"),
        pytest.param("10.0.0.2", None, "10.0.0.2", id="trusted-peer-without-header"),
        pytest.param("10.0.0.2", "", "10.0.0.2", id="trusted-peer-empty-header"),
        pytest.param("10.0.0.2", "198.51.100.1", "198.51.100.1", id="one-proxy"),
        pytest.param("10.0.0.2", "198.51.100.1, 10.0.0.3", "198.51.100.1", id="two-proxies"),
        pytest.param("10.0.0.2", "1.1.1.1, 198.51.100.1", "198.51.100.1", id="client-prepended-a-lie"),
        pytest.param("10.0.0.2", "10.0.0.9, 10.0.0.3", "10.0.0.9", id="all-hops-trusted"),
        pytest.param("10.0.0.2", "198.51.100.1, unknown", "198.51.100.1", id="garbage-skipped"),
        pytest.param("10.0.0.2", "not-an-ip, _hidden, ,", "10.0.0.2", id="only-garbage"),
        pytest.param("10.0.0.2", "198.51.100.1:4711", "198.51.100.1", id="ipv4-with-port"),
        pytest.param("10.0.0.2", '"[2001:db8::7]:443"', "2001:db8::7", id="ipv6-bracketed-port"),
        pytest.param("10.0.0.2", "2001:DB8:0:0::7", "2001:db8::7", id="ipv6-normalized"),
        pytest.param("2001:db8:ffff::1", "2001:db8::7", "2001:db8::7", id="ipv6-proxy"),
        pytest.param("::ffff:10.0.0.2", "198.51.100.1", "198.51.100.1", id="ipv4-mapped-peer"),
        pytest.param("::ffff:203.0.113.5", None, "203.0.113.5", id="ipv4-mapped-client"),
        pytest.param("10.0.0.2", "::ffff:198.51.100.1", "198.51.100.1", id="ipv4-mapped-entry"),
        pytest.param("unix:/run/sidecar.sock", "198.51.100.1", "unix:/run/sidecar.sock", id="not-an-ip-peer"),
    ],
)
def test_client_ip(peer: str, forwarded_for: str | None, expected: str) -> None:
    assert client_ip(peer, forwarded_for, PROXIES) == expected


def test_no_trusted_proxies_means_the_peer() -> None:
    assert client_ip("10.0.0.2", "198.51.100.1", ()) == "10.0.0.2"


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("203.0.113.5", "203.0.113.5"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::9", "2001:db8:1:2::/64"),
        ("unix:/run/sidecar.sock", "unix:/run/sidecar.sock"),
    ],
)
def test_address_bucket(address: str, bucket: str) -> None:
    assert address_bucket(address) == bucket
