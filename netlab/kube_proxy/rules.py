"""The cluster -> one node's kube-proxy rules (nat and filter tables). Pure.

Structured form: build() returns {"nat": Table, "filter": Table}. A Table holds
- `chains`: each chain netlab owns -> its complete list of rules, sorted by chain
  name as iptables-save lists user chains; a chain is always rewritten whole;
- `jumps`: built-in chain -> the rules netlab needs at its top (PREROUTING ->
  KUBE-SERVICES, ...). They are kept apart because other programs (flannel, ...)
  own the rest of the built-in chains: an applier ensures these rules once, it
  never flushes a built-in chain.
Every rule is a full line (`-A CHAIN ...`) exactly as iptables-save prints it, but for
the probability (see as_saved), so two rulesets compare chain by chain (diff) and
only changed chains need rewriting (restore_input).

See the package docstring for which kube-proxy generation this is.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from ipaddress import ip_network

from netlab.errors import ModelError
from netlab.kube_proxy import names
from netlab.model.endpoints import derive_endpoints
from netlab.model.names import host_port
from netlab.model.objects import Cluster, Endpoints, Service, ServicePort

MASQ_MARK = "0x4000/0x4000"     # kube-proxy's --iptables-masquerade-bit=14
DROP_MARK = "0x8000/0x8000"     # the kubelet's --iptables-drop-bit=15
BUILTIN = {"nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
           "filter": ("INPUT", "FORWARD", "OUTPUT")}
TABLES = ("nat", "filter")
FIXED_CHAINS = {
    "nat": ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ", "KUBE-MARK-DROP"),
    "filter": ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-FIREWALL"),
}
# Today's proxier (iptables_current) also writes these; is_ours() must know them, so that
# a node's rules are read back as kube-proxy's whichever flavour wrote them.
CURRENT_FIXED_CHAINS = ("KUBE-PROXY-FIREWALL", "KUBE-PROXY-CANARY")
SERVICE_CHAIN_PREFIXES = ("KUBE-SVC-", "KUBE-SEP-", "KUBE-FW-", "KUBE-XLB-", "KUBE-EXT-", "KUBE-SVL-")
POLICY_CHAIN_PREFIX = "cali-"      # netlab.policy's, felix's prefix
REJECT = "-j REJECT --reject-with icmp-port-unreachable"
_FROM_CLUSTER = object()


@dataclass
class Table:
    name: str
    jumps: dict[str, list[str]] = field(default_factory=dict)
    chains: dict[str, list[str]] = field(default_factory=dict)


# --- what the rules look like ---------------------------------------------------------

def probability(n: int, precision: int = 5) -> str:
    """kube-proxy's string for 1/n (Go's %0.5f, or %0.10f from v1.17 on)."""
    return f"{1.0 / n:.{precision}f}"


def saved_probability(text: str) -> str:
    """What iptables-save prints back for `--probability text`.

    libxt_statistic stores lround(p * 2^31) as a 32-bit integer and prints
    stored / 2^31 with %.11f: "0.33333" comes back as "0.33332999982".
    """
    stored = math.floor(float(text) * 0x80000000 + 0.5)   # lround, p >= 0
    return f"{stored / 0x80000000:.11f}"


_PROBABILITY = re.compile(r"(--probability )([0-9.]+)")


def as_saved(line: str) -> str:
    """A rule as iptables-save prints it back (only the probability changes)."""
    return _PROBABILITY.sub(lambda m: m.group(1) + saved_probability(m.group(2)), line)


_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


@lru_cache(maxsize=1 << 14)
def quote(text: str) -> str:
    """A comment as iptables-save writes it: bare if safe, else double-quoted."""
    if _SAFE.match(text):
        return text
    return '"' + re.sub(r'(["\\\'])', r"\\\1", text) + '"'


def _comment(text: str) -> str:
    return f"-m comment --comment {quote(text)}"


def _port_match(proto: str, port: int) -> str:
    return f"-m {proto} --dport {port}"


# --- the rules ---------------------------------------------------------------------------

def _jumps() -> dict[str, dict[str, list[str]]]:
    """Rules at the top of built-in chains, in order (kube-proxy and kubelet)."""
    services = _comment("kubernetes service portals")
    new = "-m conntrack --ctstate NEW"
    return {
        "nat": {
            "PREROUTING": [f"-A PREROUTING {services} -j KUBE-SERVICES"],
            "OUTPUT": [f"-A OUTPUT {services} -j KUBE-SERVICES"],
            "POSTROUTING": [f"-A POSTROUTING {_comment('kubernetes postrouting rules')} -j KUBE-POSTROUTING"],
        },
        "filter": {
            "INPUT": [f"-A INPUT {new} {_comment('kubernetes externally-visible service portals')}"
                      " -j KUBE-EXTERNAL-SERVICES",
                      "-A INPUT -j KUBE-FIREWALL"],                              # kubelet
            "FORWARD": [f"-A FORWARD {_comment('kubernetes forwarding rules')} -j KUBE-FORWARD",
                        # Later fix (v1.14, kubernetes#72534): pods reach services through
                        # FORWARD, so without this their REJECT never applies.
                        f"-A FORWARD {new} {services} -j KUBE-SERVICES"],
            "OUTPUT": [f"-A OUTPUT {new} {services} -j KUBE-SERVICES",
                       "-A OUTPUT -j KUBE-FIREWALL"],                            # kubelet
        },
    }


def _fixed_rules(cluster_cidr: str | None) -> dict[str, dict[str, list[str]]]:
    forward = [f"-A KUBE-FORWARD {_comment('kubernetes forwarding rules')} -m mark --mark {MASQ_MARK} -j ACCEPT"]
    if cluster_cidr:
        established = "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
        forward += [
            f"-A KUBE-FORWARD -s {cluster_cidr} {_comment('kubernetes forwarding conntrack pod source rule')} "
            + established,
            f"-A KUBE-FORWARD -d {cluster_cidr} {_comment('kubernetes forwarding conntrack pod destination rule')} "
            + established,
        ]
    return {
        "nat": {
            "KUBE-POSTROUTING": [f"-A KUBE-POSTROUTING {_comment('kubernetes service traffic requiring SNAT')} "
                                 f"-m mark --mark {MASQ_MARK} -j MASQUERADE"],
            "KUBE-MARK-MASQ": [f"-A KUBE-MARK-MASQ -j MARK --set-xmark {MASQ_MARK}"],
            "KUBE-MARK-DROP": [f"-A KUBE-MARK-DROP -j MARK --set-xmark {DROP_MARK}"],        # kubelet
        },
        "filter": {
            "KUBE-FORWARD": forward,
            "KUBE-FIREWALL": [f"-A KUBE-FIREWALL {_comment('kubernetes firewall for dropping marked packets')} "
                              f"-m mark --mark {DROP_MARK} -j DROP"],                         # kubelet
        },
    }


@dataclass(frozen=True)
class _Endpoint:
    ip: str
    port: int
    local: bool

    @property
    def text(self) -> str:
        return host_port(self.ip, self.port)


def _port_endpoints(ep: Endpoints | None, port_name: str, node_name: str) -> list[_Endpoint]:
    """Ready endpoints of one service port, in the Endpoints' order, as kube-proxy reads them."""
    if ep is None:
        return []
    number = next((p.port for p in ep.ports if p.name == port_name and p.port), None)
    if number is None:
        return []
    out, seen = [], set()
    for a in ep.addresses:
        if a.ready and a.ip and a.ip not in seen:
            seen.add(a.ip)
            out.append(_Endpoint(a.ip, number, a.node == node_name))
    return out


