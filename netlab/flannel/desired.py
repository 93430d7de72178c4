"""What flanneld programs on a node for the other nodes' leases (pure).

Two generations of flannel's VXLAN backend:
- `routes` (current flannel): per remote subnet a route via the subnet's .0 onlink,
  one permanent neighbour for that .0, and the FDB entry for the remote VTEP MAC.
- `seed` (the walk-through's flannel): one route for the whole cluster network on
  flannel.1 and the FDB entries; neighbours come on demand (`on_miss`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import ip_address, ip_network

from netlab.flannel import DEVICE
from netlab.flannel.lease import Lease
from netlab.kernel.objects import Fdb, Neigh, Route


@dataclass
class Desired:
    routes: set[Route] = field(default_factory=set)
    neighs: set[Neigh] = field(default_factory=set)     # permanent ones
    fdbs: set[Fdb] = field(default_factory=set)


def remote(leases: list[Lease], own_subnet: str) -> list[Lease]:
    return [lease for lease in leases if lease.subnet != own_subnet]


def desired(leases: list[Lease], own_subnet: str, mode: str, cluster_cidr: str) -> Desired:
    d = Desired()
    if mode == "seed":
        d.routes.add(Route(str(ip_network(cluster_cidr)), DEVICE))
    for lease in remote(leases, own_subnet):
        d.fdbs.add(Fdb(lease.vtep_mac, DEVICE, lease.public_ip))
        if mode == "routes":
            vtep_ip = str(ip_network(lease.subnet)[0])
            d.routes.add(Route(lease.subnet, DEVICE, vtep_ip, onlink=True))
            d.neighs.add(Neigh(vtep_ip, lease.vtep_mac, DEVICE))
    return d


def on_miss(leases: list[Lease], own_subnet: str, addr: str) -> Neigh | None:
    """The neighbour entry answering a lookup of `addr` on flannel.1, if a remote node owns it."""
    for lease in remote(leases, own_subnet):
        if ip_address(addr) in ip_network(lease.subnet):
            return Neigh(addr, lease.vtep_mac, DEVICE)
    return None


def stale(neighs: set[Neigh], leases: list[Lease], own_subnet: str) -> set[Neigh]:
    """Neighbours that no longer match a remote lease (node gone or its VTEP changed)."""
    return {n for n in neighs if on_miss(leases, own_subnet, n.dst) != n}


def sysctls(mode: str) -> dict[str, int]:
    """In seed mode the kernel reports every neighbour lookup on flannel.1 to user space
    (RTM_GETNEIGH) instead of sending ARP, so the agent can answer it: the walk-through's
    on-demand entries. (l3miss fires only for bridged traffic, not the node's own routing.)"""
    if mode != "seed":
        return {}
    base = f"net/ipv4/neigh/{DEVICE}"
    return {f"{base}/app_solicit": 3, f"{base}/ucast_solicit": 0, f"{base}/mcast_solicit": 0}


def masquerade(cluster_cidr: str, subnet: str) -> str:
    """flanneld's --ip-masq rules (iptables-restore --noflush input): pod traffic leaving
    the pod network (to the db host, say) goes out with the node's address; traffic
    between pods keeps its source."""
    return "\n".join([
        "*nat",
        f"-A POSTROUTING -s {cluster_cidr} -d {cluster_cidr} -j RETURN",
        f"-A POSTROUTING -s {cluster_cidr} ! -d 224.0.0.0/4 -j MASQUERADE",
        f"-A POSTROUTING ! -s {cluster_cidr} -d {subnet} -j RETURN",
        f"-A POSTROUTING ! -s {cluster_cidr} -d {cluster_cidr} -j MASQUERADE",
        "COMMIT", ""])
