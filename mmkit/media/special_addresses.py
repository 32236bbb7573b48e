"""IANA's special-purpose address registries, written out as data, for the guarded fetch.

Python's `ipaddress.is_global` lags the registries (on 3.11, `fec0::/10`, `3fff::/20` and
`192.0.0.8` count as global), so the fetch decides from these tables instead: the most specific
entry that contains an address says whether it is globally reachable.

Sources (the "Globally Reachable" column), as of 2025:
  https://www.iana.org/assignments/iana-ipv4-special-registry/  (IPv4 Special-Purpose Registry)
  https://www.iana.org/assignments/iana-ipv6-special-registry/  (IPv6 Special-Purpose Registry)
  https://www.iana.org/assignments/ipv6-address-space/  (IPv6: only 2000::/3 is Global Unicast)
  https://www.iana.org/assignments/multicast-addresses/  (224.0.0.0/4, ff00::/8)
Entries whose column says "N/A" (6to4, Teredo, deprecated relays) are treated as not global:
the fetch checks the IPv4 address such an IPv6 address carries separately.
"""

from __future__ import annotations

import ipaddress
from typing import TypeAlias

_Network: TypeAlias = "ipaddress.IPv4Network | ipaddress.IPv6Network"

# (network, name, globally reachable, RFC)
IPV4_SPECIAL: tuple[tuple[str, str, bool, str], ...] = (
    ("0.0.0.0/8", "this network", False, "RFC 791"),
    ("0.0.0.0/32", "unspecified", False, "RFC 1122"),
    ("10.0.0.0/8", "private", False, "RFC 1918"),
    ("100.64.0.0/10", "shared (carrier-grade NAT)", False, "RFC 6598"),
    ("127.0.0.0/8", "loopback", False, "RFC 1122"),
    ("169.254.0.0/16", "link-local", False, "RFC 3927"),
    ("172.16.0.0/12", "private", False, "RFC 1918"),
    ("192.0.0.0/24", "IETF protocol assignments", False, "RFC 6890"),
    ("192.0.0.0/29", "IPv4 service continuity prefix", False, "RFC 7335"),
    ("192.0.0.8/32", "IPv4 dummy address", False, "RFC 7600"),
    ("192.0.0.9/32", "Port Control Protocol anycast", True, "RFC 7723"),
    ("192.0.0.10/32", "TURN anycast", True, "RFC 8155"),
    ("192.0.0.170/32", "NAT64/DNS64 discovery", False, "RFC 8880"),
    ("192.0.0.171/32", "NAT64/DNS64 discovery", False, "RFC 8880"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)", False, "RFC 5737"),
    ("192.31.196.0/24", "AS112-v4", True, "RFC 7535"),
    ("192.52.193.0/24", "AMT", True, "RFC 7450"),
    ("192.88.99.0/24", "deprecated 6to4 relay anycast", False, "RFC 7526"),
    ("192.168.0.0/16", "private", False, "RFC 1918"),
    ("192.175.48.0/24", "AS112 direct delegation", True, "RFC 7534"),
    ("198.18.0.0/15", "benchmarking", False, "RFC 2544"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)", False, "RFC 5737"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)", False, "RFC 5737"),
    ("224.0.0.0/4", "multicast", False, "RFC 5771"),
    ("240.0.0.0/4", "reserved", False, "RFC 1112"),
    ("255.255.255.255/32", "limited broadcast", False, "RFC 919"),
)

IPV6_SPECIAL: tuple[tuple[str, str, bool, str], ...] = (
    # Everything outside 2000::/3 is reserved or special (address-space registry): this entry
    # covers fec0::/10 (deprecated site-local, RFC 3879) and whatever else is not listed below.
    ("::/0", "reserved (outside 2000::/3, the global unicast space)", False, "RFC 4291"),
    ("2000::/3", "global unicast", True, "RFC 4291"),
    ("::/128", "unspecified", False, "RFC 4291"),
    ("::1/128", "loopback", False, "RFC 4291"),
    ("::ffff:0:0/96", "IPv4-mapped", False, "RFC 4291"),
    ("64:ff9b::/96", "IPv4/IPv6 translation", True, "RFC 6052"),
    ("64:ff9b:1::/48", "local IPv4/IPv6 translation", False, "RFC 8215"),
    ("100::/64", "discard-only", False, "RFC 6666"),
    ("100:0:0:1::/64", "dummy IPv6 prefix", False, "RFC 9780"),
    ("2001::/23", "IETF protocol assignments", False, "RFC 2928"),
    ("2001::/32", "Teredo", False, "RFC 4380"),
    ("2001:1::1/128", "Port Control Protocol anycast", True, "RFC 7723"),
    ("2001:1::2/128", "TURN anycast", True, "RFC 8155"),
    ("2001:1::3/128", "DNS-SD service registration anycast", True, "RFC 9665"),
    ("2001:2::/48", "benchmarking", False, "RFC 5180"),
    ("2001:3::/32", "AMT", True, "RFC 7450"),
    ("2001:4:112::/48", "AS112-v6", True, "RFC 7535"),
    ("2001:10::/28", "deprecated ORCHID", False, "RFC 4843"),
    ("2001:20::/28", "ORCHIDv2", True, "RFC 7343"),
    ("2001:30::/28", "drone remote ID entity tags", True, "RFC 9374"),
    ("2001:db8::/32", "documentation", False, "RFC 3849"),
    ("2002::/16", "6to4", False, "RFC 3056"),
    ("2620:4f:8000::/48", "AS112 direct delegation", True, "RFC 7534"),
    ("3fff::/20", "documentation", False, "RFC 9637"),
    ("5f00::/16", "segment routing (SRv6) SIDs", False, "RFC 9602"),
    ("fc00::/7", "unique local (private)", False, "RFC 4193"),
    ("fe80::/10", "link-local", False, "RFC 4291"),
    ("fec0::/10", "deprecated site-local", False, "RFC 3879"),
    ("ff00::/8", "multicast", False, "RFC 4291"),
)


def _table(
    rows: tuple[tuple[str, str, bool, str], ...],
) -> tuple[tuple[_Network, str, bool], ...]:
    parsed = [(ipaddress.ip_network(net), name, reachable) for net, name, reachable, _ in rows]
    # most specific first, so the first match is the one that decides
    return tuple(sorted(parsed, key=lambda row: row[0].prefixlen, reverse=True))


_IPV4 = _table(IPV4_SPECIAL)
_IPV6 = _table(IPV6_SPECIAL)


def special_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """The registry's name for `ip` if it is not globally reachable, or None if it is."""
    table = _IPV6 if isinstance(ip, ipaddress.IPv6Address) else _IPV4
    for network, name, reachable in table:
        if ip in network:
            return None if reachable else name
    return None
