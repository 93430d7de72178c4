"""kube-proxy in nftables mode, as of Kubernetes v1.33: one node's `ip kube-proxy` table. Pure.

Followed: pkg/proxy/nftables/proxier.go of kubernetes/kubernetes at b0f823e6 (v1.33
development cycle: partial syncs with per-element bookkeeping, the cluster-ips-check and
filter-output-post-dnat chains, split service-/nodeport-endpoints-check), written
through knftables v0.0.18 (the text forms of its objects and its fake's Dump).

Shape of the table, all of it in one `ip kube-proxy` table:
- base chains hooked at fixed priorities: filter-* at dstnat-10 (-110; filtering sees
  the service address before DNAT), filter-output-post-dnat at dstnat+10 (-90),
  nat-prerouting/-output at dstnat (-100), nat-postrouting at srcnat (100); each holds
  only jumps into the regular chains;
- dispatch by verdict maps instead of rule lists: `services` looks the destination up
  in @service-ips (address . protocol . port) and @service-nodeports (protocol . port,
  on the addresses of @nodeport-ips), so a packet costs two lookups, not a walk over
  every service;
- per service port `service-<base>` (Cluster policy endpoints), `local-<base>` (Local
  policy), `external-<base>` (NodePort, external and load-balancer IPs: masquerade, or
  the Local short-circuits), `firewall-<base>` (loadBalancerSourceRanges, entered from
  @firewall-ips before DNAT); per endpoint `endpoint-<base>` (hairpin masquerade,
  affinity update, DNAT) and, with ClientIP affinity, a timeout set `affinity-<base>`;
  names in nft_names;
- a service port without usable endpoints has no chain at all, only elements of
  @no-endpoint-services / @no-endpoint-nodeports (reject; drop when only the Local
  policy's endpoints are missing), checked in the filter chains.

Not here because v1.33 does not do them in nftables mode: NodePorts on 127.0.0.1, any
rule for health-check node ports (kube-proxy serves those from its own socket),
masquerade-all (not a NodeConfig flag). Endpoint topology hints are not modelled.
"""
from __future__ import annotations

import gc
import re
import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

from netlab.kube_proxy import nft_names
from netlab.kube_proxy.view import Endpoint, NodeConfig, ServicePort

FAMILY = "ip"
TABLE = "kube-proxy"
TABLE_COMMENT = "rules for kube-proxy"
_AT = f"{FAMILY} {TABLE}"

MARK_MASQ = "mark-for-masquerade"
REJECT_CHAIN = "reject-chain"
NO_ENDPOINT_SERVICES = "no-endpoint-services"
NO_ENDPOINT_NODEPORTS = "no-endpoint-nodeports"
NODEPORT_IPS = "nodeport-ips"

# (name, type, hook, priority): knftables writes the numeric priority
BASE_CHAINS = (
    ("filter-prerouting", "filter", "prerouting", -110),
    ("filter-input", "filter", "input", -110),
    ("filter-forward", "filter", "forward", -110),
    ("filter-output", "filter", "output", -110),
    ("filter-output-post-dnat", "filter", "output", -90),
    ("nat-prerouting", "nat", "prerouting", -100),
    ("nat-output", "nat", "output", -100),
    ("nat-postrouting", "nat", "postrouting", 100),
)
# (target, from base chain, match), in the order kube-proxy adds them
JUMPS = (
    ("nodeport-endpoints-check", "filter-input", "ct state new"),
    ("service-endpoints-check", "filter-input", "ct state new"),
    ("service-endpoints-check", "filter-forward", "ct state new"),
    ("service-endpoints-check", "filter-output", "ct state new"),
    ("firewall-check", "filter-prerouting", "ct state new"),
    ("firewall-check", "filter-output", "ct state new"),
    ("services", "nat-output", ""),
    ("services", "nat-prerouting", ""),
    ("masquerading", "nat-postrouting", ""),
    ("cluster-ips-check", "filter-forward", "ct state new"),
    ("cluster-ips-check", "filter-output-post-dnat", "ct state new"),
)
_ADDR_KEY = "ipv4_addr . inet_proto . inet_service : verdict"
_PORT_KEY = "inet_proto . inet_service : verdict"
# the sets and maps every node has, in creation order; containers whose elements are
# rewritten from the services on a full sync are flushed first
FIXED_CONTAINERS = (
    ("set", "cluster-ips", "ipv4_addr", "Active ClusterIPs"),
    ("set", NODEPORT_IPS, "ipv4_addr", "IPs that accept NodePort traffic"),
    ("map", NO_ENDPOINT_SERVICES, _ADDR_KEY, "vmap to drop or reject packets to services with no endpoints"),
    ("map", NO_ENDPOINT_NODEPORTS, _PORT_KEY, "vmap to drop or reject packets to service nodeports with no endpoints"),
    ("map", "firewall-ips", _ADDR_KEY, "destinations that are subject to LoadBalancerSourceRanges"),
    ("map", "service-ips", _ADDR_KEY, "ClusterIP, ExternalIP and LoadBalancer IP traffic"),
    ("map", "service-nodeports", _PORT_KEY, "NodePort traffic"),
)
SERVICE_CONTAINERS = ("cluster-ips", "service-ips", "firewall-ips", NO_ENDPOINT_SERVICES,
                      NO_ENDPOINT_NODEPORTS, "service-nodeports")


