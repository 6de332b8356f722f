"""Who the anonymous caller is: the client address, believing X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

__all__ = ["address_bucket", "client_ip", "peer_is_trusted"]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network


def _parse(text: str) -> IPAddress | None:
    """An address from a peer or X-Forwarded-For entry ("1.2.3.4", "1.2.3.4:80", "[2001:db8::1]:443").

    IPv4-mapped IPv6 (::ffff:1.2.3.4, as dual-stack sockets report IPv4 peers) becomes plain IPv4.
    """
    value = text.strip().strip('"')
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        address = ip_address(value)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, proxies: tuple[IPNetwork, ...]) -> bool:
    return any(address in network for network in proxies)


def peer_is_trusted(peer: str, trusted_proxies: Iterable[IPNetwork]) -> bool:
    """Whether the socket peer is one of the trusted proxies (whose X-Forwarded-* we may believe)."""
    address = _parse(peer)
    return address is not None and _trusted(address, tuple(trusted_proxies))


def client_ip(peer: str, forwarded_for: str | None, trusted_proxies: Iterable[IPNetwork]) -> str:
    """The client address of a request.

    `forwarded_for` is the X-Forwarded-For value (every such header joined with ","), believed only
    when the socket peer is a trusted proxy. It is then read right to left: each trusted hop passes us
    to the entry on its left, and the first untrusted entry is the client (a client can prepend
    anything, but cannot forge what our proxies appended). Entries that are not addresses ("unknown",
    obfuscated names, typos) are skipped. If every hop is trusted, the leftmost is the client. A peer
    that is not an IP address (a Unix socket) is returned as it is.
    """
    nearest = _parse(peer)
    if nearest is None:
        return peer
    proxies = tuple(trusted_proxies)
    if not forwarded_for or not _trusted(nearest, proxies):
        return str(nearest)
    for entry in reversed(forwarded_for.split(",")):
        hop = _parse(entry)
        if hop is None:
            continue
        nearest = hop
        if not _trusted(hop, proxies):
            break
    return str(nearest)


def address_bucket(address: str) -> str:
    """The key to limit an anonymous address by: IPv4 as it is, IPv6 by its /64.

    One IPv6 subscriber usually holds a whole /64 and could otherwise rotate through its addresses to
    get a fresh allowance on every request.
    """
    parsed = _parse(address)
    if isinstance(parsed, IPv6Address):
        return str(ip_network(f"{parsed}/64", strict=False))
    return address
