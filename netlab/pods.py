"""Pods on a running lab: their network (namespace, resolv.conf, veth into docker0, eth0,
route), their process, their readiness, and their removal. `add` is the one sequence that
brings pods up, whether the lab is new, scaled, or a node joined or left."""
from __future__ import annotations

import time
from typing import Callable

from netlab import event_reasons, events, layout, plumbing
from netlab.cni import bridge as cni
from netlab.dns.resolv import resolv_conf
from netlab.errors import NetlabError
from netlab.kernel.api import Kernel
from netlab.kernel.process import Spec
from netlab.model import secrets
from netlab.model.endpoints import derive_endpoints
from netlab.model.objects import Cluster, Pod
from netlab.runtime import Runtime
from netlab.state import Ledger


def _nothing() -> None:
    pass


class Pods:
    def __init__(self, kernel: Kernel, runtime: Runtime, ledger: Ledger, progress, sync: Callable[[Cluster], object]):
        self.kernel, self.runtime, self.ledger, self.progress = kernel, runtime, ledger, progress
        self.sync = sync           # the Services' dataplane, brought in step with a cluster

    def add(self, c: Cluster, pods: list[Pod], before_ready: Callable[[], None] = _nothing,
            after_ready: Callable[[], None] = _nothing, ready_step: str = "pods ready") -> None:
        """Namespaces (those not made yet), network, processes, readiness. The Services'
        rules are in step before the first process runs (a pod's first DNS query must find
        them), and each pod joins its Services' Endpoints once its ports answer."""
        names = [layout.pod_ns(c.name, p) for p in pods]
        new = [n for n in names if not self.kernel.namespace_exists(n)]
        if new:
            self.ledger.add_namespaces(new)
            self.kernel.create_namespaces(new)
        self._plumb(c, pods)
        with self.progress.step("kube-proxy rules, pods' processes"):
            self.sync(c)
            self.start(c, [p for p in pods if p.command])
            self.ledger.save()
        with self.progress.step(ready_step):
            before_ready()
            self._wait_ready(c, pods)
            after_ready()

    def _plumb(self, c: Cluster, pods: list[Pod]) -> None:
        nets = [cni.pod_net(c, p) for p in pods]
        for p in pods:
            self.kernel.netns_file(layout.pod_ns(c.name, p), "resolv.conf", resolv_conf(c, p))
        with self.progress.step(f"pods: veths into docker0 ({len(pods)})"):
            self.kernel.run_many([(layout.node_ns(c.name, n.name), plumbing.plug_pods,
                                   ([p for p in nets if p.node == n.name],))
                                  for n in c.nodes if any(p.node == n.name for p in nets)])
        with self.progress.step(f"pods: eth0, address, route ({len(pods)})"):
            self.kernel.run_many([(p.netns, plumbing.pod, (p,)) for p in nets])

    def _wait_ready(self, c: Cluster, pods: list[Pod]) -> None:
        by_ns = {layout.pod_ns(c.name, p): p for p in pods if p.command and p.container_ports}
        probes = {ns: sorted(set(p.container_ports.values())) for ns, p in by_ns.items()}

        def on_ready(wave: list[str]) -> None:
            for ns in wave:
                by_ns[ns].ready = True
            c.endpoints = derive_endpoints(c)
            self.sync(c)
        self.kernel.wait_ready(probes, on_ready)
        c.endpoints = derive_endpoints(c)

    def start(self, c: Cluster, pods: list[Pod]) -> None:
        """Start each pod's process as its own user, with its Secrets and ConfigMaps as
        variables and files. What keeps one from starting (a missing Secret) goes to its
        log and its STATUS, and the kubelet tries again later, as in Kubernetes."""
        specs: list[tuple[Pod, Spec]] = []
        failed: dict[str, tuple[Pod, Exception]] = {}
        for p in pods:
            name = layout.pod_proc(p.namespace, p.name)
            try:
                specs.append((p, self.runtime.pod(c, p)))
            except (NetlabError, OSError) as e:
                failed[name] = (p, e)
        said: list[events.Event] = []
        for (p, spec), proc in zip(specs, self.kernel.start_many([s for _, s in specs])):
            if isinstance(proc, OSError):
                failed[spec.name] = (p, proc)
            else:
                self.ledger.waiting.pop(spec.name, None)
                self.ledger.add_proc(proc)
                said += event_reasons.started(p)
        for name, (p, why) in failed.items():
            reason = "CreateContainerConfigError" if isinstance(why, secrets.MissingRef) else "CreateContainerError"
            self.runtime.log_failure(name, reason, why)
            self.ledger.waiting[name] = reason
            self.ledger.pop_proc(name)
            p.ready = False
            said.append(event_reasons.failed(p, why))
        events.record(self.ledger.dir, said, time.time())

    def remove(self, c: Cluster, pods: list[Pod], best_effort: bool = False) -> None:
        """Stop their processes as the kubelet does (SIGTERM, then SIGKILL once the pod's grace
        period is over: our apps end as soon as they are idle), unplug their veths (freeing the
        ifindex now), drop the namespaces. `best_effort`: what a failed `add` made, some of it
        perhaps not (a veth whose pod namespace never came is deleted with that namespace);
        it never served, so it gets no grace."""
        names = [layout.pod_ns(c.name, p) for p in pods]
        if best_effort:
            names = [n for n in names if self.kernel.namespace_exists(n)]
            pods = [p for p in pods if layout.pod_ns(c.name, p) in names]
        procs = [(self.ledger.pop_proc(layout.pod_proc(p.namespace, p.name)), p) for p in pods]
        running = [(proc, 0.0 if best_effort else float(p.termination_grace_period)) for proc, p in procs if proc]
        if not best_effort:
            events.record(self.ledger.dir, [event_reasons.killing(p) for proc, p in procs if proc], time.time())
        self.kernel.stop([proc for proc, _ in running], [grace for _, grace in running])
        self.kernel.kill_in(names, timeout=0)       # the grace period is over for whatever is left
        self.runtime.forget(pods)
        nodes = {n.name for n in c.nodes}
        nets = [cni.pod_net(c, p) for p in pods if p.node in nodes]
        self.kernel.run_many([(layout.node_ns(c.name, node), plumbing.unplug_pods,
                               ([p for p in nets if p.node == node],))
                              for node in sorted({p.node for p in nets})])
        self.kernel.remove_namespaces(names)
        self.ledger.drop_namespaces(names)

    def refresh(self, c: Cluster, pods: list[Pod], warn) -> bool:
        """What the kubelet keeps in step for running pods (their volumes, the ingress's
        configuration); a pod waiting to start is tried again. A failure is the pod's, not
        the change's: it is reported and the rest goes on. Returns whether a pod started."""
        started = False
        for p in pods:
            name = layout.pod_proc(p.namespace, p.name)
            if name in self.ledger.waiting:
                self.start(c, [p])           # what it was waiting for may be there now
                p.ready = False              # until the kubelet's probe finds it ready
                started = True
                continue
            proc = self.ledger.proc(name)
            try:
                self.runtime.refresh(c, p, proc if proc and self.kernel.alive(proc) else None)
            except (NetlabError, OSError) as e:
                warn(f"pod {p.namespace}/{p.name}: {e}")
        return started

    def restart(self, c: Cluster, p: Pod) -> None:
        """The kubelet found the pod's process dead (or never started): start it again."""
        name = layout.pod_proc(p.namespace, p.name)
        was_running = name in self.ledger.procs
        self.start(c, [p])
        if was_running and name in self.ledger.procs:
            p.restarts += 1
        p.ready = False
