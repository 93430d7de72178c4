"""The cluster's NetworkPolicies -> one node's filter-table chains and ipsets, in the shape of
Calico's felix (iptables mode). Pure.

    FORWARD               -j cali-FORWARD, first: before kube-proxy's KUBE-FORWARD accepts
                          marked traffic
    cali-FORWARD          traffic from this node's pods (in on docker0) to cali-from-wl-dispatch,
                          traffic to them (out on docker0, bridged or routed) to cali-to-wl-dispatch
    cali-*-wl-dispatch    one rule per isolated pod, by its address: goto its cali-fw-/cali-tw- chain
    cali-tw-/cali-fw-     replies of allowed connections pass (conntrack); then each policy that
                          selects the pod, returning once one accepted (mark 0x10000); else DROP
    cali-pi-/cali-po-     a policy's rules: each (peer, port) pair that matches sets the mark

A pod no policy isolates has no chain: its traffic passes. A pod's traffic to its own node
(INPUT) and the node's to its pods (OUTPUT) never meet these chains: the API allows both.
Peers are ipsets: the addresses a selector picks (hash:ip), an ipBlock with its excepts as
`nomatch` entries (hash:net), a named port's address,protocol:port pairs (hash:ip,port).
Every rule is written as iptables-save prints it, so it compares with what the kernel holds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Network, ip_network

from netlab.cni.bridge import host_veth
from netlab.kube_proxy.rules import quote
from netlab.model import selectors
from netlab.model.objects import Cluster, NetworkPolicy, Pod, PolicyPeer, PolicyPort
from netlab.policy import names

ACCEPT_MARK = "0x10000/0x10000"      # felix's accept bit (the lowest of its 0xffff0000 mask)
BRIDGE = "docker0"
DIRECTIONS = ("Ingress", "Egress")
SET_PREFIX = "cali4"                 # felix's ipsets (names.ipset)


@dataclass
class IPSet:
    name: str
    type: str                         # hash:ip | hash:net | hash:ip,port
    members: list[str]                # as `ipset save` prints them (a hash:net /32 bare)


@dataclass
class NodePolicy:
    """What one node needs: jumps into netlab's chains at the top of built-in chains, the
    chains themselves (in iptables-save's order), and the ipsets they match on."""
    jumps: dict[str, list[str]] = field(default_factory=dict)
    chains: dict[str, list[str]] = field(default_factory=dict)
    sets: dict[str, IPSet] = field(default_factory=dict)


def _comment(text: str) -> str:
    return f"-m comment --comment {quote(text)}"


class _Index:
    """The cluster read once for all its nodes (policy chains and sets do not depend on the
    node): which policies isolate a pod, which pods a peer selects, the ipsets made so far.
    Its own reading of the selectors, apart from netlab.policy.evaluate's, which tests
    compare it with. Pods with the same namespace and labels are answered once."""

    def __init__(self, c: Cluster):
        self.c = c
        self.sets: dict[str, IPSet] = {}
        self.chains: dict[tuple[str, str], tuple[list[str], set[str]]] = {}  # (policy chain) -> rules, sets
        self.namespaces: dict[str, list[Pod]] = {}
        for p in c.pods:
            if p.ip:
                self.namespaces.setdefault(p.namespace, []).append(p)
        self.policies: dict[str, list[NetworkPolicy]] = {}
        for np in c.network_policies:
            self.policies.setdefault(np.namespace, []).append(np)
        self._isolating: dict[tuple, list[NetworkPolicy]] = {}

    def isolating(self, pod: Pod, direction: str) -> list[NetworkPolicy]:
        key = (pod.namespace, tuple(sorted(pod.labels.items())), direction)
        if key not in self._isolating:
            self._isolating[key] = [np for np in self.policies.get(pod.namespace, [])
                                    if direction in np.policy_types and selectors.matches(np.pod_selector, pod.labels)]
        return self._isolating[key]

    def selected(self, policy: NetworkPolicy, peer: PolicyPeer) -> list[str]:
        """The addresses of the pods a (pod and/or namespace selector) peer picks."""
        if peer.namespace_selector is None:
            scope = [policy.namespace]
        else:
            scope = [ns for ns in self.namespaces
                     if selectors.matches(peer.namespace_selector, self.c.namespace_labels_of(ns))]
        answers: dict[tuple, bool] = {}
        ips = []
        for ns in scope:
            for p in self.namespaces.get(ns, []):
                labels = tuple(sorted(p.labels.items()))
                if labels not in answers:
                    answers[labels] = peer.pod_selector is None or selectors.matches(peer.pod_selector, p.labels)
                if answers[labels]:
                    ips.append(p.ip)
        return sorted(set(ips), key=_ip_key)

    def peer_set(self, policy: NetworkPolicy, peer: PolicyPeer) -> str:
        if peer.ip_block is not None:
            block = peer.ip_block
            name = names.ipset("s", repr(("ipBlock", block.cidr, sorted(block.excepts))))
            if name not in self.sets:
                self.sets[name] = IPSet(name, "hash:net", _block_members(block.cidr, block.excepts))
            return name
        scope = policy.namespace if peer.namespace_selector is None else "*"
        key = repr((scope, peer.pod_selector and selectors.canonical(peer.pod_selector),
                    peer.namespace_selector and selectors.canonical(peer.namespace_selector)))
        name = names.ipset("s", key)
        if name not in self.sets:
            self.sets[name] = IPSet(name, "hash:ip", self.selected(policy, peer))
        return name

    def named_port_set(self, port: PolicyPort) -> str:
        name = names.ipset("n", repr(("namedPort", port.port, port.protocol)))
        if name not in self.sets:
            proto = port.protocol.lower()
            members = sorted(((p.ip, p.container_ports[port.port]) for pods in self.namespaces.values() for p in pods
                              if port.port in p.container_ports), key=lambda m: (_ip_key(m[0]), m[1]))
            self.sets[name] = IPSet(name, "hash:ip,port", [f"{ip},{proto}:{n}" for ip, n in members])
        return name

    def policy_chain(self, policy: NetworkPolicy, direction: str) -> tuple[list[str], set[str]]:
        """A policy's chain for one direction, and the ipsets it names (made once for all nodes)."""
        key = (f"{policy.namespace}/{policy.name}", direction)
        if key not in self.chains:
            rules = policy_chain(self, policy, direction)
            self.chains[key] = (rules, {w for line in rules for w in line.split() if w.startswith(SET_PREFIX)})
        return self.chains[key]


def _ip_key(ip: str) -> tuple[int, ...]:
    return tuple(int(x) for x in ip.split("."))


def _block_members(cidr: str, excepts: list[str]) -> list[str]:
    """hash:net holds prefixes 1-32: 0.0.0.0/0 is its two halves. An except is a `nomatch`
    entry: the longest prefix decides, so addresses in it do not match."""
    def entries(net: str) -> list[str]:
        n = IPv4Network(net)
        parts: list[IPv4Network] = list(n.subnets(new_prefix=1)) if n.prefixlen == 0 else [n]
        return [str(p.network_address) if p.prefixlen == 32 else str(p) for p in parts]
    flags = {e: "" for e in entries(cidr)}
    for e in excepts:
        flags.update({x: " nomatch" for x in entries(e)})
    return [f"{e}{flag}" for e, flag in sorted(flags.items(), key=lambda kv: ip_network(kv[0]))]


def _port_match(sets: _Index, port: PolicyPort) -> tuple[str, str]:
    """(-p protocol, the match on the port) of one policy port."""
    proto = port.protocol.lower()
    if port.port is None:
        return f"-p {proto}", ""
    if isinstance(port.port, str):
        return f"-p {proto}", f"-m set --match-set {sets.named_port_set(port)} dst,dst"
    span = f"{port.port}:{port.end_port}" if port.end_port and port.end_port != port.port else str(port.port)
    return f"-p {proto}", f"-m {proto} --dport {span}"


def policy_chain(sets: _Index, policy: NetworkPolicy, direction: str) -> list[str]:
    """A policy's rules for one direction: each (peer, port) of each rule marks what it accepts.
    The parts in iptables-save's order: protocol, then the matches as given."""
    chain = names.policy_chain(policy, direction)
    side, key = ("src", "ingress") if direction == "Ingress" else ("dst", "egress")
    out = []
    for i, rule in enumerate(getattr(policy, key)):
        note = _comment(f"{policy.namespace}/{policy.name} {key}[{i}]")
        peers = [f"-m set --match-set {sets.peer_set(policy, p)} {side}" for p in rule.peers] or [""]
        ports = [_port_match(sets, p) for p in rule.ports] or [("", "")]
        for proto, port in ports:
            for peer in peers:
                parts = [f"-A {chain}", proto, note, peer, port, f"-j MARK --set-xmark {ACCEPT_MARK}"]
                out.append(" ".join(x for x in parts if x))
    return out


def pod_chain(policies: list[NetworkPolicy], direction: str, chain: str) -> list[str]:
    out = [f"-A {chain} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
           f"-A {chain} -j MARK --set-xmark 0x0/{ACCEPT_MARK.split('/')[1]}"]
    for p in policies:
        out += [f"-A {chain} -j {names.policy_chain(p, direction)}",
                f"-A {chain} -m mark --mark {ACCEPT_MARK} {_comment('Return if policy accepted')} -j RETURN"]
    out.append(f"-A {chain} {_comment('Drop if no policies passed packet')} -j DROP")
    return out


def build(c: Cluster, node: str, index: _Index | None = None) -> NodePolicy:
    """Node `node`'s part (nothing unless the lab enforces policy); `index`: the cluster's,
    shared by the nodes built together."""
    if c.policy != "enforce":
        return NodePolicy()
    index = index or _Index(c)
    chains: dict[str, list[str]] = {}
    used: set[str] = set()
    dispatch: dict[str, list[str]] = {names.FROM_PODS: [], names.TO_PODS: []}
    local = sorted((p for p in c.pods if p.node == node and p.ip), key=lambda p: _ip_key(p.ip))
    for direction in DIRECTIONS:
        table, side = (names.TO_PODS, "-d") if direction == "Ingress" else (names.FROM_PODS, "-s")
        for pod in local:
            policies = index.isolating(pod, direction)
            if not policies:
                continue
            chain = names.pod_chain(host_veth(pod), direction)
            chains[chain] = pod_chain(policies, direction, chain)
            dispatch[table].append(f"-A {table} {side} {pod.ip}/32 {_comment(f'{pod.namespace}/{pod.name}')} "
                                   f"-g {chain}")
            for p in policies:
                rules, sets = index.policy_chain(p, direction)
                chains[names.policy_chain(p, direction)] = rules
                used |= sets
    chains[names.FORWARD] = [
        f"-A {names.FORWARD} -i {BRIDGE} {_comment('from pods on this node')} -j {names.FROM_PODS}",
        f"-A {names.FORWARD} -o {BRIDGE} {_comment('to pods on this node')} -j {names.TO_PODS}"]
    chains.update(dispatch)
    return NodePolicy({"FORWARD": [f"-A FORWARD {_comment('netlab policy: NetworkPolicy')} -j {names.FORWARD}"]},
                      dict(sorted(chains.items())), {name: index.sets[name] for name in sorted(used)})


def build_nodes(c: Cluster, nodes: list[str]) -> dict[str, NodePolicy]:
    index = _Index(c)
    return {n: build(c, n, index) for n in nodes}
