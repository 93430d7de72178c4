"""What each kind of namespace holds, built through the kernel.api.Namespace seam: the
underlay's segment, outside hosts, nodes (docker0, flannel.1), pods and their veths, the
addresses and routes the cloud's load balancer and router hold. Each function runs inside
one namespace (Kernel.run_many calls it there)."""
from __future__ import annotations

import os

from netlab import underlay
from netlab.cni import bridge as cni
from netlab.errors import NetlabError
from netlab.flannel import DEVICE as VTEP, PORT as VXLAN_PORT, VNI
from netlab.flannel import desired as flannel
from netlab.flannel.agent import sync as flannel_sync
from netlab.kernel.api import Namespace, converge
from netlab.kernel.objects import Neigh, Route
from netlab.model.objects import Node

# The walk-through's cluster is IPv4 only; without IPv6 no link-local chatter (router
# solicitations, MLD) shows up in the lab's captures.
NO_IPV6 = {"net/ipv6/conf/all/disable_ipv6": 1, "net/ipv6/conf/default/disable_ipv6": 1}
NODE_SYSCTLS = {"net/ipv4/ip_forward": 1,
                # per namespace on current kernels: bridged pod traffic meets kube-proxy's rules
                "net/bridge/bridge-nf-call-iptables": 1,
                # kube-proxy's REJECT (a service without endpoints) answers every packet: with the
                # kernel's default of one ICMP error a second per destination, a pod's second DNS
                # query within the second is dropped in silence and waits out its resolver (5 s)
                "net/ipv4/icmp_ratelimit": 0}


def sysctls(ns: Namespace, values: dict) -> None:
    for key, value in values.items():
        ns.sysctl(key, value)


def segment(ns: Namespace, members: list[underlay.Member]) -> None:
    """The underlay: one bridge, a port per member (its eth0 in the member's namespace)."""
    sysctls(ns, NO_IPV6)
    ns.up(1)
    br = ns.add_bridge(underlay.BRIDGE, underlay.MTU)
    ns.up(br)
    for m in members:
        ns.add_veth(m.port, "eth0", m.netns, underlay.MTU, master=br)


def plug_member(ns: Namespace, m: underlay.Member) -> None:
    ns.add_veth(m.port, "eth0", m.netns, underlay.MTU, master=ns.index(underlay.BRIDGE))


def unplug_member(ns: Namespace, port: str) -> None:
    try:
        ns.del_link(ns.index(port))
    except LookupError:
        pass


def _eth0(ns: Namespace, m: underlay.Member) -> int:
    ns.up(1)
    eth0 = ns.index("eth0")
    if m.address:
        ns.add_addr(eth0, m.address)
    ns.up(eth0)
    if m.gateway:
        ns.add_route(Route("default", "eth0", m.gateway), oif=eth0)
    return eth0


def host(ns: Namespace, m: underlay.Member, forwards: bool) -> None:
    """An outside host (client, db, router, lb); the lb's addresses come per LoadBalancer."""
    sysctls(ns, NO_IPV6)
    if m.address:
        _eth0(ns, m)
    else:
        ns.up(1)
        ns.up(ns.index("eth0"))
    if forwards:
        ns.sysctl("net/ipv4/ip_forward", 1)


def node(ns: Namespace, cluster_name: str, n: Node, m: underlay.Member, lease, leases, mode: str,
         cluster_cidr: str) -> None:
    """A node: eth0 on the underlay, docker0 with the pod subnet's gateway, flannel.1 and
    its routes, neighbours and FDB entries for the other nodes' leases."""
    if not os.path.isdir("/proc/sys/net/bridge"):
        raise NetlabError("the kernel has no br_netfilter (modprobe br_netfilter): kube-proxy's rules "
                          "need bridged pod traffic to pass iptables")
    sysctls(ns, {**NO_IPV6, **NODE_SYSCTLS})
    eth0 = _eth0(ns, m)
    br = ns.add_bridge(cni.BRIDGE, cni.MTU, cni.bridge_mac(cluster_name, n))
    ns.add_addr(br, cni.bridge_address(n))
    ns.up(br)
    vtep = ns.add_vxlan(VTEP, VNI, VXLAN_PORT, n.ip, eth0, cni.MTU, lease.vtep_mac)
    ns.add_addr(vtep, f"{n.vtep_ip}/32")
    sysctls(ns, flannel.sysctls(mode))
    ns.up(vtep)
    flannel_sync(ns, leases, n.pod_cidr, mode, cluster_cidr)


