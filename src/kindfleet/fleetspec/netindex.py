"""Which taken range, if any, overlaps a CIDR: in time bounded by the address length,
whatever the number of ranges taken.

Two CIDR ranges overlap exactly when one contains the other. So for a range N it is
enough to ask (1) is N, or a range that contains N, taken? (one lookup per prefix length
in use) and (2) is a range inside N taken? (one lookup: every taken range registers all
the ranges that contain it). Allocating subnets for a whole fleet is then linear in the
number of clusters, where comparing each candidate with every taken range was quadratic
and, once the pools ran dry, much worse.
"""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Key = tuple[int, int, int]  # (IP version, prefix length, network address as int)


def _key(version: int, prefix: int, address: int, bits: int) -> _Key:
    mask = ((1 << prefix) - 1) << (bits - prefix) if prefix else 0
    return (version, prefix, address & mask)


class NetworkIndex:
    """Taken ranges and who holds them."""

    def __init__(self) -> None:
        self._exact: dict[_Key, str] = {}  # a taken range -> its holder
        self._within: dict[_Key, str] = {}  # a range containing a taken one -> that holder
        self._prefixes: dict[int, set[int]] = {4: set(), 6: set()}  # lengths taken, by version

    def add(self, net: Network, holder: str) -> None:
        bits = net.max_prefixlen
        address = int(net.network_address)
        self._exact.setdefault(_key(net.version, net.prefixlen, address, bits), holder)
        self._prefixes[net.version].add(net.prefixlen)
        for prefix in range(net.prefixlen, -1, -1):
            key = _key(net.version, prefix, address, bits)
            if key in self._within:
                break  # the wider ones were registered by an earlier range inside them
            self._within[key] = holder

    def holder(self, net: Network) -> str | None:
        """Who holds a range overlapping `net` (None: it is free)."""
        bits = net.max_prefixlen
        address = int(net.network_address)
        inside = self._within.get(_key(net.version, net.prefixlen, address, bits))
        if inside is not None:
            return inside  # `net` contains (or is) a taken range
        for prefix in self._prefixes[net.version]:
            if prefix < net.prefixlen:
                around = self._exact.get(_key(net.version, prefix, address, bits))
                if around is not None:
                    return around  # a taken range contains `net`
        return None
