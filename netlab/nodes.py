"""The lab's machines: the underlay segment, outside hosts and their servers, and nodes with
their docker0, flannel.1, flanneld and kubelet; nodes joining and leaving a running lab."""
from __future__ import annotations

import os
import time
from pathlib import Path

from netlab import layout, plumbing, underlay
from netlab.errors import NetlabError
from netlab.flannel import desired as flannel
from netlab.flannel.lease import Store, lease_of
from netlab.kernel.api import Kernel, iptables_of
from netlab.kernel.process import Proc
from netlab.model.objects import Cluster, Node
from netlab.runtime import Runtime
from netlab.state import Ledger, why_down

AGENT_READY_TIMEOUT = 10.0
HEALTH_WATCH = 0.1     # how often kube-proxy's health server looks for a new state file (s)


class Nodes:
    def __init__(self, kernel: Kernel, runtime: Runtime, ledger: Ledger):
        self.kernel, self.runtime, self.ledger = kernel, runtime, ledger
        self.dir = ledger.dir

    def segment(self, c: Cluster) -> int:
        """The underlay's bridge with a port per host and node; returns how many."""
        members = underlay.members(c)
        self.kernel.run_in(layout.host_ns(c.name, layout.UNDERLAY), plumbing.segment, members)
        return len(members)

    def build(self, c: Cluster) -> list[tuple[Proc, Path]]:
        """Every host and node on the segment; the hosts' servers and flanneld started (their
        start-up overlaps what comes next; `agents_ready` waits for flanneld)."""
        members = {m.name: m for m in underlay.members(c)}
        nodes = {n.name for n in c.nodes}
        leases = [lease_of(c, n) for n in c.nodes]
        self.kernel.run_many(
            [(m.netns, plumbing.host, (m, m.name in (layout.ROUTER, layout.LB))) for m in members.values()
             if m.name not in nodes]
            + [(members[n.name].netns, plumbing.node,
                (c.name, n, members[n.name], lease_of(c, n), leases, c.flannel_mode, c.cluster_cidr))
               for n in c.nodes])
        # outside hosts' servers at once: MariaDB, the slowest to start (0.3 s, and
        # data-product's readiness waits for it), starts on the other core meanwhile
        self._start_hosts(c)
        ipt = iptables_of(self.kernel, c.iptables_backend)
        for n in c.nodes:
            ipt.restore(members[n.name].netns, flannel.masquerade(c.cluster_cidr, n.pod_cidr))
        store = Store(self.dir.leases)
        for lease in leases:
            store.put(lease)
        return self._start_flanneld(c, c.nodes)

    def join(self, c: Cluster, node: Node) -> list[tuple[Proc, Path]]:
        """A node added to a running lab (already in `c`, its namespace made): plugged into
        the underlay, built, its lease published (the other flanneld add it), flanneld started."""
        member = next(m for m in underlay.members(c) if m.name == node.name)
        self.kernel.run_in(layout.host_ns(c.name, layout.UNDERLAY), plumbing.plug_member, member)
        leases = [lease_of(c, n) for n in c.nodes]
        self.kernel.run_in(member.netns, plumbing.node, c.name, node, member, lease_of(c, node), leases,
                           c.flannel_mode, c.cluster_cidr)
        iptables_of(self.kernel, c.iptables_backend).restore(member.netns,
                                                             flannel.masquerade(c.cluster_cidr, node.pod_cidr))
        Store(self.dir.leases).put(lease_of(c, node))
        return self._start_flanneld(c, [node])

    def leave(self, c: Cluster, node: Node, pods_ns: list[str]) -> None:
        """A node removed: its lease withdrawn (the other agents drop its entries), its agents
        stopped, its namespace and its pods' gone, its port off the underlay."""
        Store(self.dir.leases).delete(node.pod_cidr)
        agents = [self.ledger.pop_proc(f"{agent}-{node.name}") for agent in ("kubelet", "kube-proxy", "flanneld")]
        self.kernel.stop([a for a in agents if a])
        gone = [layout.node_ns(c.name, node.name)] + pods_ns
        self.kernel.kill_in(gone)
        self.kernel.remove_namespaces(gone)
        self.ledger.drop_namespaces(gone)
        (self.dir.path / f"flanneld-{node.name}.ready").unlink(missing_ok=True)
        self.dir.proxy_health(node.name).unlink(missing_ok=True)
        self.kernel.run_in(layout.host_ns(c.name, layout.UNDERLAY), plumbing.unplug_member,
                           underlay.port_name(node.name))

    def _start_hosts(self, c: Cluster) -> None:
        self._start([self.runtime.supervised(f"host/{h.name}", h.command, layout.host_ns(c.name, h.name),
                                        {**os.environ, "POD_NAME": h.name, "NETLAB_STATE": str(self.dir.state_file)})
                     for h in c.hosts if h.command])   # a host's server is kept running by its own supervisor

    def _start(self, specs) -> list[Proc]:
        started = []
        for proc in self.kernel.start_many(specs):
            if isinstance(proc, OSError):
                raise proc
            self.ledger.add_proc(proc)
            started.append(proc)
        self.ledger.save()
        return started

    def _start_flanneld(self, c: Cluster, nodes: list[Node]) -> list[tuple[Proc, Path]]:
        ready = [self.dir.path / f"flanneld-{n.name}.ready" for n in nodes]
        specs = [self.runtime.supervised(f"flanneld-{n.name}",
                                    ["netlab-flanneld", "--leases", str(self.dir.leases), "--subnet", n.pod_cidr,
                                     "--mode", c.flannel_mode, "--cluster-cidr", c.cluster_cidr, "--ready", str(r)],
                                    layout.node_ns(c.name, n.name))
                 for n, r in zip(nodes, ready)]
        return list(zip(self._start(specs), ready))

    def agents_ready(self, started: list[tuple[Proc, Path]]) -> None:
        deadline = time.monotonic() + AGENT_READY_TIMEOUT
        for proc, ready in started:
            while not ready.exists():
                if why_down(self.dir, proc.name, self.kernel.alive(proc)):
                    raise NetlabError(f"{proc.name} exited at start; see {self.dir.logs}/{proc.name}.log")
                if time.monotonic() > deadline:
                    raise NetlabError(f"{proc.name} not ready after {AGENT_READY_TIMEOUT:.0f}s")
                time.sleep(0.005)

    def start_kubelets(self, c: Cluster, nodes: list[Node]) -> None:
        """The kubelet per node: restarts pods' processes, probes their readiness; and
        kube-proxy's health servers. Started once the pods are up: on two cores, their
        start-up would only slow the pods'."""
        from netlab.kube_proxy.healthcheck import write_state
        for n in nodes:     # the dataplane's sync writes it; the server reads it at start
            path = self.dir.proxy_health(n.name)
            if not path.exists():
                write_state(path, {}, None)
        health = [["netlab-kube-proxy-health", "--state", str(self.dir.proxy_health(n.name)), "--watch",
                   str(HEALTH_WATCH)] for n in nodes]
        self._start([self.runtime.supervised(f"kubelet-{n.name}", ["netlab-kubelet", "--lab", self.ledger.dir.name,
                                                              "--node", n.name], layout.node_ns(c.name, n.name))
                     for n in nodes]
                    + [self.runtime.supervised(f"kube-proxy-{n.name}", argv, layout.node_ns(c.name, n.name))
                       for n, argv in zip(nodes, health)])