def plug_pods(ns: Namespace, pods: list[cni.PodNet]) -> None:
    """Node side: a veth per pod into docker0, hairpin on (a pod reaching itself via a service)."""
    br = ns.index(cni.BRIDGE)
    # a reused address must not reach a deleted pod's MAC (a gratuitous ARP arriving within
    # neigh locktime of the last update is ignored, so forget it here); one read of docker0's
    # neighbours, not a delete per pod (most addresses are new)
    cached = {n.dst for n in ns.neighbours(cni.BRIDGE)}
    for p in pods:
        ns.add_veth(p.veth, cni.POD_IFACE, p.netns, cni.MTU, br, p.veth_index, cni.POD_IFINDEX)
        ns.set_hairpin(p.veth_index)
        if (ip := p.address.split("/")[0]) in cached:
            ns.del_neigh(Neigh(ip, "", cni.BRIDGE))


def unplug_pods(ns: Namespace, pods: list[cni.PodNet]) -> None:
    for p in pods:
        ns.del_link(p.veth_index)


def pod_wired(ns: Namespace, p: cni.PodNet) -> bool:
    """Pod side: is eth0 there with its address and default route (the last steps of pod())?"""
    try:
        idx = ns.index(cni.POD_IFACE)
    except LookupError:
        return False
    return p.address in ns.addresses(idx) and Route("default", cni.POD_IFACE, p.gateway) in ns.routes(cni.POD_IFACE)


def pod(ns: Namespace, p: cni.PodNet) -> None:
    """Pod side: lo and eth0 up, the address, the default route via docker0."""
    # arp_notify: the kernel announces the address when eth0 comes up (a gratuitous ARP, as
    # the CNI bridge plugin sends), so neighbours that cached a deleted pod's MAC update
    ns.sysctl(f"net/ipv4/conf/{cni.POD_IFACE}/arp_notify", 1)
    # as container runtimes do: a pod's own user may listen on port 80 or 53
    ns.sysctl("net/ipv4/ip_unprivileged_port_start", 0)
    sysctls(ns, NO_IPV6)
    ns.up(1)
    ns.add_addr(cni.POD_IFINDEX, p.address)
    ns.up(cni.POD_IFINDEX)
    ns.add_route(Route("default", cni.POD_IFACE, p.gateway), oif=cni.POD_IFINDEX)


def addresses(ns: Namespace, dev: str, want: set[str] | list[str]) -> None:
    """The lb host's eth0 holds exactly these addresses (the LoadBalancer IPs)."""
    idx = ns.index(dev)
    converge(ns.addresses(idx), want, lambda cidr: ns.add_addr(idx, cidr), lambda cidr: ns.del_addr(idx, cidr))


def host_routes(ns: Namespace, dev: str, want: set[Route]) -> None:
    """The router's host routes for externalIPs: exactly these /32s."""
    converge({r for r in ns.routes(dev) if r.dst.endswith("/32")}, want, ns.add_route, ns.del_route)


def held_ips(ns: Namespace, have: set[str], want: set[str]) -> None:
    """externalIPs a node holds as /32s on eth0 (only those netlab put there)."""
    eth0 = ns.index("eth0")
    converge(have, want, lambda ip: ns.add_addr(eth0, f"{ip}/32"), lambda ip: ns.del_addr(eth0, f"{ip}/32"))
