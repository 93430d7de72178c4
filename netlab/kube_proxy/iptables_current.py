"""Today's kube-proxy in iptables mode (Kubernetes v1.33): the rules of one node. Pure.

The facts follow upstream's pkg/proxy/iptables/proxier.go (syncProxyRules and
writeServiceToEndpointRules), pkg/proxy/topology.go (CategorizeEndpoints),
pkg/proxy/serviceport.go and pkg/proxy/util/nodeport_addresses.go of the v1.33 era.
Differences from the 2018 proxier (rules.py) a lab user will meet:

- the masquerade rule for off-cluster clients sits in the service's own chain, the
  KUBE-SVC (or KUBE-SVL) chain; KUBE-SERVICES only jumps;
- node ports, external IPs and load-balancer IPs go through KUBE-EXT-<hash>, which
  masquerades (policy Cluster) or short-circuits pods and the node itself to the
  cluster chain (policy Local) before the policy chain, KUBE-SVC- or KUBE-SVL-<hash>;
- loadBalancerSourceRanges: KUBE-FW-<hash> in nat lets the allowed sources through;
  what it does not take is dropped by KUBE-PROXY-FIREWALL in filter;
- no KUBE-MARK-DROP: a service with no usable endpoints is rejected (none anywhere) or
  dropped (none on this node, policy Local) in filter's KUBE-SERVICES /
  KUBE-EXTERNAL-SERVICES;
- the mark is set with --or-mark and cleared (--xor-mark) before MASQUERADE;
- endpoints that are serving and terminating are used when no endpoint is ready;
- over 1000 endpoints, KUBE-SVC/KUBE-SEP rules lose their comments (large cluster mode).

Service ports are handled in the caller's order (upstream iterates a Go map, so its own
order changes from sync to sync; its tests sort, see canonical()). Endpoints keep the
caller's order too (where upstream merges two lists through a map, cluster endpoints come
first here, then the local ones not among them). Topology hints are not modelled (the
view has none): every endpoint is available for topology.

Only IPv4, as the view. What kube-proxy learns from the host, not from its flags, is a
keyword of build(): random_fully, tcp_be_liberal, nfacct; masquerade_all is its
--masquerade-all flag, which NodeConfig does not carry.
"""
from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, ip_address, ip_network

from netlab.kube_proxy import names
from netlab.kube_proxy.rules import Table, saved_probability
from netlab.kube_proxy.view import Endpoint, NodeConfig, ServicePort

LARGE_CLUSTER_ENDPOINTS = 1000       # above this many endpoints, SVC/SEP rules drop their comments
NFACCT_INVALID = "ct_state_invalid_dropped_pkts"
NFACCT_LOCALHOST = "localhost_nps_accepted_pkts"
LOCALHOST = ip_network("127.0.0.0/8")
LAST_RULE = '"kubernetes service nodeports; NOTE: this must be the last rule in this chain"'

# The chains kube-proxy declares first in its restore input, in its order.
FILTER_CHAINS = ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL")
NAT_CHAINS = ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ")

# (table, built-in chain, target, its extra matches, comment): the jumps kube-proxy ensures
# with `iptables -I` (prepend), in the order it ensures them; the kubelet's two come last.
_NEW = "-m conntrack --ctstate NEW "
_JUMPS = (
    ("filter", "INPUT", "KUBE-EXTERNAL-SERVICES", _NEW, "kubernetes externally-visible service portals"),
    ("filter", "FORWARD", "KUBE-EXTERNAL-SERVICES", _NEW, "kubernetes externally-visible service portals"),
    ("filter", "INPUT", "KUBE-NODEPORTS", "", "kubernetes health check service ports"),
    ("filter", "FORWARD", "KUBE-SERVICES", _NEW, "kubernetes service portals"),
    ("filter", "OUTPUT", "KUBE-SERVICES", _NEW, "kubernetes service portals"),
    ("filter", "FORWARD", "KUBE-FORWARD", "", "kubernetes forwarding rules"),
    ("filter", "INPUT", "KUBE-PROXY-FIREWALL", _NEW, "kubernetes load balancer firewall"),
    ("filter", "OUTPUT", "KUBE-PROXY-FIREWALL", _NEW, "kubernetes load balancer firewall"),
    ("filter", "FORWARD", "KUBE-PROXY-FIREWALL", _NEW, "kubernetes load balancer firewall"),
    ("nat", "OUTPUT", "KUBE-SERVICES", "", "kubernetes service portals"),
    ("nat", "PREROUTING", "KUBE-SERVICES", "", "kubernetes service portals"),
    ("nat", "POSTROUTING", "KUBE-POSTROUTING", "", "kubernetes postrouting rules"),
)
_KUBELET_JUMPS = (("filter", "INPUT", "KUBE-FIREWALL", "", ""), ("filter", "OUTPUT", "KUBE-FIREWALL", "", ""))