# --- the value --------------------------------------------------------------------------

class Chain(NamedTuple):
    name: str
    rules: tuple[str, ...] = ()              # each rule's text, with its `comment "..."`
    base: tuple[str, str, int] | None = None  # (type, hook, priority) of a base chain
    comment: str | None = None


class Container(NamedTuple):
    """A set or a map (kind "set" / "map") and how it is declared."""
    kind: str
    name: str
    type: str
    flags: tuple[str, ...] = ()
    timeout: int | None = None               # seconds
    comment: str | None = None


class Element(NamedTuple):
    key: str                                 # "172.30.0.41 . tcp . 80"
    value: str = ""                          # a map element's verdict; "" in a set
    comment: str | None = None


@dataclass
class Ruleset:
    """The table: chains, sets/maps and their elements, each dict in creation order
    (fixed objects first, then service by service)."""
    chains: dict[str, Chain]
    containers: dict[str, Container]
    elements: dict[str, dict[str, Element]]  # container -> key -> element
    comment: str = TABLE_COMMENT


# --- building ---------------------------------------------------------------------------

def _q(text: str) -> str:
    """A string as Go's %q writes it (enough for the ASCII comments used here)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _with_comment(rule: str, comment: str) -> str:
    return f"{rule} comment {_q(comment)}"


def nodeport_ips(node: NodeConfig) -> tuple[str, ...] | None:
    """The node addresses NodePorts answer on; None: every local address (0.0.0.0/0).

    Unset --nodeport-addresses means "primary" in nftables mode: the node's IP only.
    Loopback addresses are skipped (no localhost NodePorts in nftables mode)."""
    cidrs = node.node_port_addresses or ((f"{node.ips[0]}/32",) if node.ips else ())
    nets = [ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if ":" not in c]
    if not nets or any(n.prefixlen == 0 for n in nets):
        return None
    out: dict[str, None] = {}
    for ip in node.ips:
        addr = ipaddress.ip_address(ip)
        if addr.version == 4 and not addr.is_loopback and any(addr in n for n in nets):
            out[ip] = None
    return tuple(out)


def _fixed(node: NodeConfig, npips: tuple[str, ...] | None, service_cidrs: Sequence[str]) -> Ruleset:
    mark = node.masquerade_mark
    rules: dict[str, list[str]] = {name: [] for name, *_ in BASE_CHAINS}
    for target, source, match in JUMPS:
        rules[source].append(f"{match} jump {target}".lstrip())
    on_nodeports = "ip daddr != 127.0.0.0/8" if npips is None else f"ip daddr @{NODEPORT_IPS}"
    cluster_ips_check = [_with_comment("ip daddr @cluster-ips reject", "Reject traffic to invalid ports of ClusterIPs")]
    if service_cidrs:
        cluster_ips_check.append(_with_comment(f"ip daddr {{ {','.join(service_cidrs)} }} drop",
                                               "Drop traffic to unallocated ClusterIPs"))
    regular = {
        "nodeport-endpoints-check": [f"{on_nodeports} meta l4proto . th dport vmap @{NO_ENDPOINT_NODEPORTS}"],
        "service-endpoints-check": [f"ip daddr . meta l4proto . th dport vmap @{NO_ENDPOINT_SERVICES}"],
        "firewall-check": ["ip daddr . meta l4proto . th dport vmap @firewall-ips"],
        "services": ["ip daddr . meta l4proto . th dport vmap @service-ips",
                     ("fib daddr type local ip daddr != 127.0.0.0/8" if npips is None else f"ip daddr @{NODEPORT_IPS}")
                     + " meta l4proto . th dport vmap @service-nodeports"],
        "masquerading": [f"mark and {mark} == 0 return", f"mark set mark xor {mark}", "masquerade fully-random"],
        "cluster-ips-check": cluster_ips_check,
        MARK_MASQ: [f"mark set mark or {mark}"],
    }
    chains = {name: Chain(name, tuple(rules[name]), (kind, hook, prio)) for name, kind, hook, prio in BASE_CHAINS}
    chains.update((name, Chain(name, tuple(r))) for name, r in regular.items())
    chains[REJECT_CHAIN] = Chain(REJECT_CHAIN, ("reject",), None,
                                 f"helper for @{NO_ENDPOINT_SERVICES} / @{NO_ENDPOINT_NODEPORTS}")
    containers = {name: Container(kind, name, typ, comment=comment)
                  for kind, name, typ, comment in FIXED_CONTAINERS if name != NODEPORT_IPS or npips is not None}
    elements: dict[str, dict[str, Element]] = {name: {} for name in containers}
    for ip in npips or ():
        elements[NODEPORT_IPS][ip] = Element(ip)
    return Ruleset(chains, containers, elements)


def _ipv4(addresses: Iterable[str]) -> list[str]:
    return [a for a in addresses if ":" not in a]


def _source_ranges(ranges: Iterable[str]) -> list[ipaddress.IPv4Network]:
    """loadBalancerSourceRanges as kube-proxy reads them: trimmed, IPv4, invalid ones left out."""
    out = []
    for text in ranges:
        try:
            net = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            continue
        if isinstance(net, ipaddress.IPv4Network):
            out.append(net)
    return out


def _usable(endpoints: Iterable[Endpoint]) -> list[Endpoint]:
    """One endpoint per "ip:port", sorted by that string (kube-proxy's endpoints map order)."""
    seen: dict[str, Endpoint] = {}
    for e in endpoints:
        if (k := f"{e.ip}:{e.port}") not in seen:
            seen[k] = e
    return [seen[k] for k in sorted(seen)]


def categorize(sp: ServicePort, node_name: str, externally_accessible: bool
               ) -> tuple[list[Endpoint], list[Endpoint], list[Endpoint], bool]:
    """(cluster-policy endpoints, local-policy endpoints, all reachable from this node,
    whether any usable endpoint exists anywhere). Usable: ready, else serving and
    terminating (each policy falls back on its own)."""
    eps = _usable(sp.endpoints)
    ext_local = sp.external_policy_local and externally_accessible
    uses_cluster = not sp.internal_policy_local or externally_accessible
    uses_local = sp.internal_policy_local or ext_local
    cluster: list[Endpoint] = []
    has_any = False
    if uses_cluster:
        cluster = [e for e in eps if e.ready] or [e for e in eps if e.serving and e.terminating]
        has_any = bool(cluster)
    if not uses_local:
        return cluster, [], cluster, has_any
    has_any = has_any or any(e.ready or (e.serving and e.terminating) for e in eps)
    mine = [e for e in eps if e.node == node_name]
    local = [e for e in mine if e.ready]
    fallback = not local
    if fallback:
        local = [e for e in mine if e.serving and e.terminating]
    if not uses_cluster:
        return cluster, local, local, has_any
    if not fallback:
        return cluster, local, cluster, has_any     # the ready local ones are among cluster's
    in_cluster = {(e.ip, e.port) for e in cluster}
    extra = [e for e in local if (e.ip, e.port) not in in_cluster]
    return cluster, local, cluster + extra, has_any


def _balance(endpoints: list[str], affinity: dict[str, str]) -> list[str]:
    """Rules choosing an endpoint chain: sticky ones first, then a random pick."""
    sticky = [f"ip saddr @{affinity[e]} goto {e}" for e in endpoints] if affinity else []
    choices = " , ".join([f"{i} : goto {e}" for i, e in enumerate(endpoints)])
    return [*sticky, f"numgen random mod {len(endpoints)} vmap {{ {choices} }}"]


# Chain(...) through NamedTuple's Python-level __new__ costs a third of a 10,000-service
# build; tuple.__new__ makes the same value in C.
_new = tuple.__new__


def _add_service(rs: Ruleset, sp: ServicePort, node: NodeConfig) -> None:
    chains, elements = rs.chains, rs.elements
    proto, port, spn = sp.protocol.lower(), sp.port, sp.service_port_name
    readable = nft_names.service_readable(sp.namespace, sp.name, proto, sp.port_name)
    base = nft_names.service_base(sp.namespace, sp.name, proto, sp.port_name)
    cluster_chain, local_chain = "service-" + base, "local-" + base
    external_chain, fw_chain = "external-" + base, "firewall-" + base
    external_ips, lb_ips = _ipv4(sp.external_ips), _ipv4(sp.load_balancer_ips)
    accessible = bool(sp.node_port or lb_ips or external_ips)
    ext_local = sp.external_policy_local and accessible
    cluster_eps, local_eps, reachable, has_any = categorize(sp, node.name, accessible)

    # endpoint chains, and the names the policy chains jump to
    ep_chain: dict[tuple[str, int], str] = {}
    affinity: dict[str, str] = {}
    masq, update = f" jump {MARK_MASQ}", f"meta l4proto {proto} dnat to "
    for e in reachable:
        ip, ep_port = e.ip, e.port
        ep_base = nft_names.endpoint_base_in(readable, ip, ep_port)
        name = ep_chain[ip, ep_port] = "endpoint-" + ep_base
        if sp.affinity_seconds:
            affinity[name] = "affinity-" + ep_base
            rules: tuple[str, ...] = (f"ip saddr {ip}{masq}", f"update @{affinity[name]} {{ ip saddr }}",
                                      f"{update}{ip}:{ep_port}")
        else:
            rules = (f"ip saddr {ip}{masq}", f"{update}{ip}:{ep_port}")
        chains[name] = _new(Chain, (name, rules, None, None))
    for name, set_name in affinity.items():
        rs.containers[set_name] = Container("set", set_name, "ipv4_addr", ("dynamic", "timeout"), sp.affinity_seconds)

    uses_cluster = bool(cluster_eps) and (not sp.internal_policy_local or accessible)
    uses_local = bool(local_eps) and (sp.internal_policy_local or ext_local)
    internal_chain = local_chain if sp.internal_policy_local else cluster_chain
    has_internal = has_any and (bool(local_eps) or not sp.internal_policy_local)
    has_external = has_any and (bool(local_eps) or not ext_local)
    policy: dict[str, list[str]] = {}
    if uses_cluster:
        policy[cluster_chain] = []
    if uses_local:
        policy[local_chain] = []
    if has_internal and node.local_cidr:
        # off-cluster sources reaching a cluster IP are masqueraded (replies come back here)
        policy[internal_chain].append(f"ip daddr {sp.cluster_ip} {proto} dport {port} "
                                      f"ip saddr != {node.local_cidr} jump {MARK_MASQ}")
    if uses_cluster:
        policy[cluster_chain] += _balance([ep_chain[e.ip, e.port] for e in cluster_eps], affinity)
    if uses_local:
        policy[local_chain] += _balance([ep_chain[e.ip, e.port] for e in local_eps], affinity)
    for name, policy_rules in policy.items():
        chains[name] = _new(Chain, (name, tuple(policy_rules), None, None))

    if has_any and accessible:
        chains[external_chain] = Chain(external_chain, tuple(_external_rules(
            ext_local, node.local_cidr, cluster_chain, local_chain if ext_local else cluster_chain, has_external)))
    ranges = _source_ranges(sp.source_ranges)
    uses_fw = bool(lb_ips and ranges)
    if uses_fw:
        sources = [str(n) for n in ranges]
        if node.ips and any(ipaddress.ip_address(node.ips[0]) in n for n in ranges):
            sources += lb_ips     # a node reaching its own VIP arrives from the VIP
        chains[fw_chain] = Chain(fw_chain, (f"ip saddr != {{ {' , '.join(sources)} }} drop",))

    # elements: dispatch, or the verdicts for missing endpoints
    reject = f"goto {REJECT_CHAIN}"
    internal_verdict = reject if not has_any else "drop"
    external_verdict = reject if not has_any else "drop"
    elements["cluster-ips"][sp.cluster_ip] = Element(sp.cluster_ip)
    key = f"{sp.cluster_ip} . {proto} . {port}"
    if has_internal:
        elements["service-ips"][key] = Element(key, f"goto {internal_chain}")
    else:
        elements[NO_ENDPOINT_SERVICES][key] = Element(key, internal_verdict, spn)
    for ip in external_ips + lb_ips:
        key = f"{ip} . {proto} . {port}"
        if has_any:
            elements["service-ips"][key] = Element(key, f"goto {external_chain}")
        if not has_external:
            elements[NO_ENDPOINT_SERVICES][key] = Element(key, external_verdict, spn)
        if uses_fw and ip in lb_ips:
            elements["firewall-ips"][key] = Element(key, f"goto {fw_chain}")
    if sp.node_port:
        key = f"{proto} . {sp.node_port}"
        if has_any:
            elements["service-nodeports"][key] = Element(key, f"goto {external_chain}")
        if not has_external:
            elements[NO_ENDPOINT_NODEPORTS][key] = Element(key, external_verdict, spn)


def _external_rules(ext_local: bool, local_cidr: str | None, cluster_chain: str, policy_chain: str,
                    has_external: bool) -> list[str]:
    if not ext_local:
        rules = [f"jump {MARK_MASQ}"]          # the endpoint may be on another node
    else:
        rules = []
        if local_cidr:
            # pods reaching an external address get the Cluster policy (as if out and back in)
            rules.append(_with_comment(f"ip saddr {local_cidr} goto {cluster_chain}", "short-circuit pod traffic"))
        rules += [_with_comment(f"fib saddr type local jump {MARK_MASQ}", "masquerade local traffic"),
                  _with_comment(f"fib saddr type local goto {cluster_chain}", "short-circuit local traffic")]
    if has_external:
        rules.append(f"goto {policy_chain}")
    return rules


def build(ports: Sequence[ServicePort], node: NodeConfig, *, service_cidrs: Sequence[str] = ()) -> Ruleset:
    """The `ip kube-proxy` table kube-proxy keeps on `node` for these service ports.

    service_cidrs: the cluster's ServiceCIDRs (IPv4); with them, traffic to an address of
    theirs that is no service's is dropped (kube-proxy learns them from ServiceCIDR objects).
    """
    rs = _fixed(node, nodeport_ips(node), _ipv4(service_cidrs))
    with _no_cyclic_gc():
        for sp in ports:
            if ":" not in sp.cluster_ip:
                _add_service(rs, sp, node)
    return rs


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The build makes only acyclic objects (tuples, strings, dicts of them); the collector's
    passes over 400,000 of them would take half of a 10,000-service build."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# --- text ---------------------------------------------------------------------------------
# Every line as knftables writes the object: `add <type> ip kube-proxy <name> ...`.

def table_line(rs: Ruleset) -> str:
    return f"add table {_AT} {{ comment {_q(rs.comment)} ; }}"


def chain_line(c: Chain) -> str:
    opts = ""
    if c.base is not None:
        opts += f" type {c.base[0]} hook {c.base[1]} priority {c.base[2]} ;"
    if c.comment is not None:
        opts += f" comment {_q(c.comment)} ;"
    return f"add chain {_AT} {c.name}" + (f" {{{opts} }}" if opts else "")


def container_line(c: Container) -> str:
    opts = f" type {c.type} ;"
    if c.flags:
        opts += f" flags {','.join(c.flags)} ;"
    if c.timeout is not None:
        opts += f" timeout {c.timeout}s ;"
    if c.comment is not None:
        opts += f" comment {_q(c.comment)} ;"
    return f"add {c.kind} {_AT} {c.name} {{{opts} }}"


def rule_line(chain: str, rule: str) -> str:
    return f"add rule {_AT} {chain} {rule}"


def element_line(container: str, e: Element, verb: str = "add") -> str:
    if verb != "add":
        return f"{verb} element {_AT} {container} {{ {e.key} }}"
    comment = f" comment {_q(e.comment)}" if e.comment is not None else ""
    value = f" : {e.value}" if e.value else ""
    return f"add element {_AT} {container} {{ {e.key}{comment}{value} }}"


def _verb(verb: str, kind: str, name: str) -> str:
    return f"{verb} {kind} {_AT} {name}"


def dump(rs: Ruleset) -> str:
    """The table as knftables' fake Dump()s it, the form upstream's unit tests compare:
    table; chains, sets, maps by name; each chain's rules (chains by name); each set's,
    then each map's elements (by name; elements, in kube-proxy in a Go map's order,
    sorted by line here)."""
    chains = sorted(rs.chains)
    sets = sorted(n for n, c in rs.containers.items() if c.kind == "set")
    maps = sorted(n for n, c in rs.containers.items() if c.kind == "map")
    lines = [table_line(rs)]
    lines += [chain_line(rs.chains[n]) for n in chains]
    lines += [container_line(rs.containers[n]) for n in sets + maps]
    lines += [rule_line(n, r) for n in chains for r in rs.chains[n].rules]
    for n in sets + maps:
        lines += sorted(element_line(n, e) for e in rs.elements.get(n, {}).values())
    return "\n".join(lines) + "\n"


_ORDER = {"table": 10, "chain": 9, "rule": 8, "set": 7, "map": 6, "element": 5}


def canonical(text: str) -> str:
    """Transaction or dump text in the order upstream's tests compare it: blank lines and
    # comments out; by object type (table, chain, rule, set, map, element), then object
    name; rules of a chain keep their order, other lines of one name sort by text."""
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]

    def key(line: str) -> tuple[int, str, str]:
        words = line.split(" ")
        if len(words) < 5:
            return (0, "", "")
        return (-_ORDER.get(words[1], 0), words[4], "" if words[1] == "rule" else line)
    return "\n".join(sorted(lines, key=key)) + "\n"


