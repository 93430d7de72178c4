"""Chain names, computed exactly as kube-proxy's iptables proxier computes them.

A chain name is a prefix plus the first 16 characters of the base32 (RFC 4648,
upper case, padded) encoding of sha256 over a string: iptables limits chain names
to 28 characters, and a real cluster's `iptables-save` shows the same names for
the same services, so a user can compare the lab with one.

    servicePortName   "<namespace>/<service>:<port name>"  (port name may be empty)
    KUBE-SVC-<hash>   hash of servicePortName + protocol          (the service port)
    KUBE-SEP-<hash>   hash of servicePortName + protocol + "ip:port" (one endpoint)
    KUBE-FW-<hash>    hash of servicePortName + protocol          (load-balancer IP)
    KUBE-XLB-<hash>   hash of servicePortName + protocol          (externalTrafficPolicy=Local)

protocol is lower case ("tcp", "udp", "sctp").
"""
from __future__ import annotations

import base64
import hashlib
from functools import lru_cache


def service_port_name(namespace: str, name: str, port_name: str = "") -> str:
    return f"{namespace}/{name}:{port_name}"


# Cached: a full sync of 10,000 endpoints would otherwise re-hash every one of them.
@lru_cache(maxsize=1 << 16)
def _hash16(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def service_chain(spn: str, protocol: str) -> str:
    return "KUBE-SVC-" + _hash16(spn + protocol.lower())


def endpoint_chain(spn: str, protocol: str, endpoint: str) -> str:
    """`endpoint` is "ip:port" (see host_port)."""
    return "KUBE-SEP-" + _hash16(spn + protocol.lower() + endpoint)


def firewall_chain(spn: str, protocol: str) -> str:
    return "KUBE-FW-" + _hash16(spn + protocol.lower())


def local_chain(spn: str, protocol: str) -> str:
    """The KUBE-XLB chain of a service port with externalTrafficPolicy=Local."""
    return "KUBE-XLB-" + _hash16(spn + protocol.lower())
