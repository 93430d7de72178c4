"""Who may reach whom under a cluster's NetworkPolicies, from the API's meaning alone (no
rules): the reference the enforcer's rules are tested against. Pure.

A connection from a source to a destination on (protocol, port) is allowed when
- the destination pod admits it: no policy of its namespace selects it for Ingress, or one of
  those policies has an ingress rule matching the source and the port; and
- the source pod lets it out: likewise for Egress with the destination;
- a pod reaching itself never leaves it (its own address is on its loopback) and traffic between
  a pod and its own node is always allowed (the API's exceptions); an address outside the
  cluster admits everything.
A peer's pod selector picks pods of the policy's namespace, or of the namespaces its namespace
selector picks; an ipBlock matches addresses, pods' included. A named port is the destination
pod's container port of that name.
"""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_address, ip_network

from netlab.model import selectors
from netlab.model.objects import Cluster, NetworkPolicy, Pod, PolicyPeer, PolicyPort, PolicyRule


@dataclass(frozen=True)
class Party:
    """One end of a connection: a pod, or an address that is no pod's (an outside host, a node)."""
    ip: str
    pod: Pod | None = None

    @classmethod
    def of(cls, pod: Pod) -> "Party":
        return cls(pod.ip, pod)


def selects(c: Cluster, policy: NetworkPolicy, pod: Pod) -> bool:
    return pod.namespace == policy.namespace and selectors.matches(policy.pod_selector, pod.labels)


def isolating(c: Cluster, pod: Pod, direction: str) -> list[NetworkPolicy]:
    """The policies that select `pod` for Ingress or Egress (`direction`), in their order."""
    return [p for p in c.network_policies if direction in p.policy_types and selects(c, p, pod)]


def peer_matches(c: Cluster, policy: NetworkPolicy, peer: PolicyPeer, other: Party) -> bool:
    if peer.ip_block is not None:
        addr = ip_address(other.ip)
        return addr in ip_network(peer.ip_block.cidr) and not any(addr in ip_network(e)
                                                                   for e in peer.ip_block.excepts)
    pod = other.pod
    if pod is None:
        return False
    if peer.namespace_selector is None:
        in_scope = pod.namespace == policy.namespace
    else:
        in_scope = selectors.matches(peer.namespace_selector, c.namespace_labels_of(pod.namespace))
    return in_scope and (peer.pod_selector is None or selectors.matches(peer.pod_selector, pod.labels))


def port_matches(port: PolicyPort, protocol: str, number: int, destination: Party) -> bool:
    if port.protocol != protocol:
        return False
    if port.port is None:
        return True
    if isinstance(port.port, str):
        named = destination.pod.container_ports.get(port.port) if destination.pod else None
        return named == number
    return port.port <= number <= (port.end_port or port.port)


def rule_matches(c: Cluster, policy: NetworkPolicy, rule: PolicyRule, other: Party, protocol: str,
                 number: int, destination: Party) -> bool:
    peers_ok = not rule.peers or any(peer_matches(c, policy, peer, other) for peer in rule.peers)
    ports_ok = not rule.ports or any(port_matches(p, protocol, number, destination) for p in rule.ports)
    return peers_ok and ports_ok


def _admits(c: Cluster, pod: Pod, direction: str, other: Party, protocol: str, number: int,
            destination: Party) -> bool:
    policies = isolating(c, pod, direction)
    if not policies:
        return True
    return any(rule_matches(c, p, rule, other, protocol, number, destination)
               for p in policies for rule in (p.ingress if direction == "Ingress" else p.egress))


def allowed(c: Cluster, src: Party, dst: Party, protocol: str, number: int) -> bool:
    """May `src` open a connection to `dst` on protocol/port (see the module's docstring)?"""
    if src.pod is not None and dst.pod is not None and src.pod.ip == dst.pod.ip:
        return True
    nodes = {n.name: {n.ip, n.gateway, n.vtep_ip} for n in c.nodes}
    if (src.pod is not None and dst.ip in nodes.get(src.pod.node, ())) or \
            (dst.pod is not None and src.ip in nodes.get(dst.pod.node, ())):
        return True
    if src.pod is not None and not _admits(c, src.pod, "Egress", dst, protocol, number, dst):
        return False
    return dst.pod is None or _admits(c, dst.pod, "Ingress", src, protocol, number, dst)
