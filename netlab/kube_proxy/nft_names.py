"""Object names of kube-proxy's nftables mode (v1.33), computed as kube-proxy computes them.

A per-service object's name is a prefix plus a "base": the first 8 characters of the
base32 (RFC 4648, upper case) encoding of sha256 over a readable name, a hyphen, then
that readable name itself, cut to 237 characters + "..." if it would exceed 240 (it
never does for IPv4):

    service port   "<namespace>/<service>/<protocol>/<port name>"
    endpoint       "<namespace>/<service>/<protocol>/<port name>__<ip>/<port>"

protocol is lower case; an IPv6 endpoint address has its colons turned into dots
(a chain name cannot hold a colon). Prefixes: service-, local-, external-, firewall-
on the service port's base; endpoint-, affinity- on the endpoint's.
"""
from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

NAME_MAX = 256 - 16        # knftables' name limit minus the longest prefix kube-proxy allows


@lru_cache(maxsize=1 << 18)
def _base(readable: str) -> str:
    # 5 bytes are 40 bits, exactly the 8 base32 characters kept: no need to encode all 32
    name = base64.b32encode(hashlib.sha256(readable.encode()).digest()[:5]).decode() + "-" + readable
    return name if len(name) <= NAME_MAX else name[:NAME_MAX - 3] + "..."


def service_base(namespace: str, name: str, protocol: str, port_name: str) -> str:
    return _base(service_readable(namespace, name, protocol, port_name))


def endpoint_base(namespace: str, name: str, protocol: str, port_name: str, ip: str, port: int) -> str:
    return endpoint_base_in(service_readable(namespace, name, protocol, port_name), ip, port)


def service_readable(namespace: str, name: str, protocol: str, port_name: str) -> str:
    return f"{namespace}/{name}/{protocol.lower()}/{port_name}"


def endpoint_base_in(service: str, ip: str, port: int) -> str:
    """endpoint_base from the service port's readable name (once per service, not per endpoint)."""
    return _base(f"{service}__{ip.replace(':', '.') if ':' in ip else ip}/{port}")


def is_service_chain(name: str) -> bool:
    """Per-service chains are the only ones with a "/" in their name."""
    return "/" in name