def is_proxied(svc: Service) -> bool:
    """kube-proxy skips headless services (clusterIP None) and ExternalName ones."""
    return svc.type != "ExternalName" and bool(svc.cluster_ip) and svc.cluster_ip != "None"


@dataclass
class _Port:
    """One service port, with the names and pieces all its rules share."""
    svc: Service
    sp: ServicePort
    eps: list[_Endpoint]

    def __post_init__(self):
        self.spn = names.service_port_name(self.svc.namespace, self.svc.name, self.sp.name)
        self.proto = self.sp.protocol.lower()
        self.svc_chain = names.service_chain(self.spn, self.proto)
        self.xlb_chain = names.local_chain(self.spn, self.proto)
        self.local = _is_local(self.svc)
        self.entry = self.xlb_chain if self.local else self.svc_chain   # for traffic from outside
        self.dport = _port_match(self.proto, self.sp.port)
        self.no_endpoints = _comment(f"{self.spn} has no endpoints")


class _Builder:
    def __init__(self, node_name: str, precision: int, cluster_cidr: str | None):
        self.node = node_name
        self.precision = precision
        self.cidr = cluster_cidr
        # From v1.12 (kubernetes#65755) kube-proxy added a KUBE-SVC-*/KUBE-SEP-* rule's
        # "-m comment" in a helper that appended to its copy of the rule's arguments and
        # returned nothing, so those rules reached the kernel without it, as the
        # walk-through's iptables-save shows; the helper returned the slice again by about
        # v1.19. Five decimals (before v1.17) stand for the walk-through's kube-proxy, ten
        # for later ones.
        self.endpoint_comments = precision != 5
        self.tables = {t: Table(t, _jumps()[t], {c: [] for c in FIXED_CHAINS[t]}) for t in TABLES}
        for t, chains in _fixed_rules(cluster_cidr).items():
            self.tables[t].chains.update(chains)

    def add(self, table: str, chain: str, line: str) -> None:
        self.tables[table].chains[chain].append(line)

    def nat(self, chain: str, rest: str) -> None:
        self.add("nat", chain, f"-A {chain} {rest}")

    def declare(self, chain: str) -> None:
        self.tables["nat"].chains.setdefault(chain, [])

    def service(self, svc: Service, ep: Endpoints | None) -> None:
        for sp in svc.ports:
            p = _Port(svc, sp, _port_endpoints(ep, sp.name, self.node))
            if p.eps:
                self.declare_entries(p)
            self.cluster_ip(p)
            self.external_ips(p)
            self.load_balancer(p)
            self.node_port(p)
            if p.eps:
                self.endpoints(p)

    def declare_entries(self, p: _Port) -> None:
        self.declare(p.svc_chain)
        if p.local:
            self.declare(p.xlb_chain)

    def cluster_ip(self, p: _Port) -> None:
        """With endpoints, the jump to the service's chain; without, a REJECT in filter (and,
        as that era's kube-proxy, no service chain and no nat rule at all)."""
        if not p.eps:
            self.add("filter", "KUBE-SERVICES", f"-A KUBE-SERVICES -d {p.svc.cluster_ip}/32 -p {p.proto} "
                                                f"{p.no_endpoints} {p.dport} {REJECT}")
            return
        head = f"-d {p.svc.cluster_ip}/32 -p {p.proto} {_comment(f'{p.spn} cluster IP')} {p.dport}"
        if self.cidr:
            # Off-cluster sources are masqueraded so that replies come back through this node.
            self.nat("KUBE-SERVICES", f"! -s {self.cidr} {head} -j KUBE-MARK-MASQ")
        self.nat("KUBE-SERVICES", f"{head} -j {p.svc_chain}")

    def external_ips(self, p: _Port) -> None:
        """Masquerade; then only traffic from off the node's bridges, or to a local address."""
        for ext in p.svc.external_ips:
            self.declare_entries(p)         # jumped to with or without endpoints
            head = f"-d {ext}/32 -p {p.proto} {_comment(f'{p.spn} external IP')} {p.dport}"
            self.nat("KUBE-SERVICES", f"{head} -j KUBE-MARK-MASQ")
            self.nat("KUBE-SERVICES", f"{head} -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL "
                                      f"-j {p.svc_chain}")
            self.nat("KUBE-SERVICES", f"{head} -m addrtype --dst-type LOCAL -j {p.svc_chain}")
            if not p.eps:
                self.add("filter", "KUBE-EXTERNAL-SERVICES", f"-A KUBE-EXTERNAL-SERVICES -d {ext}/32 -p {p.proto} "
                                                             f"{p.no_endpoints} {p.dport} {REJECT}")

    def load_balancer(self, p: _Port) -> None:
        """type=LoadBalancer once the cloud provider gave it an IP: KUBE-FW, no source ranges."""
        if p.svc.type != "LoadBalancer" or not p.svc.load_balancer_ip:
            return
        fw = names.firewall_chain(p.spn, p.proto)
        self.declare(fw)
        self.declare_entries(p)
        lb = _comment(f"{p.spn} loadbalancer IP")
        self.nat("KUBE-SERVICES", f"-d {p.svc.load_balancer_ip}/32 -p {p.proto} {lb} {p.dport} -j {fw}")
        if not p.local:
            self.nat(fw, f"{lb} -j KUBE-MARK-MASQ")
        self.nat(fw, f"{lb} -j {p.entry}")
        self.nat(fw, f"{lb} -j KUBE-MARK-DROP")     # reached only if nothing above took it

    def node_port(self, p: _Port) -> None:
        if not p.sp.node_port or p.svc.type not in ("NodePort", "LoadBalancer"):
            return
        port = _port_match(p.proto, p.sp.node_port)
        head = f"-p {p.proto} {_comment(p.spn)} {port}"
        if p.eps:
            if not p.local:
                self.nat("KUBE-NODEPORTS", f"{head} -j KUBE-MARK-MASQ")
            self.nat("KUBE-NODEPORTS", f"{head} -j {p.entry}")
        else:
            self.add("filter", "KUBE-EXTERNAL-SERVICES", f"-A KUBE-EXTERNAL-SERVICES -p {p.proto} {p.no_endpoints} "
                                                         f"-m addrtype --dst-type LOCAL {port} {REJECT}")

    def endpoints(self, p: _Port) -> None:
        affinity = p.svc.session_affinity == "ClientIP"
        timeout = p.svc.affinity_timeout
        seps = [names.endpoint_chain(p.spn, p.proto, e.text) for e in p.eps]
        comment = f" {_comment(p.spn)}" if self.endpoint_comments else ""
        self.balance(p.svc_chain, comment, seps, [comment] * len(seps), affinity, timeout)
        for e, sep in zip(p.eps, seps):
            self.declare(sep)
            self.nat(sep, f"-s {e.ip}/32{comment} -j KUBE-MARK-MASQ")   # a pod reaching itself
            remember = f" -m recent --set --name {sep} --mask 255.255.255.255 --rsource" if affinity else ""
            self.nat(sep, f"-p {p.proto}{comment}{remember} -m {p.proto} -j DNAT --to-destination {e.text}")
        if p.local:
            self.local(p, [sep for e, sep in zip(p.eps, seps) if e.local], affinity, timeout)

    def balance(self, chain: str, sticky: str, targets: list[str], comments: list[str],
                affinity: bool, timeout: int) -> None:
        """Sticky rules first; then rule i of n matches with probability 1/(n-i), the last always.
        sticky, comments: the " -m comment ..." part of the sticky rules and of each balancing
        rule, or "" for none."""
        if affinity:
            for t in targets:
                self.add("nat", chain, f"-A {chain}{sticky} -m recent --rcheck --seconds {timeout} --reap "
                                       f"--name {t} --mask 255.255.255.255 --rsource -j {t}")
        n = len(targets)
        for i, (t, comment) in enumerate(zip(targets, comments)):
            chance = (f" -m statistic --mode random --probability {probability(n - i, self.precision)}"
                      if i < n - 1 else "")
            self.add("nat", chain, f"-A {chain}{comment}{chance} -j {t}")

    def local(self, p: _Port, targets: list[str], affinity: bool, timeout: int) -> None:
        """externalTrafficPolicy=Local: pods go to the cluster IP; others to this node's endpoints, or drop."""
        if self.cidr:
            self.nat(p.xlb_chain, f"-s {self.cidr} "
                                  f"{_comment('Redirect pods trying to reach external loadbalancer VIP to clusterIP')}"
                                  f" -j {p.svc_chain}")
        if not targets:
            self.nat(p.xlb_chain, f"{_comment(f'{p.spn} has no local endpoints')} -j KUBE-MARK-DROP")
            return
        # Later fix: the affinity rules in KUBE-XLB too, else ClientIP does not stick for Local.
        comments = [" " + _comment(f"Balancing rule {i} for {p.spn}") for i in range(len(targets))]
        self.balance(p.xlb_chain, " " + _comment(p.spn), targets, comments, affinity, timeout)

    def finish(self) -> dict[str, Table]:
        # Must stay the last rule of KUBE-SERVICES: node ports on any local address.
        self.nat("KUBE-SERVICES", _comment("kubernetes service nodeports; NOTE: this must be the last rule "
                                           "in this chain") + " -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")
        for t in self.tables.values():
            t.chains = dict(sorted(t.chains.items()))
        return self.tables


