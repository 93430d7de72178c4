"""The simulated cloud provider and network around the cluster (pure).

- LoadBalancer services: the `lb` host on the underlay takes each service's external
  IP (from the pool 192.168.0.200-250) and spreads connections over every node's
  NodePort, masquerading as cloud load balancers without proxy protocol do. For
  externalTrafficPolicy Local, only over the nodes whose health check (kube-proxy's,
  on healthCheckNodePort) passes: those with a ready endpoint of the service; over
  every node again when none passes, as cloud load balancers do.
- externalIPs: the first node holds those on the underlay's subnet as /32 addresses,
  so it answers ARP for them (as a layer-2 speaker such as MetalLB does; proxy ARP
  does not answer for on-link addresses), and the router sends the others to it, as a
  network administrator would route them; kube-proxy on that node does the rest.
"""
from __future__ import annotations

from ipaddress import ip_address, ip_network

from netlab.kernel.objects import Route
from netlab.kube_proxy.rules import probability
from netlab.model.objects import Cluster

CHAIN = "NETLAB-LB"


def lb_services(c: Cluster):
    return [s for s in sorted(c.services, key=lambda s: (s.namespace, s.name))
            if s.type == "LoadBalancer" and s.load_balancer_ip]


def lb_addresses(c: Cluster) -> list[str]:
    plen = ip_network(c.underlay_cidr).prefixlen
    return sorted({f"{s.load_balancer_ip}/{plen}" for s in lb_services(c)})


def lb_rules(c: Cluster) -> str:
    """iptables-restore input for the lb host: a whole, small nat table."""
    lines = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
             ":POSTROUTING ACCEPT [0:0]", f":{CHAIN} - [0:0]",
             f"-A PREROUTING -j {CHAIN}",
             "-A POSTROUTING -m conntrack --ctstate DNAT -j MASQUERADE"]
    every = sorted(c.nodes, key=lambda n: n.name)
    for svc in lb_services(c):
        nodes = healthy(c, svc, every)
        for port in svc.ports:
            if not port.node_port:
                continue
            proto = port.protocol.lower()
            match = f"-A {CHAIN} -d {svc.load_balancer_ip}/32 -p {proto} -m {proto} --dport {port.port}"
            for i, node in enumerate(nodes):
                left = len(nodes) - i
                pick = f" -m statistic --mode random --probability {probability(left, 10)}" if left > 1 else ""
                lines.append(f"{match}{pick} -j DNAT --to-destination {node.ip}:{port.node_port}")
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def healthy(c: Cluster, svc, nodes):
    """The nodes a load balancer sends `svc`'s connections to (see the module's docstring)."""
    if svc.external_traffic_policy != "Local":
        return nodes
    ep = next((e for e in c.endpoints if (e.namespace, e.name) == (svc.namespace, svc.name)), None)
    local = {a.node for a in ep.addresses if a.ready} if ep else set()
    return [n for n in nodes if n.name in local] or nodes


def _external_ips(c: Cluster) -> set[str]:
    return {ip for s in c.services for ip in s.external_ips}


def announcer(c: Cluster) -> str:
    """The node that draws externalIPs' traffic."""
    return sorted(n.name for n in c.nodes)[0]


def announced(c: Cluster, node: str) -> set[str]:
    """externalIPs on the underlay's subnet that `node` holds on eth0."""
    if not c.nodes or node != announcer(c):
        return set()
    return {ip for ip in _external_ips(c) if ip_address(ip) in ip_network(c.underlay_cidr)}


def router_routes(c: Cluster) -> set[Route]:
    """Routes the underlay's router holds for the other externalIPs: to the announcing node."""
    if not c.nodes:
        return set()
    via = c.node(announcer(c)).ip
    return {Route(f"{ip}/32", "eth0", via) for ip in _external_ips(c)
            if ip_address(ip) not in ip_network(c.underlay_cidr)}