@dataclass
class RestoreTable(Table):
    """A Table that also keeps its rules in the order kube-proxy writes them: rules of
    different chains interleave in its restore input (service by service)."""
    lines: list[str] = field(default_factory=list)


def go_mark(bit: int) -> str:
    """kube-proxy's mark text: Go's %#08x of 1 << bit, which pads the digits to 8 ("0x00004000")."""
    return f"0x{1 << bit:08x}"


def jumps(tables: tuple[str, ...] = ("filter", "nat")) -> dict[str, dict[str, list[str]]]:
    """table -> built-in chain -> rules, top first, as they end up on a node whose kubelet had
    already put its KUBE-FIREWALL jumps there (kube-proxy's check finds them and adds none):
    each of kube-proxy's prepends lands above the earlier ones."""
    out: dict[str, dict[str, list[str]]] = {t: {} for t in tables}
    for table, chain, target, extra, comment in _KUBELET_JUMPS + _JUMPS:
        text = f"-m comment --comment {_quote(comment)} " if comment else ""
        out[table].setdefault(chain, []).insert(0, f"-A {chain} {extra}{text}-j {target}")
    return out


def _quote(text: str) -> str:
    return f'"{text}"' if " " in text else text


# --- the node --------------------------------------------------------------------------

@dataclass(frozen=True)
class _NodePorts:
    """--nodeport-addresses as kube-proxy reads it (IPv4 CIDRs; none means all)."""
    cidrs: tuple[IPv4Network, ...]
    match_all: bool
    has_loopback: bool


def _node_ports(node: NodeConfig) -> _NodePorts:
    texts = [c for c in node.node_port_addresses if ":" not in c] or ["0.0.0.0/0"]
    cidrs: list[IPv4Network] = []
    loopback = match_all = False
    for text in texts:
        cidr = ip_network(text, strict=False)
        assert isinstance(cidr, IPv4Network)
        loopback = loopback or cidr.network_address in LOCALHOST or LOCALHOST.network_address in cidr
        if text == "0.0.0.0/0":             # upstream compares the text: 0.0.0.0/0 alone means all
            cidrs, match_all = [cidr], True
            break
        cidrs.append(cidr)
    return _NodePorts(tuple(cidrs), match_all, loopback)


def _node_port_ips(npa: _NodePorts, node: NodeConfig) -> list[IPv4Address]:
    """The node's addresses inside the CIDRs: its interfaces' (lo's 127.0.0.1, then node.ips),
    each once, CIDR by CIDR (upstream collects them in a map: any order)."""
    addrs = [IPv4Address("127.0.0.1")] + [a for a in map(ip_address, node.ips) if isinstance(a, IPv4Address)]
    out: list[IPv4Address] = []
    for cidr in npa.cidrs:
        out += [a for a in addrs if a in cidr and a not in out]
    return out


# --- endpoints -------------------------------------------------------------------------

def _uses_cluster(sp: ServicePort) -> bool:
    return not sp.internal_policy_local or _externally_accessible(sp)


def _uses_local(sp: ServicePort) -> bool:
    return sp.internal_policy_local or (sp.external_policy_local and _externally_accessible(sp))


def _externally_accessible(sp: ServicePort) -> bool:
    return bool(sp.node_port or sp.load_balancer_ips or sp.external_ips)


def _serving_terminating(e: Endpoint) -> bool:
    return e.serving and e.terminating