def _is_fixed_chain(name: str) -> bool:
    return not nft_names.is_service_chain(name)


def full_text(rs: Ruleset) -> str:
    """The `nft -f` transaction of kube-proxy's first full sync on a fresh node.

    The fixed objects come in kube-proxy's order (table; base chains added and deleted
    once, so that a changed priority cannot fail the transaction; base and jump chains
    created and flushed; sets and maps declared, the service ones flushed). The service
    objects follow grouped by kind (chains created and flushed, affinity sets, rules,
    elements) where kube-proxy interleaves them service by service: the same commands,
    and each object still comes before anything that refers to it.
    """
    out = [table_line(rs)]
    bases = [n for n, *_ in BASE_CHAINS if n in rs.chains]
    for n in bases:
        out += [_verb("add", "chain", n), _verb("delete", "chain", n)]
    for n in bases:
        out += [chain_line(rs.chains[n]), _verb("flush", "chain", n)]
    created: set[str] = set()

    def ensure(name: str) -> None:
        if name not in created:
            created.add(name)
            out.extend([chain_line(rs.chains[name]), _verb("flush", "chain", name)])

    def rules(name: str) -> None:
        out.extend(rule_line(name, r) for r in rs.chains[name].rules)

    def declare(name: str) -> None:
        out.append(container_line(rs.containers[name]))

    next_jump = dict.fromkeys(bases, 0)
    for target, source, _ in JUMPS:
        ensure(target)
        out.append(rule_line(source, rs.chains[source].rules[next_jump[source]]))
        next_jump[source] += 1
    for name in ("services", "cluster-ips-check", "masquerading", MARK_MASQ):
        ensure(name)
    rules(MARK_MASQ)
    rules("masquerading")
    declare("cluster-ips")
    rules("cluster-ips-check")
    out.append(container_line(Container("set", NODEPORT_IPS, "ipv4_addr",
                                        comment=FIXED_CONTAINERS[1][3])))
    if NODEPORT_IPS in rs.containers:
        out.append(_verb("flush", "set", NODEPORT_IPS))
        out += [element_line(NODEPORT_IPS, e) for e in rs.elements[NODEPORT_IPS].values()]
    else:
        out.append(_verb("delete", "set", NODEPORT_IPS))    # every address: no set at all
    declare(NO_ENDPOINT_SERVICES)
    declare(NO_ENDPOINT_NODEPORTS)
    ensure(REJECT_CHAIN)
    rules(REJECT_CHAIN)
    rules("service-endpoints-check")
    rules("nodeport-endpoints-check")
    declare("firewall-ips")
    rules("firewall-check")
    declare("service-ips")
    declare("service-nodeports")
    rules("services")
    out += [_verb("flush", rs.containers[n].kind, n) for n in SERVICE_CONTAINERS]

    service_chains = [n for n in rs.chains if not _is_fixed_chain(n)]
    for n in service_chains:
        ensure(n)
    out += [container_line(c) for n, c in rs.containers.items() if n.startswith("affinity-")]
    for n in service_chains:
        rules(n)
    for n in SERVICE_CONTAINERS:
        out += [element_line(n, e) for e in rs.elements[n].values()]
    return "\n".join(out) + "\n"


