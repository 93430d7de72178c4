"""host-local IPAM: addresses from a node's pod subnet."""
from __future__ import annotations

from functools import lru_cache
from ipaddress import ip_address, ip_network

from netlab.errors import NetlabError


# Parsed once per subnet: a big lab asks about the same few subnets tens of thousands of
# times (each pod placed, each pod validated), and ipaddress parsing is slow in Python.
@lru_cache(maxsize=256)
def _net(cidr: str):
    return ip_network(cidr)


@lru_cache(maxsize=256)
def reserved(cidr: str) -> frozenset[str]:
    """The subnet's .0 (flannel.1) and .1 (docker0 gateway), and its broadcast."""
    net = _net(cidr)
    return frozenset({str(net[0]), str(net[1]), str(net.broadcast_address)})


@lru_cache(maxsize=64)
def _free_order(cidr: str) -> tuple[str, ...]:
    """The addresses a pod may get, lowest first."""
    skip = reserved(cidr)
    return tuple(a for a in map(str, _net(cidr).hosts()) if a not in skip)


def size(cidr: str) -> int:
    """How many pods the subnet holds."""
    return _net(cidr).num_addresses - len(reserved(cidr))


def allocate(cidr: str, used: set[str]) -> str:
    """The lowest free address, so a released address is handed out again."""
    for addr in _free_order(cidr):
        if addr not in used:
            return addr
    raise NetlabError(f"IPAM: pod subnet {cidr} has no free address")


def in_subnet(ip: str, cidr: str) -> bool:
    return ip_address(ip) in _net(cidr)