def build(cluster: Cluster, node_name: str, *, precision: int = 5, cluster_cidr=_FROM_CLUSTER,
          endpoints: list[Endpoints] | None = None) -> dict[str, Table]:
    """The nat and filter rules kube-proxy (and the kubelet) keep on node `node_name`.

    precision: decimals of the probabilities (5 as the walk-through's kube-proxy, 10
    as kube-proxy from v1.17). cluster_cidr: kube-proxy's --cluster-cidr, by default
    the cluster's proxy_cluster_cidr, else its pod network; None as if the flag were not
    given. endpoints: the Endpoints objects to use, by default those the endpoints
    controller would write
    (netlab.model.endpoints.derive_endpoints).
    """
    b, by_name = _start(cluster, node_name, precision, cluster_cidr, endpoints)
    for svc in sorted(filter(is_proxied, cluster.services), key=lambda s: (s.namespace, s.name)):
        b.service(svc, by_name.get((svc.namespace, svc.name)))
    return b.finish()


def build_nodes(cluster: Cluster, node_names: list[str], *, precision: int = 5,
                endpoints: list[Endpoints] | None = None) -> dict[str, dict[str, Table]]:
    """build() for each node. Only externalTrafficPolicy=Local rules depend on the node (its own
    endpoints); without such a service every node gets the same ruleset, built once (the
    tables are shared: read them, do not change them)."""
    endpoints = derive_endpoints(cluster) if endpoints is None else endpoints
    if any(_is_local(s) for s in cluster.services if is_proxied(s)):
        return {n: build(cluster, n, precision=precision, endpoints=endpoints) for n in node_names}
    for n in node_names[1:]:
        _start(cluster, n, precision, _FROM_CLUSTER, [])         # each name checked all the same
    one = build(cluster, node_names[0], precision=precision, endpoints=endpoints) if node_names else {}
    return {n: one for n in node_names}