def categorize(eps: Sequence[Endpoint], sp: ServicePort, node_name: str
               ) -> tuple[list[Endpoint], list[Endpoint], list[Endpoint], bool]:
    """(cluster endpoints, local endpoints, all reachable from this node, any usable anywhere).

    Ready endpoints; where none are ready, those serving and terminating (for Cluster and
    for Local each on its own)."""
    cluster: list[Endpoint] = []
    local: list[Endpoint] = []
    has_any = False
    if not eps:
        return cluster, local, cluster, has_any
    if _uses_cluster(sp):
        cluster = [e for e in eps if e.ready] or [e for e in eps if _serving_terminating(e)]
        has_any = bool(cluster)
    if not _uses_local(sp):
        return cluster, local, cluster, has_any
    has_any = has_any or any(e.ready or _serving_terminating(e) for e in eps)
    terminating = False
    local = [e for e in eps if e.ready and e.node == node_name]
    if not local:
        local = [e for e in eps if e.node == node_name and _serving_terminating(e)]
        terminating = bool(local)
    if not _uses_cluster(sp):
        return cluster, local, local, has_any
    if not terminating:
        return cluster, local, cluster, has_any      # local ones are all among the ready ones
    seen = {(e.ip, e.port) for e in cluster}
    return cluster, local, cluster + [e for e in local if (e.ip, e.port) not in seen], has_any


def _unique(eps: Sequence[Endpoint]) -> list[Endpoint]:
    """Each ip:port once (kube-proxy keys endpoints by it)."""
    seen: set[tuple[str, int]] = set()
    out = []
    for e in eps:
        if (e.ip, e.port) not in seen:
            seen.add((e.ip, e.port))
            out.append(e)
    return out


# --- the rules ---------------------------------------------------------------------------

class _Writer:
    """Collects each table's chain declarations and rule lines as kube-proxy writes them."""

    def __init__(self, filter_chains: Sequence[str]):
        self.tables = {"filter": RestoreTable("filter"), "nat": RestoreTable("nat")}
        for c in filter_chains:
            self.tables["filter"].chains[c] = []
        for c in NAT_CHAINS:
            self.tables["nat"].chains[c] = []
        self.nat_chains = self.tables["nat"].chains

    def filter(self, chain: str, rest: str) -> None:
        line = f"-A {chain} {rest}"
        t = self.tables["filter"]
        t.chains[chain].append(line)
        t.lines.append(line)

    def nat(self, chain: str, rest: str) -> None:
        line = f"-A {chain} {rest}"
        self.nat_chains[chain].append(line)
        self.tables["nat"].lines.append(line)


@dataclass(frozen=True)
class _Options:
    node: NodeConfig
    mark: str
    detect: str | None                  # the local range: "-s <it>" is a pod
    localhost: bool                     # node ports on 127.0.0.1 (--iptables-localhost-nodeports, in effect)
    large: bool
    nfacct: bool
    masquerade_all: bool


def build(ports: Sequence[ServicePort], node: NodeConfig, *, random_fully: bool = True,
          tcp_be_liberal: bool = False, nfacct: bool = False, masquerade_all: bool = False
          ) -> dict[str, Table]:
    """{"filter": Table, "nat": Table}: what today's kube-proxy writes on node `node`.

    Each Table (a RestoreTable) holds `chains`, every chain of the restore input in the
    order kube-proxy declares it with its rules, `lines`, the same rules in the order
    kube-proxy writes them, and `jumps`, the rules it keeps at the top of built-in chains.
    Service ports are taken in the caller's order.

    random_fully: iptables supports MASQUERADE --random-fully (1.6.2 on; Debian 12's does).
    tcp_be_liberal: the node's net.netfilter.nf_conntrack_tcp_be_liberal is set (then no
    INVALID drop). nfacct: kube-proxy could create its nfacct counters (then two rules count
    packets with -m nfacct; the counters must exist before the restore). masquerade_all:
    --masquerade-all.
    """
    npa = _node_ports(node)
    eps = [_unique(sp.endpoints) for sp in ports]
    opt = _Options(node, go_mark(node.masquerade_bit), node.local_cidr,
                   node.localhost_nodeports and npa.has_loopback,
                   sum(map(len, eps)) > LARGE_CLUSTER_ENDPOINTS, nfacct, masquerade_all)
    w = _Writer(FILTER_CHAINS + (("KUBE-FIREWALL",) if opt.localhost else ()))
    _fixed_start(w, opt, random_fully)
    for sp, sp_eps in zip(ports, eps):
        if sp.cluster_ip and sp.cluster_ip != "None" and sp.type != "ExternalName":
            _service_port(w, opt, sp, sp_eps)
    _fixed_end(w, opt, npa, tcp_be_liberal)
    for name, chains in jumps().items():
        w.tables[name].jumps = chains
    return dict(w.tables)


