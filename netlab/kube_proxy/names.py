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

Today's proxier (netlab.kube_proxy.iptables_current) hashes the same inputs and adds
two prefixes; KUBE-XLB is gone:

    KUBE-SVL-<hash>   hash of servicePortName + protocol          (the Local policy's endpoints)
    KUBE-EXT-<hash>   hash of servicePortName + protocol          (traffic to external destinations)

Its servicePortName drops the colon of an unnamed port ("default/mysql", not
"default/mysql:"): see view.ServicePort.service_port_name.

protocol is lower case ("tcp", "udp", "sctp").
"""
from __future__ import annotations

import hashlib
from functools import lru_cache


def service_port_name(namespace: str, name: str, port_name: str = "") -> str:
    return f"{namespace}/{name}:{port_name}"


# Two base32 characters per 10 bits: 16 characters are the digest's first 80 bits, and
# base64.b32encode (pure Python) would spend most of a 10,000-service sync here.
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"     # RFC 4648
_PAIRS = [a + b for a in _B32 for b in _B32]


# Cached: a full sync of 10,000 endpoints would otherwise re-hash every one of them.
@lru_cache(maxsize=1 << 16)
def _hash16(text: str) -> str:
    n = int.from_bytes(hashlib.sha256(text.encode()).digest()[:10], "big")
    p = _PAIRS
    return (p[n >> 70] + p[n >> 60 & 1023] + p[n >> 50 & 1023] + p[n >> 40 & 1023]
            + p[n >> 30 & 1023] + p[n >> 20 & 1023] + p[n >> 10 & 1023] + p[n & 1023])


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


def policy_local_chain(spn: str, protocol: str) -> str:
    """KUBE-SVL: the service port's local endpoints (internal or external policy Local)."""
    return "KUBE-SVL-" + _hash16(spn + protocol.lower())


def external_chain(spn: str, protocol: str) -> str:
    """KUBE-EXT: where node port, external IP and load-balancer traffic goes first."""
    return "KUBE-EXT-" + _hash16(spn + protocol.lower())


def endpoint_chains(spn: str, protocol: str, endpoints: list[str]) -> list[str]:
    """endpoint_chain() for each "ip:port" of one service port (one sync's hot loop)."""
    base = spn + protocol.lower()
    return ["KUBE-SEP-" + _hash16(base + e) for e in endpoints]