def _is_local(svc: Service) -> bool:
    return svc.external_traffic_policy == "Local" and svc.type in ("NodePort", "LoadBalancer")


def _start(cluster, node_name, precision, cluster_cidr, endpoints):
    if not any(n.name == node_name for n in cluster.nodes):
        raise ModelError(f"node {node_name!r}: not a node of this cluster")
    if not isinstance(precision, int) or not 1 <= precision <= 11:
        raise ModelError(f"precision: {precision!r} must be a whole number of decimals 1-11")
    if cluster_cidr is _FROM_CLUSTER:
        cluster_cidr = cluster.proxy_cluster_cidr or cluster.cluster_cidr
    if cluster_cidr:
        cluster_cidr = str(ip_network(cluster_cidr, strict=False))
    if endpoints is None:
        endpoints = derive_endpoints(cluster)
    by_name = {(e.namespace, e.name): e for e in endpoints}
    return _Builder(node_name, precision, cluster_cidr), by_name


# --- text ------------------------------------------------------------------------------

def to_text(ruleset: dict[str, Table]) -> str:
    """The ruleset as iptables-save prints it on a node holding only netlab's rules.

    Also valid input for a full (flushing) iptables-restore of a namespace netlab
    owns alone; for a namespace others write into, use restore_input (--noflush).
    """
    lines = []
    for name in TABLES:
        t = ruleset[name]
        lines.append(f"*{name}")
        lines += [f":{c} ACCEPT [0:0]" for c in BUILTIN[name]]
        lines += [f":{c} - [0:0]" for c in t.chains]
        for c in BUILTIN[name]:
            lines += t.jumps.get(c, [])
        for rules in t.chains.values():
            lines += rules
        lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def render(cluster: Cluster, node_name: str, precision: int = 5, **options) -> str:
    """iptables-save text of node `node_name`'s kube-proxy rules (see build and to_text)."""
    return to_text(build(cluster, node_name, precision=precision, **options))