def changes(old: Ruleset | None, new: Ruleset) -> str:
    """A minimal `nft -f` transaction turning table `old` into `new` (None: full_text).

    Unchanged chains are not touched: a chain whose rules differ is flushed and refilled,
    a new one created; set/map elements are added and deleted one by one (a changed value
    is deleted and added again). Objects that go away are deleted last, once no rule or
    element refers to them any more (their chains are flushed first, the elements
    pointing at them deleted, the chains referring to them rewritten), but for chains:
    those are only flushed, and deleted later in a transaction of their own
    (removed_chains, stale_deletes), as kube-proxy deletes its stale chains.
    """
    if old is None:
        return full_text(new)
    out: list[str] = []
    redefined = {n for n, c in new.containers.items() if n in old.containers and old.containers[n] != c}
    gone_containers = [n for n in old.containers if n not in new.containers]
    # a set declared anew must lose every rule naming it, changed or not
    refs = tuple(f"@{n} " for n in redefined) + tuple(f"@{n} " for n in gone_containers)
    rewrite, removed = [], [n for n in old.chains if n not in new.chains]
    for name, chain in new.chains.items():
        before = old.chains.get(name)
        if before is None or before != chain or (refs and any(r in f"{x} " for x in chain.rules for r in refs)):
            rewrite.append(name)
    for name in rewrite + removed:
        if name in old.chains:
            out.append(_verb("flush", "chain", name))
    for name in redefined:
        out.append(_verb("delete", old.containers[name].kind, name))
    for name, c in new.containers.items():
        if name not in old.containers or name in redefined:
            out.append(container_line(c))
    for name in rewrite:
        before = old.chains.get(name)
        if before is not None and (before.base != new.chains[name].base or before.comment != new.chains[name].comment):
            out.append(_verb("delete", "chain", name))
            before = None
        if before is None:
            out.append(chain_line(new.chains[name]))
    for name, elems in old.elements.items():
        if name in new.containers and name not in redefined:
            now = new.elements.get(name, {})
            out += [element_line(name, e, "delete") for k, e in elems.items() if now.get(k) != e]
    for name in rewrite:
        out += [rule_line(name, r) for r in new.chains[name].rules]
    for name, elems in new.elements.items():
        then = {} if name in redefined else old.elements.get(name, {})
        out += [element_line(name, e) for k, e in elems.items() if then.get(k) != e]
    out += [_verb("delete", old.containers[n].kind, n) for n in gone_containers]
    return "\n".join(out) + "\n" if out else ""


