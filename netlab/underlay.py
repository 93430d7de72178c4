"""The underlay: one L2 segment (a bridge in a namespace of its own) joining the
nodes' eth0, the outside hosts and a router that leads nowhere outside the lab."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from ipaddress import ip_network

from netlab import layout
from netlab.model.objects import Cluster

BRIDGE = "br0"
MTU = 1500


@dataclass(frozen=True)
class Member:
    name: str
    netns: str
    address: str | None    # 192.168.0.21/24; the lb host takes its addresses per service
    port: str              # its veth end on the segment's bridge
    gateway: str | None    # default route; None for the router itself


def port_name(name: str) -> str:
    """Interface names are at most 15 characters; long member names are hashed."""
    return name if len(name) <= 15 else "p" + hashlib.sha256(name.encode()).hexdigest()[:12]


def members(c: Cluster) -> list[Member]:
    plen = ip_network(c.underlay_cidr).prefixlen
    out = [Member(layout.ROUTER, layout.host_ns(c.name, layout.ROUTER), f"{c.router}/{plen}",
                  port_name(layout.ROUTER), None)]
    out += [Member(n.name, layout.node_ns(c.name, n.name), f"{n.ip}/{plen}", port_name(n.name), c.router)
            for n in c.nodes]
    out += [Member(h.name, layout.host_ns(c.name, h.name), f"{h.ip}/{plen}", port_name(h.name), c.router)
            for h in c.hosts]
    out.append(Member(layout.LB, layout.host_ns(c.name, layout.LB), None, port_name(layout.LB), None))
    return out