def restore_input(ruleset: dict[str, Table], chains: dict[str, list[str]] | None = None,
                  removed: dict[str, list[str]] | None = None, unjump: dict[str, list[str]] | None = None) -> str:
    """Input for `iptables-restore --noflush`: rewrite whole chains, delete old ones.

    chains: table -> the chains to (re)write; by default all of them. removed: table ->
    chains to delete (their referrers must be rewritten in the same call, which diff()
    guarantees). unjump: table -> `-D BUILTIN ...` lines deleting jumps no longer wanted
    (before the chains they lead to go). Built-in chains are otherwise not touched: jumps
    are the applier's to ensure. Each table is one atomic commit.
    """
    lines = []
    for name in TABLES:
        t = ruleset[name]
        write = list(t.chains) if chains is None else list(chains.get(name, []))
        delete = list((removed or {}).get(name, []))
        stale = list((unjump or {}).get(name, []))
        if not write and not delete and not stale:
            continue
        lines.append(f"*{name}")
        lines += [f":{c} - [0:0]" for c in write + delete]      # creates, or flushes if present
        for c in write:
            lines += t.chains[c]
        lines += stale
        lines += [f"-X {c}" for c in delete]
        lines.append("COMMIT")
    return "\n".join(lines) + "\n" if lines else ""