def removed_chains(old: Ruleset, new: Ruleset) -> list[str]:
    return [n for n in old.chains if n not in new.chains]


def stale_deletes(names: Iterable[str]) -> str:
    """A transaction deleting stale (flushed, unreferenced) chains; each is added first, so
    one already gone is no error, as kube-proxy's add-then-delete does."""
    return "".join(f"{chain_line(Chain(n))}\n{_verb('delete', 'chain', n)}\n" for n in names)


# --- applying fast ----------------------------------------------------------------------
# The same commands as full_text() / changes(), in forms nft 1.0.6 and the kernel process
# faster (see docs/kube-proxy-scale.md for the measurements):
# - nft 1.0.6 fetches every chain of the table before it evaluates an `add rule` or
#   `add element` (cache level NFT_CACHE_CHAIN), and the kernel's chain dump restarts its
#   walk of the table's chain list for each netlink message: ~0.5 s at 110,000 chains.
#   `add chain NAME { rules }` and a set declaration with `elements = { ... }` need only
#   the table (and the sets the rules name, declared again in the same input);
# - the kernel walks the whole transaction for every anonymous set a rule binds (the
#   `numgen ... vmap { }` of each service chain): quadratic in the transaction's length,
#   218 s for full_text() of 10,000 services. staged() keeps the transactions short.

