"""Chain and ipset names, derived as Calico's felix derives them, so a user who knows a
Calico node finds the same shapes (the hashes differ: felix hashes its own object IDs).

    cali-pi-<id> / cali-po-<id>   a policy's ingress / egress rules; id: <ns>/knp.default.<name>
    cali-tw-<veth> / cali-fw-<veth>  to / from one pod, by its node-side veth
    cali40s:<hash>                 ipset of the addresses a peer selects (pods, or an ipBlock)
    cali40n:<hash>                 ipset of (address, protocol:port) of a named port
A name longer than iptables allows (28 characters, felix's limit) becomes the prefix, `_` and
as much of base64url(sha256(id)) as fits; an ipset's (31 characters) the prefix and
base64url(sha224(selector)).
"""
from __future__ import annotations

import base64
import functools
import hashlib

from netlab.model.objects import NetworkPolicy

MAX_CHAIN = 28
MAX_SET = 31
FORWARD = "cali-FORWARD"
FROM_PODS = "cali-from-wl-dispatch"
TO_PODS = "cali-to-wl-dispatch"
PREFIX = "cali-"


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@functools.lru_cache(maxsize=1 << 14)
def limited(prefix: str, name: str, limit: int = MAX_CHAIN) -> str:
    if len(prefix) + len(name) <= limit:
        return prefix + name
    return prefix + "_" + _b64(hashlib.sha256(name.encode()).digest())[:limit - 1 - len(prefix)]


def policy_id(p: NetworkPolicy) -> str:
    """What Calico calls a Kubernetes NetworkPolicy."""
    return f"{p.namespace}/knp.default.{p.name}"


def policy_chain(p: NetworkPolicy, direction: str) -> str:
    return limited("cali-pi-" if direction == "Ingress" else "cali-po-", policy_id(p))


def pod_chain(veth: str, direction: str) -> str:
    """The chain of traffic to a pod (its ingress) or from it (its egress)."""
    return limited("cali-tw-" if direction == "Ingress" else "cali-fw-", veth)


@functools.lru_cache(maxsize=1 << 14)
def ipset(kind: str, key: str) -> str:
    """kind: s (addresses a peer selects) or n (a named port's address,port pairs)."""
    prefix = f"cali40{kind}:"
    return prefix + _b64(hashlib.sha224(key.encode()).digest())[:MAX_SET - len(prefix)]