def _fixed_start(w: _Writer, opt: _Options, random_fully: bool) -> None:
    m = opt.mark
    w.nat("KUBE-POSTROUTING", f"-m mark ! --mark {m}/{m} -j RETURN")
    w.nat("KUBE-POSTROUTING", f"-j MARK --xor-mark {m}")     # once: not again if it comes round
    w.nat("KUBE-POSTROUTING", '-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE'
          + (" --random-fully" if random_fully else ""))
    w.nat("KUBE-MARK-MASQ", f"-j MARK --or-mark {m}")
    if opt.localhost:
        # route_localnet lets 127.0.0.1 reach node ports; this keeps other hosts from using it.
        w.filter("KUBE-FIREWALL", '-m comment --comment "block incoming localnet connections" '
                 "-d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP")


def _fixed_end(w: _Writer, opt: _Options, npa: _NodePorts, tcp_be_liberal: bool) -> None:
    if npa.match_all:
        dest = "-m addrtype --dst-type LOCAL" + ("" if opt.localhost else " ! -d 127.0.0.0/8")
        w.nat("KUBE-SERVICES", f"-m comment --comment {LAST_RULE} {dest} -j KUBE-NODEPORTS")
    else:
        for ip in _node_port_ips(npa, opt.node):
            if ip.is_loopback and not opt.localhost:
                continue
            w.nat("KUBE-SERVICES", f"-m comment --comment {LAST_RULE} -d {ip} -j KUBE-NODEPORTS")
    if not tcp_be_liberal:
        # Without be_liberal, an out-of-window packet is INVALID and would reach a pod un-NATed.
        count = f" -m nfacct --nfacct-name {NFACCT_INVALID}" if opt.nfacct else ""
        w.filter("KUBE-FORWARD", f"-m conntrack --ctstate INVALID{count} -j DROP")
    m = opt.mark
    w.filter("KUBE-FORWARD", f'-m comment --comment "kubernetes forwarding rules" -m mark --mark {m}/{m} -j ACCEPT')
    w.filter("KUBE-FORWARD", '-m comment --comment "kubernetes forwarding conntrack rule" '
             "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")


@dataclass
class _Port:
    """One service port's names and decisions, as syncProxyRules derives them."""
    sp: ServicePort
    spn: str
    proto: str
    cluster_chain: str
    local_chain: str
    external_chain: str
    fw_chain: str
    cluster: list[Endpoint]
    local: list[Endpoint]
    reachable: list[Endpoint]
    has_endpoints: bool
    has_internal: bool
    has_external: bool
    source_ranges: list[IPv4Network]

    @property
    def internal_chain(self) -> str:
        return self.local_chain if self.sp.internal_policy_local else self.cluster_chain

    @property
    def external_policy_chain(self) -> str:
        return self.local_chain if self.sp.external_policy_local else self.cluster_chain

    @property
    def uses_fw(self) -> bool:
        return self.has_endpoints and bool(self.sp.load_balancer_ips) and bool(self.source_ranges)

    def match(self, dest: str, port: int) -> str:
        return f"-m {self.proto} -p {self.proto} -d {dest} --dport {port}"


def _source_ranges(sp: ServicePort) -> list[IPv4Network]:
    """Trimmed, IPv4, normalised; a 0.0.0.0/0 among them means no restriction."""
    out = []
    for text in (s.strip() for s in sp.source_ranges):
        net = ip_network(text, strict=False)
        if isinstance(net, IPv4Network):
            out.append(net)
    return [] if any(n.prefixlen == 0 for n in out) else out