def diff(old: dict[str, Table], new: dict[str, Table]) -> dict[str, tuple[list[str], list[str]]]:
    """table -> (chains to write, chains to delete) to turn `old` into `new`.

    Probabilities are compared as the kernel keeps them, so `old` may come from
    parse_save(iptables-save output) and `new` from build().
    """
    out = {}
    for name in TABLES:
        o = old[name].chains if name in old else {}
        n = new[name].chains
        write = [c for c in n if c not in o or not _same(o[c], n[c])]
        out[name] = (write, [c for c in o if c not in n])
    return out


def _same(a: list[str], b: list[str]) -> bool:
    return a == b or (len(a) == len(b) and [as_saved(r) for r in a] == [as_saved(r) for r in b])


def is_ours(chain: str) -> bool:
    """netlab's chains: kube-proxy's, and the policy enforcer's (written in the same restore)."""
    return (any(chain in fixed for fixed in FIXED_CHAINS.values()) or chain in CURRENT_FIXED_CHAINS
            or chain.startswith(SERVICE_CHAIN_PREFIXES)
            or chain.startswith(POLICY_CHAIN_PREFIX))


@dataclass
class Saved:
    """iptables-save output read once: netlab's part (its chains and the jumps into them) and
    the rest (everyone else's chains and rules, the built-in chains' policies), which a
    whole-table write keeps."""
    ours: dict[str, Table]
    foreign: dict[str, dict[str, list[str]]]          # table -> chain -> rules, declared order
    policy: dict[tuple[str, str], str]                # (table, built-in chain) -> ACCEPT, DROP


def read_save(text: str) -> Saved:
    """The one reader of iptables-save text (the kernel's rules, or a fake's)."""
    ours = {name: Table(name) for name in TABLES}
    foreign: dict[str, dict[str, list[str]]] = {name: {} for name in TABLES}
    policy: dict[tuple[str, str], str] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("*"):
            current = line[1:] if line[1:] in TABLES else None
        elif current is None or not line or line.startswith("#") or line == "COMMIT":
            continue
        elif line.startswith(":"):
            chain, chain_policy = (line[1:].split() + ["-"])[:2]
            if chain in BUILTIN[current]:
                policy[(current, chain)] = chain_policy      # a user's DROP policy stays
            elif is_ours(chain):
                ours[current].chains.setdefault(chain, [])
            else:
                foreign[current].setdefault(chain, [])
        elif line.startswith("-A "):
            chain = line.split()[1]
            target = line.rsplit(" -j ", 1)[-1].split()[0] if " -j " in line else ""
            if is_ours(chain):
                ours[current].chains.setdefault(chain, []).append(line)
            elif chain in BUILTIN[current] and is_ours(target):
                ours[current].jumps.setdefault(chain, []).append(line)
            elif not is_ours(target):
                foreign[current].setdefault(chain, []).append(line)
    for t in ours.values():
        t.chains = dict(sorted(t.chains.items()))
    return Saved(ours, foreign, policy)


def parse_save(text: str) -> dict[str, Table]:
    """netlab's part of iptables-save output: our chains, and jumps into them."""
    return read_save(text).ours
