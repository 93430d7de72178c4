"""The lab: builds a cluster's kernel objects, keeps them in step, and removes them.

A short sequence of controllers (netlab.nodes, netlab.pods, netlab.dataplane), each of
which reads the cluster, decides with pure functions (underlay, cni, flannel, kube_proxy,
model.rollout) and applies the difference through the kernel seam (netlab.kernel.api;
the real kernel unless a test gives a fake). Everything is on the lab's record before it
is made, so `down` and `clean` find it all after a crash.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager

from netlab import event_reasons, events, layout, plumbing, recovery, teardown, underlay
from netlab.cni import bridge as cni
from netlab.cni import ipam
from netlab.dataplane import Dataplane
from netlab.errors import NetlabError
from netlab.kernel import netns, process
from netlab.kernel.api import Kernel
from netlab.model import controller
from netlab.model.control_plane import admit
from netlab.model.endpoints import derive_endpoints
from netlab.model.objects import Cluster, Node, Pod
from netlab.model.rollout import initially_ready, key, plan
from netlab.model.validate import validate
from netlab.nodes import Nodes
from netlab.pods import Pods
from netlab.runtime import Runtime
from netlab.state import LabDir, LabRecord, Ledger, labs, marked_gone


def _quiet(_msg: str) -> None:
    pass


class Progress:
    """Steps with their duration, the way a user of a long command wants to see them."""

    def __init__(self, out=_quiet):
        self.out = out
        self.t0 = time.monotonic()

    @contextmanager
    def step(self, what: str):
        t = time.monotonic()
        yield
        self.out(f"  {what:<44} {time.monotonic() - t:6.3f}s")


def _real_kernel() -> Kernel:
    from netlab.kernel.real import KERNEL      # pyroute2: only for commands that change a lab
    return KERNEL


class Lab(LabRecord):
    """A lab that netlab builds and changes (LabRecord reads it)."""

    def __init__(self, name: str, kernel: Kernel | None = None):
        super().__init__(name)
        self.kernel = kernel or _real_kernel()
        self.runtime = Runtime(self.dir)
        self.dataplane = Dataplane(self.kernel, self.dir)

    def _controllers(self, ledger: Ledger, out=_quiet) -> tuple[Nodes, Pods]:
        return (Nodes(self.kernel, self.runtime, ledger),
                Pods(self.kernel, self.runtime, ledger, Progress(out), self.dataplane.sync))

    @contextmanager
    def _changing(self):
        """The lab's record, locked, for one change. The record says a change is under way
        until it ends; one cut short (SIGKILL, where nothing could roll it back) is put right
        first by the next."""
        with self.dir.lock():
            ledger = Ledger(self.dir, self.state())
            if ledger.state.get("changing"):
                self._recover(ledger)
            ledger.state["changing"] = True
            ledger.save()
            try:
                yield ledger
            finally:            # ended, or refused and undone (a change rolls back what it made)
                ledger.state.pop("changing", None)
                ledger.save()

    def _recover(self, ledger: Ledger) -> None:
        """What an interrupted change left, made to agree with the record (the store is the
        truth, as for Kubernetes' controllers): namespaces and processes of pods it does
        not hold go; its pods that lost their namespace, network or process are made
        again; every node's rules are read back from the kernel and rewritten."""
        c = Cluster.from_dict(ledger.state["cluster"])
        stray_ns, stray_procs = recovery.strays(ledger.state, c)
        self.kernel.stop([p for p in (ledger.pop_proc(n) for n in stray_procs) if p], timeout=0)
        self.kernel.kill_in(stray_ns)
        self.kernel.remove_namespaces([n for n in stray_ns if self.kernel.namespace_exists(n)])
        ledger.drop_namespaces(stray_ns)
        self.runtime.forget_all_but(c.pods)
        _, pods = self._controllers(ledger)
        broken = self._broken(c, ledger)
        if broken:
            pods.remove(c, broken, best_effort=True)
            pods.add(c, broken)
        self.dataplane.forget_rules()
        self.dataplane.sync(c)
        ledger.save(c)

    def _broken(self, c: Cluster, ledger: Ledger) -> list[Pod]:
        """The record's pods that lack their namespace, their network (eth0, its address and
        route), or their process on record (a dead one is the kubelet's to restart)."""
        def has_process(p: Pod) -> bool:
            name = layout.pod_proc(p.namespace, p.name)
            return not p.command or name in ledger.procs or name in ledger.waiting
        there = [p for p in c.pods if self.kernel.namespace_exists(layout.pod_ns(c.name, p))]
        nets = [cni.pod_net(c, p) for p in there]
        wired = self.kernel.run_many([(n.netns, plumbing.pod_wired, (n,)) for n in nets])
        whole = {key(p) for p, ok in zip(there, wired) if ok and has_process(p)}
        return [p for p in c.pods if key(p) not in whole]

    # lifecycle ---------------------------------------------------------------------
    @classmethod
    def up(cls, cluster: Cluster, out=_quiet, kernel: Kernel | None = None) -> "Lab":
        _stamp(cluster, time.time())
        admit(cluster, time.time())
        for p in cluster.pods:
            p.ready = initially_ready(p)
        cluster.endpoints = derive_endpoints(cluster)
        lab = cls(cluster.name, kernel)
        taken = [n for n in layout.all_namespaces(cluster) if lab.kernel.namespace_exists(n)]
        if taken and not lab.dir.exists():      # (a lab of that name is refused by create())
            raise NetlabError(f"network namespace {taken[0]} exists already and is not lab {cluster.name!r}'s "
                              f"(ip netns list); choose another --name")
        lab.dir.create()
        try:
            with lab.dir.lock():
                ledger = Ledger(lab.dir, {"status": "building", "created": time.time(), "procs": {},
                                          "namespaces": layout.all_namespaces(cluster),
                                          "cluster": cluster.to_dict()})
                ledger.save()        # everything about to exist is on record first
                events.record(lab.dir, event_reasons.controllers([], cluster, cluster.pods, []), time.time())
                lab._build(cluster, ledger, out)
                ledger.state["status"] = "ready"
                ledger.save()
        except BaseException:
            out(f"netlab: building lab {cluster.name!r} failed; removing what was made")
            lab._teardown()
            raise
        return lab

    def _build(self, c: Cluster, ledger: Ledger, out) -> None:
        nodes, pods = self._controllers(ledger, out)
        progress = pods.progress
        with progress.step(f"namespaces ({len(ledger.state['namespaces'])})"):
            self.kernel.create_namespaces(ledger.state["namespaces"])
        with progress.step(f"underlay {c.underlay_cidr} ({len(underlay.members(c))} ports)"):
            nodes.segment(c)
        with progress.step(f"nodes, docker0, flannel.1 ({len(c.nodes)})"):
            agents = nodes.build(c)        # flanneld starts now: its start-up overlaps the pods'
        def kubelets() -> None:
            nodes.start_kubelets(c, c.nodes)
            ledger.save(c)
        pods.add(c, c.pods, before_ready=lambda: nodes.agents_ready(agents), after_ready=kubelets,
                 ready_step="flanneld, kubelets, pods ready")

    def down(self) -> None:
        teardown.down(self.name)

    def _teardown(self) -> None:
        teardown.teardown(self.dir, self.kernel)

    # changes to a running lab -------------------------------------------------------
    def update(self, change, out=_quiet, warn=_quiet) -> tuple[list[Pod], list[Pod]]:
        """Apply `change(cluster)` to the running lab the way the control plane would:
        controllers make or remove pods, the pod network follows, then Endpoints and
        every node's kube-proxy rules. Nothing reaches the kernel if the change is invalid."""
        with self._changing() as ledger:
            old = Cluster.from_dict(ledger.state["cluster"])
            new = Cluster.from_dict(ledger.state["cluster"])
            change(new)
            now = time.time()
            _stamp(new, now)
            admit(new, now)
            rollout = plan(old.pods, new.pods)
            for p in rollout.start:
                p.ready = initially_ready(p)
            self.runtime.preflight(new, rollout.start)
            new.endpoints = derive_endpoints(new)
            events.record(self.dir, event_reasons.controllers(old.pods, new, rollout.start, rollout.stop), now)
            _, pods = self._controllers(ledger, out)
            # Endpoints first lose the pods about to go, so no new connection is sent to them.
            if rollout.stop:
                self.dataplane.sync(_without(new, rollout.stop))
                pods.remove(old, rollout.stop)
            if rollout.start:
                try:
                    pods.add(new, rollout.start)
                except BaseException:
                    # the record keeps the cluster as it was: nothing of the new pods may stay
                    pods.remove(new, rollout.start, best_effort=True)
                    ledger.save()
                    raise
            self.dataplane.sync(new)
            ledger.save(new)
            _endpoints_changed(self, new, old.endpoints)
            if pods.refresh(new, rollout.keep, warn):
                ledger.save(new)
            return rollout.start, rollout.stop

    def add_node(self, node: Node, pods: int = 0, out=_quiet) -> list[Pod]:
        with self._changing() as ledger:
            c = Cluster.from_dict(ledger.state["cluster"])
            c.nodes.append(node)
            validate(c)
            if pods > ipam.size(node.pod_cidr):
                raise NetlabError(f"node add: {pods} pods are more than node {node.name}'s podCIDR {node.pod_cidr} "
                                  f"holds ({ipam.size(node.pod_cidr)})")
            new = [controller.bare_pod(c, node.name, time.time()) for _ in range(pods)]
            admit(c, time.time())
            before = c.endpoints
            events.record(self.dir, [event_reasons.scheduled(p) for p in new], time.time())
            nodes, pod_controller = self._controllers(ledger, out)
            ns = layout.node_ns(c.name, node.name)
            ledger.add_namespaces([ns])
            ledger.save(c)
            with pod_controller.progress.step(f"node {node.name}"):
                self.kernel.create_namespaces([ns])
                agents = nodes.join(c, node)
            pod_controller.add(c, new, before_ready=lambda: nodes.agents_ready(agents))
            nodes.start_kubelets(c, [node])
            ledger.save(c)
            _endpoints_changed(self, c, before)
            return new

    def remove_node(self, name: str, out=_quiet) -> None:
        with self._changing() as ledger:
            c = Cluster.from_dict(ledger.state["cluster"])
            try:
                node = c.node(name)
            except KeyError:
                raise NetlabError(f"node {name!r} is not in lab {self.name!r}") from None
            if len(c.nodes) == 1:
                raise NetlabError(f"node {name!r} is the lab's last node (netlab down removes the lab)")
            nodes, pods = self._controllers(ledger, out)
            gone = c.pods_on(name)
            had, before = list(c.pods), c.endpoints
            c.nodes.remove(node)
            for p in gone:
                c.pods.remove(p)
                ledger.pop_proc(layout.pod_proc(p.namespace, p.name))
            nodes.leave(c, node, [layout.pod_ns(c.name, p) for p in gone])
            self.runtime.forget(gone)
            self.dataplane.forget_node(name)
            # Like the ReplicaSet controller: the evicted replicas come back on the other nodes.
            kept = {key(p) for p in c.pods}
            admit(c, time.time())
            added = [p for p in c.pods if key(p) not in kept]
            events.record(self.dir, event_reasons.controllers(had, c, added, gone), time.time())
            ledger.save(c)
            if added:
                pods.add(c, added)
            self.dataplane.sync(c)
            ledger.save(c)
            _endpoints_changed(self, c, before)

    def kubelet_report(self, node: str, restart: list[tuple[str, str]], ready: dict) -> None:
        """A node's kubelet reports: restart these pods' dead processes; readiness changed
        (pod -> (readiness it saw, readiness it found); stale reports are dropped).
        Endpoints and every node's rules follow, as the control plane would make them."""
        try:
            with self._changing() as ledger:
                self._kubelet_report(ledger, node, restart, ready)
        except FileNotFoundError:
            raise NetlabError(f"lab {self.name!r} is gone") from None

    def _kubelet_report(self, ledger: Ledger, node: str, restart: list[tuple[str, str]], ready: dict) -> None:
        c = Cluster.from_dict(ledger.state["cluster"])
        on_node = {key(p): p for p in c.pods if p.node == node}
        _, pods = self._controllers(ledger)
        for k in restart:
            p = on_node.get((k[0], k[1]))
            proc = ledger.proc(layout.pod_proc(*k))
            if p is None or not p.command or (proc and self.kernel.alive(proc)):
                continue     # deleted meanwhile, or already running
            pods.restart(c, p)
        for k, (seen, found) in ready.items():
            pod = on_node.get(tuple(k))
            if pod is not None and pod.ready == seen:     # else someone changed it since
                pod.ready = found
        before = c.endpoints
        c.endpoints = derive_endpoints(c)
        # the rules first: once the record says an address left the Endpoints, no new
        # connection may still be sent to it
        if c.endpoints != before:
            self.dataplane.sync(c)
        ledger.save(c)
        _endpoints_changed(self, c, before)


def _endpoints_changed(lab: Lab, c: Cluster, before: list) -> None:
    """Once the record holds them: an event on each Service whose ready addresses changed."""
    events.record(lab.dir, event_reasons.endpoints_changed(c, before, c.endpoints), time.time())


def _stamp(c: Cluster, now: float) -> None:
    """Objects the API server just stored get their creation time (for AGE)."""
    for obj in c.services + c.pods + c.deployments + c.secrets + c.config_maps + c.ingresses + c.network_policies:
        obj.created = obj.created or now


def _without(c: Cluster, pods: list[Pod]) -> Cluster:
    """The cluster as Endpoints see it once `pods` are terminating."""
    gone = {key(p) for p in pods}
    trimmed = Cluster.from_dict(c.to_dict())
    trimmed.pods = [p for p in trimmed.pods if key(p) not in gone]
    trimmed.endpoints = derive_endpoints(trimmed)
    return trimmed


def clean(out=_quiet, only: str | None = None) -> list[str]:
    """Remove every lab on record (or only the lab named `only`), whatever state it was
    left in; after a reboot, what is left of them in /etc/netns."""
    def chosen(names: list[str]) -> list[str]:
        return [n for n in names if only is None or n == only]
    removed = []
    for name in chosen(labs()):
        lab = Lab(name)
        with lab.dir.lock():
            lab._teardown()
        removed.append(name)
        out(f"removed lab {name}")
    for name in chosen(marked_gone()):
        # only directories holding netlab's resolv.conf alone, of namespaces that do not exist
        etc = [d for d in (os.listdir(netns.ETC) if os.path.isdir(netns.ETC) else [])
               if d.startswith(f"{name}-") and not netns.exists(d)
               and set(os.listdir(f"{netns.ETC}/{d}")) <= {"resolv.conf", "nginx"}]
        netns.remove_all(etc)
        LabDir(name).remove()
        removed.append(name)
        out(f"removed what lab {name} left in /etc/netns ({len(etc)} directories)")
    if only is not None and only not in removed:
        orphans = _orphan_namespaces(only)
        if orphans:
            from netlab.api import lifecycle         # its API server is in the host's namespace
            servers = lifecycle.orphans(only)
            process.kill(servers, 0)
            stopped = process.kill_in(orphans, timeout=0) + len(servers)
            netns.remove_all(orphans)
            removed.append(only)
            out(f"removed lab {only}: it had no record left; {len(orphans)} namespaces, {stopped} processes")
    return removed


def _orphan_namespaces(name: str) -> list[str]:
    """The namespaces of a lab whose record is gone (its run directory was removed): named
    `<name>-...`, and only if `<name>-underlay` is among them, as every lab of netlab has one."""
    found = [n for n in (os.listdir("/run/netns") if os.path.isdir("/run/netns") else [])
             if n.startswith(f"{name}-")]
    return found if layout.host_ns(name, layout.UNDERLAY) in found else []