def _port(sp: ServicePort, eps: list[Endpoint], node_name: str) -> _Port:
    spn = sp.service_port_name
    proto = sp.proto
    cluster, local, reachable, has_any = categorize(eps, sp, node_name)
    return _Port(sp, spn, proto, names.service_chain(spn, proto), names.policy_local_chain(spn, proto),
                 names.external_chain(spn, proto), names.firewall_chain(spn, proto),
                 cluster, local, reachable, has_any,
                 has_any and (not sp.internal_policy_local or bool(local)),
                 has_any and (not sp.external_policy_local or bool(local)),
                 _source_ranges(sp))


def _service_port(w: _Writer, opt: _Options, sp: ServicePort, eps: list[Endpoint]) -> None:
    p = _port(sp, eps, opt.node.name)
    hps = [f"{e.ip}:{e.port}" for e in p.reachable]
    sep = dict(zip(hps, names.endpoint_chains(p.spn, p.proto, hps)))
    _entry_rules(w, opt, p)
    _declare(w, p, sep)
    if p.has_internal:
        head = f'-m comment --comment "{p.spn} cluster IP" {p.match(sp.cluster_ip, sp.port)}'
        if opt.masquerade_all:
            w.nat(p.internal_chain, f"{head} -j KUBE-MARK-MASQ")
        elif opt.detect:
            # Off-cluster clients are masqueraded, so that replies come back through this node.
            w.nat(p.internal_chain, f"{head} ! -s {opt.detect} -j KUBE-MARK-MASQ")
    if p.has_endpoints and _externally_accessible(sp):
        _external_chain(w, opt, p)
    if p.uses_fw:
        _firewall_chain(w, opt, p)
    if p.cluster and _uses_cluster(sp):
        _balance(w, opt, p, p.cluster_chain, hps if p.cluster is p.reachable else _hostports(p.cluster), sep)
    if p.local and _uses_local(sp):
        _balance(w, opt, p, p.local_chain, hps if p.local is p.reachable else _hostports(p.local), sep)
    _endpoint_chains(w, opt, p, hps, sep)


def _hostports(eps: list[Endpoint]) -> list[str]:
    return [f"{e.ip}:{e.port}" for e in eps]


def _endpoint_chains(w: _Writer, opt: _Options, p: _Port, hps: list[str], sep: dict[str, str]) -> None:
    """Each KUBE-SEP: masquerade a pod reaching itself, remember the client (affinity), DNAT."""
    comment = "" if opt.large else f" -m comment --comment {p.spn}"
    dnat = f" -m {p.proto} -p {p.proto} -j DNAT --to-destination "
    chains, lines = w.nat_chains, w.tables["nat"].lines
    for e, hp in zip(p.reachable, hps):
        chain = sep[hp]
        recent = f" -m recent --name {chain} --set" if p.sp.affinity_seconds else ""
        rules = [f"-A {chain}{comment} -s {e.ip} -j KUBE-MARK-MASQ", f"-A {chain}{comment}{recent}{dnat}{hp}"]
        chains[chain] += rules
        lines += rules


def _missing(p: _Port) -> tuple[str, str]:
    """(comment, target) of the filter rule for traffic with nowhere to go: REJECT when the
    service has no endpoints at all, DROP when only this node's (policy Local) are missing."""
    if not p.has_endpoints:
        return f'"{p.spn} has no endpoints"', "REJECT"
    return f'"{p.spn} has no local endpoints"', "DROP"