_REF = re.compile(r"@(\S+)")
STAGE_CHAINS = 4000        # service chains per staging transaction


def batched(lines: Iterable[str], rs: Ruleset) -> str:
    """The transaction `lines` (full_text()/changes() lines) with each run of `add rule`
    lines of one chain written as one `add chain <chain> { ... }` block, and each run of
    `add element` lines of one set or map as its declaration (from `rs`) with
    `elements = { ... }`; the sets a block's rules name are declared (again) before it.
    The same objects in the same order: the same table once applied."""
    src = list(lines)
    rule_at, elem_at = f"add rule {_AT} ", f"add element {_AT} "
    out: list[str] = []
    declared: set[str] = set()
    i, n = 0, len(src)
    while i < n:
        line = src[i]
        if line.startswith(rule_at):
            chain = line[len(rule_at):].split(" ", 1)[0]
            head = f"{rule_at}{chain} "
            rules = []
            while i < n and src[i].startswith(head):
                rules.append(src[i][len(head):])
                i += 1
            for name in dict.fromkeys(m for r in rules for m in _REF.findall(r)):
                if name in rs.containers and name not in declared:
                    declared.add(name)
                    out.append(container_line(rs.containers[name]))
            out.append(f"add chain {_AT} {chain} {{\n" + "\n".join(rules) + "\n}")
        elif line.startswith(elem_at) and line.endswith(" }"):
            name = line[len(elem_at):].split(" ", 1)[0]
            head = f"{elem_at}{name} {{ "
            items = []
            while i < n and src[i].startswith(head) and src[i].endswith(" }"):
                items.append(src[i][len(head):-2])
                i += 1
            declared.add(name)
            out.append(container_line(rs.containers[name])[:-1] + "elements = { " + ", ".join(items) + " } ; }")
        else:
            words = line.split(" ", 5)
            if len(words) > 4 and words[0] == "add" and words[1] in ("set", "map"):
                declared.add(words[4])
            out.append(line)
            i += 1
    return "\n".join(out) + "\n" if out else ""


