"""Which kube-proxy runs on the lab's nodes (Cluster.proxy_mode) and what it wants there.

- iptables-seed: the walk-through's iptables proxier (netlab.kube_proxy.rules);
- iptables: today's iptables proxier (netlab.kube_proxy.iptables_current);
- nftables: today's nftables proxier (netlab.kube_proxy.nftables): table `ip kube-proxy`,
  and no iptables rule of kube-proxy's at all.

Each flavour wants, per node, its iptables tables (empty for nftables) and its nftables
ruleset (None for the iptables ones): applying both, whatever the flavour before, is what
switches one dataplane for another and leaves nothing of the first, as kube-proxy's
cleanup of the other modes does when it starts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netlab.kube_proxy import view
from netlab.kube_proxy.rules import TABLES, Table
from netlab.kube_proxy.rules import build_nodes as seed_rules
from netlab.model.objects import Cluster

MODES = ("iptables-seed", "iptables", "nftables")
# Today's iptables proxier sets it for its localhost NodePorts (127.0.0.1 routed to a pod);
# the seed's proxier and the nftables one have none: the kernel's default, 0.
ROUTE_LOCALNET = "net/ipv4/conf/all/route_localnet"


@dataclass
class NodeProxy:
    tables: dict[str, Table]          # kube-proxy's iptables (nat, filter); empty tables for nftables
    nft: Any = None                   # nftables.Ruleset, or None
    health: dict[int, tuple[str, str, int]] | None = None   # healthCheckNodePort -> (ns, name, local endpoints)
    sysctls: dict[str, int] = field(default_factory=lambda: {ROUTE_LOCALNET: 0})


def no_tables() -> dict[str, Table]:
    return {name: Table(name) for name in TABLES}


def desired(c: Cluster) -> dict[str, NodeProxy]:
    """node name -> what its kube-proxy wants."""
    names = [n.name for n in c.nodes]
    if c.proxy_mode == "iptables-seed":
        tables = seed_rules(c, names, precision=c.probability_decimals, endpoints=c.endpoints)
        ports = view.from_cluster(c) if any(s.health_check_node_port for s in c.services) else []
        return {n: NodeProxy(tables[n], None, health_checks(ports, n)) for n in names}
    ports = view.from_cluster(c)
    out = {}
    for node in view.node_configs(c):
        if c.proxy_mode == "iptables":
            from netlab.kube_proxy import iptables_current
            out[node.name] = NodeProxy(iptables_current.build(ports, node), None, health_checks(ports, node.name),
                                       {ROUTE_LOCALNET: int(node.localhost_nodeports)})
        else:
            from netlab.kube_proxy import nftables
            ruleset = nftables.build(ports, node, service_cidrs=(c.service_cidr,))
            out[node.name] = NodeProxy(no_tables(), ruleset, health_checks(ports, node.name))
    return out


def health_checks(ports: list[view.ServicePort], node: str) -> dict[int, tuple[str, str, int]]:
    """What kube-proxy's service health server answers on this node: for each Service with a
    healthCheckNodePort and externalTrafficPolicy Local, its ready endpoints here."""
    out: dict[int, tuple[str, str, int]] = {}
    for p in ports:
        if p.health_check_node_port and p.external_policy_local:
            ns, name, count = out.get(p.health_check_node_port, (p.namespace, p.name, 0))
            local = {e.ip for e in p.endpoints if e.node == node and e.ready}
            out[p.health_check_node_port] = (ns, name, max(count, len(local)))
    return out