def _entry_rules(w: _Writer, opt: _Options, p: _Port) -> None:
    """KUBE-SERVICES and KUBE-NODEPORTS jumps, and the filter rules for missing endpoints."""
    sp = p.sp
    if p.has_internal:
        w.nat("KUBE-SERVICES", f'-m comment --comment "{p.spn} cluster IP" '
                               f"{p.match(sp.cluster_ip, sp.port)} -j {p.internal_chain}")
    else:
        comment, target = _missing(p)
        w.filter("KUBE-SERVICES", f"-m comment --comment {comment} {p.match(sp.cluster_ip, sp.port)} -j {target}")
    comment, target = _missing(p)
    for ip in sp.external_ips:
        if p.has_endpoints:
            w.nat("KUBE-SERVICES", f'-m comment --comment "{p.spn} external IP" '
                                   f"{p.match(ip, sp.port)} -j {p.external_chain}")
        if not p.has_external:
            w.filter("KUBE-EXTERNAL-SERVICES", f"-m comment --comment {comment} {p.match(ip, sp.port)} -j {target}")
    lb_chain = p.fw_chain if p.uses_fw else p.external_chain
    for ip in sp.load_balancer_ips:
        if p.has_endpoints:
            w.nat("KUBE-SERVICES", f'-m comment --comment "{p.spn} loadbalancer IP" '
                                   f"{p.match(ip, sp.port)} -j {lb_chain}")
        if p.uses_fw:
            w.filter("KUBE-PROXY-FIREWALL", f'-m comment --comment "{p.spn} traffic not accepted by {p.fw_chain}" '
                                            f"{p.match(ip, sp.port)} -j DROP")
    if not p.has_external:
        for ip in sp.load_balancer_ips:
            w.filter("KUBE-EXTERNAL-SERVICES", f"-m comment --comment {comment} {p.match(ip, sp.port)} -j {target}")
    if sp.node_port:
        head = f"-m comment --comment {p.spn} -m {p.proto} -p {p.proto}"
        if p.has_endpoints:
            if opt.localhost and opt.nfacct:
                w.nat("KUBE-NODEPORTS", f"{head} -d 127.0.0.0/8 --dport {sp.node_port} "
                                        f"-m nfacct --nfacct-name {NFACCT_LOCALHOST} -j {p.external_chain}")
            w.nat("KUBE-NODEPORTS", f"{head} --dport {sp.node_port} -j {p.external_chain}")
        if not p.has_external:
            w.filter("KUBE-EXTERNAL-SERVICES", f"-m comment --comment {comment} -m addrtype --dst-type LOCAL "
                                               f"-m {p.proto} -p {p.proto} --dport {sp.node_port} -j {target}")
    if sp.health_check_node_port and sp.type == "LoadBalancer" and sp.external_policy_local:
        # Accepted whether or not this node has endpoints: the load balancer asks every node.
        w.filter("KUBE-NODEPORTS", f'-m comment --comment "{p.spn} health check node port" '
                                   f"-m tcp -p tcp --dport {sp.health_check_node_port} -j ACCEPT")


def _declare(w: _Writer, p: _Port, sep: dict[str, str]) -> None:
    """The service's nat chains, in the order kube-proxy declares them (before any rule of
    theirs is added, so that `chains` keeps that order)."""
    chains = w.nat_chains
    if p.has_endpoints and _externally_accessible(p.sp):
        chains[p.external_chain] = []
    if p.uses_fw:
        chains[p.fw_chain] = []
    if p.cluster and _uses_cluster(p.sp):
        chains[p.cluster_chain] = []
    if p.local and _uses_local(p.sp):
        chains[p.local_chain] = []
    for chain in sep.values():
        chains[chain] = []


def _external_chain(w: _Writer, opt: _Options, p: _Port) -> None:
    chain, spn = p.external_chain, p.spn
    if not p.sp.external_policy_local:
        # Endpoints may be on other nodes: masquerade, so that replies come back here.
        w.nat(chain, f'-m comment --comment "masquerade traffic for {spn} external destinations" -j KUBE-MARK-MASQ')
    else:
        # Source kept, but pods and the node itself go to the cluster chain: as if out to
        # the load balancer and back. The node's own traffic has a local source: masquerade.
        if opt.detect:
            w.nat(chain, f'-m comment --comment "pod traffic for {spn} external destinations" '
                         f"-s {opt.detect} -j {p.cluster_chain}")
        w.nat(chain, f'-m comment --comment "masquerade LOCAL traffic for {spn} external destinations" '
                     "-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ")
        w.nat(chain, f'-m comment --comment "route LOCAL traffic for {spn} external destinations" '
                     f"-m addrtype --src-type LOCAL -j {p.cluster_chain}")
    if p.has_external:
        w.nat(chain, f"-j {p.external_policy_chain}")