def staged(rs: Ruleset, chains_per_tx: int = STAGE_CHAINS) -> list[str]:
    """full_text(rs) for a node without the table, as several transactions whose
    intermediate states no packet can tell from having no table:

    1. the table, every chain (base chains empty: they accept), every set and map, empty,
       in full_text's order (so `nft list` shows them in the same order);
    2. the rules of the service chains, `chains_per_tx` chains a transaction, those with
       an anonymous set first: nothing jumps to these chains yet;
    3. the rules of the fixed chains and every element: the jumps into the service chains.
    """
    setup: list[str] = []
    service: dict[str, list[str]] = {}
    final: list[str] = []
    for line in full_text(rs).splitlines():
        words = line.split(" ", 5)
        if words[1] == "rule":
            if _is_fixed_chain(words[4]):
                final.append(line)
            else:
                service.setdefault(words[4], []).append(line)
        elif words[1] == "element":
            final.append(line)
        else:
            setup.append(line)
    out = [batched(setup, rs)]
    names = list(service)
    for start in range(0, len(names), chains_per_tx):
        chunk = names[start:start + chains_per_tx]
        anonymous = [c for c in chunk if any(" { " in r for r in service[c])]
        rest = [c for c in chunk if not any(" { " in r for r in service[c])]
        out.append(batched((ln for c in anonymous + rest for ln in service[c]), rs))
    out.append(batched(final, rs))
    return out
