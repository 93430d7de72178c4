"""host-local IPAM: addresses from a node's pod subnet."""
from __future__ import annotations

from ipaddress import ip_address, ip_network

from netlab.errors import NetlabError


def reserved(cidr: str) -> set[str]:
    """The subnet's .0 (flannel.1) and .1 (docker0 gateway), and its broadcast."""
    net = ip_network(cidr)
    return {str(net[0]), str(net[1]), str(net.broadcast_address)}


def size(cidr: str) -> int:
    """How many pods the subnet holds."""
    return ip_network(cidr).num_addresses - len(reserved(cidr))


def allocate(cidr: str, used: set[str]) -> str:
    """The lowest free address, so a released address is handed out again."""
    skip = reserved(cidr) | used
    for addr in ip_network(cidr).hosts():
        if str(addr) not in skip:
            return str(addr)
    raise NetlabError(f"IPAM: pod subnet {cidr} has no free address")


def in_subnet(ip: str, cidr: str) -> bool:
    return ip_address(ip) in ip_network(cidr)