def _firewall_chain(w: _Writer, opt: _Options, p: _Port) -> None:
    """Allowed sources on to KUBE-EXT; the rest falls through, to KUBE-PROXY-FIREWALL's DROP."""
    head = f'-m comment --comment "{p.spn} loadbalancer IP"'
    node_ip = ip_address(opt.node.ips[0]) if opt.node.ips else None
    for cidr in p.source_ranges:
        w.nat(p.fw_chain, f"{head} -s {cidr} -j {p.external_chain}")
    if node_ip is not None and any(node_ip in cidr for cidr in p.source_ranges):
        # The node reaching a VIP it holds itself comes from the VIP.
        for ip in p.sp.load_balancer_ips:
            w.nat(p.fw_chain, f"{head} -s {ip} -j {p.external_chain}")
    w.nat(p.fw_chain, f'-m comment --comment "other traffic to {p.spn} will be dropped by KUBE-PROXY-FIREWALL"')


def _balance(w: _Writer, opt: _Options, p: _Port, chain: str, hps: list[str], sep: dict[str, str]) -> None:
    """Sticky rules first (ClientIP affinity); then rule i of n matches with probability
    1/(n-i), the last always."""
    seconds = p.sp.affinity_seconds
    heads = ([f"-A {chain}"] * len(hps) if opt.large
             else [f'-A {chain} -m comment --comment "{p.spn} -> {hp}"' for hp in hps])
    targets = [sep[hp] for hp in hps]
    rules = []
    if seconds:
        rules += [f"{head} -m recent --name {target} --rcheck --seconds {seconds} --reap -j {target}"
                  for head, target in zip(heads, targets)]
    rules += [f"{head} -m statistic --mode random --probability {chance} -j {target}"
              for head, target, chance in zip(heads, targets, _probabilities(len(hps)))]
    rules.append(f"{heads[-1]} -j {targets[-1]}")
    w.nat_chains[chain] += rules
    w.tables["nat"].lines.extend(rules)


@lru_cache(maxsize=1024)
def _probabilities(n: int) -> tuple[str, ...]:
    """Go's %0.10f of 1/n, 1/(n-1), ... 1/2: the chances of all but the last of n rules."""
    return tuple(f"{1.0 / k:.10f}" for k in range(n, 1, -1))


# --- text ------------------------------------------------------------------------------

def restore_text(tables: dict[str, Table]) -> str:
    """The iptables-restore input of a full sync (kube-proxy runs it with --noflush):
    filter, then nat; each table's chain lines, its rules, COMMIT."""
    out = []
    for name in ("filter", "nat"):
        t = tables[name]
        out.append(f"*{name}")
        out += [f":{c} - [0:0]" for c in t.chains]
        out += t.lines if isinstance(t, RestoreTable) else [r for rules in t.chains.values() for r in rules]
        out.append("COMMIT")
    return "\n".join(out) + "\n"


_COMMENT = re.compile(r'--comment (?:"((?:[^"\\]|\\.)*)"|(\S+))')


def _comment_name(rule: str) -> str | None:
    """The service a rule's comment names: the comment up to its first space or colon."""
    m = _COMMENT.search(rule)
    if m is None:
        return None
    return re.split(r"[ :]", m.group(1) if m.group(1) is not None else m.group(2), maxsplit=1)[0]


def _chain_key(chain: str) -> tuple[int, str]:
    order = {"KUBE-NODEPORTS": 0, "KUBE-SERVICES": 1}
    return order.get(chain, 2 if chain.startswith("KUBE-") else 3), chain


def canonical(text: str) -> str:
    """iptables-restore text sorted as upstream's tests sort it before comparing (their
    sortIPTablesRules): tables by name; chains KUBE-NODEPORTS, KUBE-SERVICES, the other
    KUBE-* ones by name, then the rest by name; each chain's rules after its chain line,
    in their order, but KUBE-NODEPORTS and KUBE-SERVICES (of both tables) ordered by the
    service their comment names (stable), the "must be the last rule" rule last."""
    tables: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line == "COMMIT":
            continue
        if line.startswith("*"):
            current = tables.setdefault(line[1:], {})
        elif current is None:
            raise ValueError(f"outside a table: {line!r}")
        elif line.startswith(":"):
            current.setdefault(line[1:].split()[0], [])
        elif line.startswith("-A "):
            chain = line.split()[1]
            if chain not in current:
                raise ValueError(f"rule of an undeclared chain: {line!r}")
            current[chain].append(line)
        else:
            raise ValueError(f"not a chain or rule line: {line!r}")
    out = []
    for name in sorted(tables):
        chains = tables[name]
        for chain in ("KUBE-NODEPORTS", "KUBE-SERVICES"):
            if chain in chains:
                chains[chain].sort(key=lambda r: ("must be the last rule" in r, _comment_name(r) or ""))
        order = sorted(chains, key=_chain_key)
        out.append(f"*{name}")
        out += [f":{c} - [0:0]" for c in order]
        out += [r for c in order for r in chains[c]]
        out.append("COMMIT")
    return "\n".join(out) + "\n"


