"""The Services' and NetworkPolicies' dataplane, kept in step with the cluster: kube-proxy's
rules and the policy enforcer's chains and ipsets on every node (one iptables-restore per node
holds both, so a packet meets either set of rules whole), the conntrack entries they leave
stale, the externalIPs nodes hold, the cloud's load balancer and the router. What did not
change since the last sync is not written again."""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

from netlab import cloud, layout, plumbing
from netlab.kernel.api import Kernel, iptables_of
from netlab.kube_proxy import flavours, proxier
from netlab.kube_proxy.rules import Table
from netlab.model.objects import Cluster, Node
from netlab.policy import ipsets
from netlab.policy import rules as policy_rules
from netlab.state import LabDir


class Dataplane:
    def __init__(self, kernel: Kernel, lab_dir: LabDir):
        self.kernel, self.dir = kernel, lab_dir

    def sync(self, c: Cluster) -> dict[str, int]:
        """Every node's rules side by side (an iptables-restore each); returns, per node, how
        many chains changed."""
        stale = self._stale_udp(c)
        from netlab.kube_proxy import healthcheck     # (its HTTP server: not for every CLI start)
        proxies = flavours.desired(c)
        policies = policy_rules.build_nodes(c, [n.name for n in c.nodes])
        ipt = iptables_of(self.kernel, c.iptables_backend)

        def node(n: Node) -> int:
            ns = layout.node_ns(c.name, n.name)
            policy, proxy = policies[n.name], proxies[n.name]
            ruleset = {**proxy.tables, "filter": _merged(proxy.tables["filter"], policy)}
            sets = self.dir.path / f"ipsets-{n.name}.json"
            have = ipsets.load(sets)
            if have is None:      # (a lab that enforces nothing never made a set)
                have = ipsets.parse_save(self.kernel.ipset.save(ns)) if c.policy == "enforce" else {}
            before, after = ipsets.plan(have, policy.sets)
            self.kernel.ipset.restore(ns, before)
            changed = proxier.sync(ns, ruleset, self.dir.path / f"kube-proxy-{n.name}.json", ipt)
            changed += proxier.sync_nft(ns, proxy.nft, self.dir.path / f"kube-proxy-nft-{n.name}.marshal",
                                        self.kernel.nft)
            healthcheck.write_state(self.dir.proxy_health(n.name), proxy.health or {}, time.time())
            if self._differs(f"sysctls-{n.name}", proxy.sysctls):
                self.kernel.run_in(ns, plumbing.sysctls, proxy.sysctls)
            self.kernel.ipset.restore(ns, after)
            ipsets.store(sets, policy.sets)
            if stale:
                self.kernel.forget_udp_to(ns, stale)
            record = self.dir.path / f"announced-{n.name}.json"
            held = set(json.loads(record.read_text())) if record.exists() else set()
            want = cloud.announced(c, n.name)
            if held != want:
                self.kernel.run_in(ns, plumbing.held_ips, held, want)
                _write(record, json.dumps(sorted(want)))
            return changed
        with ThreadPoolExecutor(max(1, len(c.nodes))) as pool:
            changed = dict(zip((n.name for n in c.nodes), pool.map(node, c.nodes)))
        lb, router = layout.host_ns(c.name, layout.LB), layout.host_ns(c.name, layout.ROUTER)
        rules, addresses, routes = cloud.lb_rules(c), cloud.lb_addresses(c), cloud.router_routes(c)
        if self._differs("lb-rules", rules):
            self.kernel.iptables.restore(lb, rules, noflush=False)
        if self._differs("lb-addresses", sorted(addresses)):
            self.kernel.run_in(lb, plumbing.addresses, "eth0", addresses)
        if self._differs("router-routes", [[r.dst, r.dev, r.gateway, r.onlink] for r in sorted(routes)]):
            self.kernel.run_in(router, plumbing.host_routes, "eth0", routes)
        return changed

    def forget_rules(self) -> None:
        """The next sync reads every node's rules back from the kernel instead of trusting
        what was last written (a command killed between writing and recording, say)."""
        for pattern in ("kube-proxy-*.json", "kube-proxy-nft-*.marshal", "ipsets-*.json", "sysctls-*.json"):
            for record in self.dir.path.glob(pattern):
                record.unlink()

    def forget_node(self, name: str) -> None:
        for record in (f"kube-proxy-{name}.json", f"kube-proxy-nft-{name}.marshal",
                       f"kube-proxy-nft-{name}.stale.json", f"ipsets-{name}.json",
                       f"announced-{name}.json", f"sysctls-{name}.json"):
            (self.dir.path / record).unlink(missing_ok=True)

    def _differs(self, record: str, value) -> bool:
        """Is `value` other than what was last applied under this record's name? (It is
        recorded as applied: call it right before applying.)"""
        path = self.dir.path / f"{record}.json"
        text = json.dumps(value, sort_keys=True)
        if path.exists() and path.read_text() == text:
            return False
        _write(path, text)
        return True

    def _stale_udp(self, c: Cluster) -> dict[str, set[str]]:
        """UDP services whose conntrack entries may lead nowhere since the last sync:
        service IP -> the endpoints whose entries stay (the others' go, on every node).

        That is a service that lost a ready endpoint, or a new one (traffic to its address
        before it existed went out un-NATed). Not one that gains its first endpoints: while
        it had none its packets met REJECT, whose connections are never confirmed, so none
        is left. Nor anything at the lab's first sync, before any process ran (a dump of the
        kernel's table costs about 10 ms a node, whatever it holds).
        """
        record = self.dir.path / "udp-endpoints.json"
        first = not record.exists()
        before = {} if first else json.loads(record.read_text())
        eps = {(e.namespace, e.name): sorted(a.ip for a in e.addresses if a.ready) for e in c.endpoints}
        now = {s.cluster_ip: eps.get((s.namespace, s.name), []) for s in c.services
               if s.cluster_ip and s.cluster_ip != "None" and any(p.protocol == "UDP" for p in s.ports)}
        _write(record, json.dumps(now))
        if first:
            return {}
        return {ip: set(addrs) for ip, addrs in now.items() if ip not in before or set(before[ip]) - set(addrs)}


def _write(path, text: str) -> None:
    """A record whole or not at all (a command killed mid-write must not leave half a file for
    the next one to read): written beside it, then renamed over it."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _merged(table: Table, policy: policy_rules.NodePolicy) -> Table:
    """kube-proxy's filter table with the enforcer's chains, its jumps first (see policy.rules).
    A new table: nodes may share kube-proxy's."""
    if not policy.chains:
        return table
    jumps = {chain: policy.jumps.get(chain, []) + table.jumps.get(chain, [])
             for chain in {**table.jumps, **policy.jumps}}
    return Table(table.name, jumps, dict(sorted({**table.chains, **policy.chains}.items())))
