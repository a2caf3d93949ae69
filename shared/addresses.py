"""A media client's address as its server reports it (`192.0.2.7:32400`, `[2001:db8::1]`),
and whether it is on the home network."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# The home network as a media server sees it. Spelled out rather than ipaddress's
# is_private, which also holds documentation and benchmarking ranges that are as remote as
# any; carrier-grade NAT (100.64.0.0/10, where Tailscale's clients are) is left out, since
# a stream to such a client crosses the uplink.
LOCAL_NETWORKS = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
)


def address_of(text: str) -> Address | None:
    """The IP address in a client's address (its port dropped, IPv4-mapped IPv6 as IPv4);
    None when it is no address."""
    host = text.strip()
    if host.startswith("["):  # [v6]:port
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:  # v4:port
        host = host.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_local(address: str | None, networks: Iterable[str] = LOCAL_NETWORKS) -> bool | None:
    """Whether a client's address lies in these networks; None when it cannot be told."""
    ip = address_of(address) if address else None
    if ip is None:
        return None
    nets = (ipaddress.ip_network(n, strict=False) for n in networks)
    return any(ip in net for net in nets if net.version == ip.version)
