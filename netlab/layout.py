"""Names of a lab's namespaces: all begin with the lab's name and a dash."""
from __future__ import annotations

import hashlib

from netlab.model.objects import Cluster, Pod

UNDERLAY = "underlay"
ROUTER = "router"
LB = "lb"          # the simulated cloud load balancer
RESERVED = (UNDERLAY, ROUTER, LB)


def node_ns(lab: str, node: str) -> str:
    return f"{lab}-{node}"


def host_ns(lab: str, host: str) -> str:
    return f"{lab}-{host}"


# A file name's limit (NAME_MAX): a namespace is a file in /run/netns and a directory in /etc/netns.
NAME_MAX = 255


def fit(name: str, limit: int = NAME_MAX) -> str:
    """`name`, or if it is longer than the kernel allows a file name to be, its beginning and
    a hash of the whole: still readable, still unique. A pod may have a 253-character name
    in a 63-character namespace; a lab name and its dash come on top."""
    if len(name.encode()) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{name.encode()[:limit - len(digest) - 1].decode(errors='ignore')}-{digest}"


def pod_ns(lab: str, pod: Pod) -> str:
    # The dot cannot occur in a node or host name, so pods never clash with them.
    return fit(f"{lab}-{pod.namespace}.{pod.name}")


def log_file(proc: str) -> str:
    """The log's file name of a process on the lab's record (pod/<ns>/<name>, kubelet-node1)."""
    return fit(proc.replace("/", "_") + ".log")


def pod_proc(namespace: str, name: str) -> str:
    """A pod's process on the lab's record (and its log's name): pod/<namespace>/<name>."""
    return f"pod/{namespace}/{name}"


def infra_namespaces(c: Cluster) -> list[str]:
    return ([host_ns(c.name, UNDERLAY), host_ns(c.name, ROUTER), host_ns(c.name, LB)]
            + [node_ns(c.name, n.name) for n in c.nodes]
            + [host_ns(c.name, h.name) for h in c.hosts])


def all_namespaces(c: Cluster) -> list[str]:
    return infra_namespaces(c) + [pod_ns(c.name, p) for p in c.pods]


def stable_mac(first: int, *parts: str) -> str:
    """A MAC derived from names: the same lab gets the same MACs. `first` must be a
    locally administered unicast octet (0x02, 0x0e, ...)."""
    rest = hashlib.sha256("/".join(parts).encode()).digest()[:5]
    return ":".join(f"{x:02x}" for x in (first, *rest))


# Pods' users: each pod's processes run as a user of their own (as containers from
# different images would), so one pod cannot read another's Secrets. A range far above
# the ones distributions hand out, stable for a given lab and pod.
POD_UID_BASE, POD_UID_SPAN = 1_000_000_000, 1 << 28


def pod_uid(lab: str, pod: Pod) -> int:
    digest = hashlib.sha256(f"{lab}/{pod.namespace}/{pod.name}".encode()).digest()
    return POD_UID_BASE + int.from_bytes(digest[:8], "big") % POD_UID_SPAN
