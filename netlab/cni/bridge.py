"""What the bridge CNI plugin sets up: docker0 per node, a veth per pod (pure)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from ipaddress import ip_address, ip_network

from netlab import layout
from netlab.flannel import OVERHEAD
from netlab.model.objects import Cluster, Node, Pod
from netlab.underlay import MTU as UNDERLAY_MTU

BRIDGE = "docker0"
MTU = UNDERLAY_MTU - OVERHEAD      # 1450: what fits in a VXLAN packet on the underlay
POD_IFACE = "eth0"
POD_IFINDEX = 2            # eth0 in a pod's namespace: lo is 1
_VETH_BASE = 1000           # node-side veth indexes: 1000 + the pod's offset in the subnet


@dataclass(frozen=True)
class PodNet:
    netns: str
    veth: str              # the node's end, a port of docker0
    address: str           # 172.30.76.7/24
    gateway: str           # docker0's address
    node: str
    veth_index: int        # unique on the node: derived from the pod's address


def host_veth(pod: Pod) -> str:
    """The node-side name, hashed from the pod as CNI does (veth + 8 hex)."""
    return "veth" + hashlib.sha256(f"{pod.namespace}/{pod.name}".encode()).hexdigest()[:8]


def bridge_mac(lab: str, node: Node) -> str:
    """docker0's own, fixed MAC: pods cache it for their default gateway."""
    return layout.stable_mac(0x02, lab, node.name, "docker0")


def bridge_address(node: Node) -> str:
    return f"{node.gateway}/{ip_network(node.pod_cidr).prefixlen}"


def pod_net(c: Cluster, pod: Pod) -> PodNet:
    node = c.node(pod.node)
    plen = ip_network(node.pod_cidr).prefixlen
    offset = int(ip_address(pod.ip)) - int(ip_network(node.pod_cidr).network_address)
    return PodNet(layout.pod_ns(c.name, pod), host_veth(pod), f"{pod.ip}/{plen}", node.gateway, node.name,
                  _VETH_BASE + offset)