# --- as iptables-save prints it back ----------------------------------------------------

_HEADER = ("-s", "-d", "-i", "-o", "-p")     # the parts of the IP header match, printed first, in this order
_FLAGS = {"--set", "--rcheck", "--update", "--remove", "--reap", "--rsource", "--rdest", "--random-fully",
          "--random", "--persistent"}


def as_saved(line: str) -> str:
    """A rule as iptables-save (nft or legacy, 1.8.9) prints it back.

    Seen on this project's kernel: the IP header part (-s, -d, -p, with their "!") moves
    in front of the matches, a single address gets "/32", every comment is double-quoted,
    MARK's --or-mark/--xor-mark become --set-xmark, marks lose their leading zeros, REJECT
    gets its default --reject-with, the recent match prints its defaults and its own order,
    and a probability is the one the kernel stores (rules.saved_probability)."""
    words = shlex.split(line)
    head, chain, rest = words[0], words[1], words[2:]
    header: dict[str, str] = {}
    parts: list[list[str]] = []          # [-m name, options...] or [-j target, options...]
    i, negate = 0, False
    while i < len(rest):
        word = rest[i]
        if word == "!":
            negate = True
            i += 1
            continue
        if word in _HEADER:
            value = rest[i + 1]
            if word in ("-s", "-d") and "/" not in value:
                value += "/32"
            header[word] = ("! " if negate else "") + f"{word} {value}"
            i += 2
        elif word in ("-m", "-j"):
            parts.append([word, rest[i + 1]])
            i += 2
        elif word in _FLAGS or i + 1 == len(rest) or rest[i + 1].startswith("-"):
            parts[-1].append(("! " if negate else "") + word)
            i += 1
        else:
            parts[-1].append(("! " if negate else "") + f"{word} {_saved_value(word, rest[i + 1])}")
            i += 2
        negate = False
    out = [head, chain] + [header[k] for k in _HEADER if k in header]
    for part in parts:
        out += _saved_part(part)
    return " ".join(out)


def _saved_value(option: str, value: str) -> str:
    if option == "--comment":
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if option == "--probability":
        return saved_probability(value)
    if option == "--mark":
        v, _, m = value.partition("/")
        return f"{int(v, 16):#x}/{int(m or v, 16):#x}" if m else f"{int(v, 16):#x}"
    return value


def _saved_part(part: list[str]) -> list[str]:
    kind, name, options = part[0], part[1], part[2:]
    if kind == "-m" and name == "recent":
        # printed: the mode, --seconds, --reap, then --name, --mask and --rsource (defaults shown)
        order = ("--set", "--rcheck", "--update", "--remove", "--seconds", "--hitcount", "--reap", "--name")
        options = sorted(options, key=lambda o: order.index(o.split()[0]) if o.split()[0] in order else len(order))
        if not any(o.startswith("--mask") for o in options):
            options.append("--mask 255.255.255.255")
        if not any(o in ("--rsource", "--rdest") for o in options):
            options.append("--rsource")
    elif kind == "-j" and name == "MARK":
        options = [_saved_mark(o) for o in options]
    elif kind == "-j" and name == "REJECT" and not options:
        options = ["--reject-with icmp-port-unreachable"]
    return [f"{kind} {name}"] + options


def _saved_mark(option: str) -> str:
    word, _, value = option.partition(" ")
    v = int(value.split("/")[0], 16)
    if word == "--or-mark":
        return f"--set-xmark {v:#x}/{v:#x}"
    if word == "--xor-mark":
        return f"--set-xmark {v:#x}/0x0"
    return option
