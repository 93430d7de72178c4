"""The lab: builds a cluster's kernel objects, keeps them in step, and removes them.

Pure components say what each namespace should hold (underlay, cni, flannel); this
module applies it through the kernel adapters and records everything it creates in
the lab's state before creating it, so `down` and `clean` find it all after a crash.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from netlab import cloud, container, layout, readiness, underlay
from netlab.cni import bridge as cni
from pyroute2.netlink.exceptions import NetlinkError

from netlab.errors import NetlabError
from netlab.flannel import DEVICE as VTEP, PORT as VXLAN_PORT, VNI
from netlab.flannel import desired as flannel
from netlab.flannel.agent import sync as flannel_sync
from netlab.flannel.lease import Store, lease_of
from netlab.kernel import conntrack, iptables, links, netns, process, sysctl
from netlab.kernel.objects import Neigh, Route
from netlab.dns.resolv import resolv_conf
from netlab.ingress import controller as ingress
from netlab.kube_proxy import proxier
from netlab.kube_proxy.rules import build_nodes as proxy_rules
from netlab.model import controller, secrets
from netlab.model.control_plane import admit
from netlab.model.endpoints import derive_endpoints
from netlab.model.objects import Cluster, Node, Pod
from netlab.model.validate import validate
from netlab import teardown
from netlab.state import RUN_DIR, LabDir, LabRecord, labs, marked_gone

# The walk-through's cluster is IPv4 only; without IPv6 no link-local chatter (router
# solicitations, MLD) shows up in the lab's captures.
NO_IPV6 = {"net/ipv6/conf/all/disable_ipv6": 1, "net/ipv6/conf/default/disable_ipv6": 1}
NODE_SYSCTLS = {"net/ipv4/ip_forward": 1,
                # per namespace on current kernels: bridged pod traffic meets kube-proxy's rules
                "net/bridge/bridge-nf-call-iptables": 1,
                # kube-proxy's REJECT (a service without endpoints) answers every packet: with the
                # kernel's default of one ICMP error a second per destination, a pod's second DNS
                # query within the second is dropped in silence and waits out its resolver (5 s)
                "net/ipv4/icmp_ratelimit": 0}
AGENT_READY_TIMEOUT = 10.0
WORKERS = 1    # measured: a second thread only adds GIL contention to netlink requests


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


# ---- building blocks, each run inside one namespace --------------------------------

def _no_ipv6() -> None:
    for key, value in NO_IPV6.items():
        sysctl.write(key, value)


def _build_segment(members: list[underlay.Member]) -> None:
    _no_ipv6()
    with links.netlink() as ipr:
        links.up(ipr, 1)
        br = links.add_bridge(ipr, underlay.BRIDGE, underlay.MTU)
        links.up(ipr, br)
        for m in members:
            links.add_veth(ipr, m.port, "eth0", m.netns, underlay.MTU, master=br)


def _sync_addresses(dev: str, want: list[str]) -> None:
    """The lb host's eth0 holds exactly the LoadBalancer IPs."""
    with links.netlink() as ipr:
        idx = links.index(ipr, dev)
        have = {f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}" for a in ipr.get_addr(index=idx, family=2)}
        for cidr in sorted(set(want) - have):
            links.add_addr(ipr, idx, cidr)
        for cidr in sorted(have - set(want)):
            ip, plen = cidr.split("/")
            ipr.addr("del", index=idx, address=ip, prefixlen=int(plen))


def _sync_routes(dev: str, want: set[Route]) -> None:
    """The router's host routes for externalIPs."""
    with links.netlink() as ipr:
        have = {r for r in links.routes(ipr, dev) if r.dst.endswith("/32")}
        for r in sorted(want - have):
            links.add_route(ipr, r)
        for r in sorted(have - want):
            links.del_route(ipr, r)


def _sync_held_ips(have: set[str], want: set[str]) -> None:
    """externalIPs a node holds as /32s on eth0 (only those netlab put there)."""
    with links.netlink() as ipr:
        eth0 = links.index(ipr, "eth0")
        for ip in sorted(want - have):
            links.add_addr(ipr, eth0, f"{ip}/32")
        for ip in sorted(have - want):
            with contextlib.suppress(NetlinkError):
                ipr.addr("del", index=eth0, address=ip, prefixlen=32)


def _sync_held_ips_in(ns: str, have: set[str], want: set[str]) -> None:
    netns.run_in(ns, _sync_held_ips, have, want)


def _setup_eth0(ipr, m: underlay.Member) -> int:
    links.up(ipr, 1)
    eth0 = links.index(ipr, "eth0")
    links.add_addr(ipr, eth0, m.address)
    links.up(ipr, eth0)
    if m.gateway:
        links.add_route(ipr, Route("default", "eth0", m.gateway), oif=eth0)
    return eth0


def _build_host(m: underlay.Member) -> None:
    _no_ipv6()
    with links.netlink() as ipr:
        if m.address:
            _setup_eth0(ipr, m)
        else:   # the lb host: addresses come per LoadBalancer service
            links.up(ipr, 1)
            links.up(ipr, links.index(ipr, "eth0"))
    if m.name in (layout.ROUTER, layout.LB):
        sysctl.write("net/ipv4/ip_forward", 1)


def _build_node(c: Cluster, node: Node, m: underlay.Member, leases) -> None:
    if not os.path.isdir("/proc/sys/net/bridge"):
        raise NetlabError("the kernel has no br_netfilter (modprobe br_netfilter): kube-proxy's rules "
                          "need bridged pod traffic to pass iptables")
    for key, value in {**NO_IPV6, **NODE_SYSCTLS}.items():
        sysctl.write(key, value)
    with links.netlink() as ipr:
        eth0 = _setup_eth0(ipr, m)
        br = links.add_bridge(ipr, cni.BRIDGE, cni.MTU, cni.bridge_mac(c.name, node))
        links.add_addr(ipr, br, cni.bridge_address(node))
        links.up(ipr, br)
        lease = lease_of(c, node)
        vtep = links.add_vxlan(ipr, VTEP, VNI, VXLAN_PORT, node.ip, eth0, cni.MTU, lease.vtep_mac)
        links.add_addr(ipr, vtep, f"{node.vtep_ip}/32")
        for key, value in flannel.sysctls(c.flannel_mode).items():
            sysctl.write(key, value)
        links.up(ipr, vtep)
        flannel_sync(ipr, leases, node.pod_cidr, c.flannel_mode, c.cluster_cidr)


def _plug_pods(pods: list[cni.PodNet]) -> None:
    """Node side: a veth per pod into docker0, hairpin on (a pod reaching itself via a service)."""
    with links.netlink() as ipr:
        br = links.index(ipr, cni.BRIDGE)
        for p in pods:
            links.add_veth(ipr, p.veth, cni.POD_IFACE, p.netns, cni.MTU, br, p.veth_index, cni.POD_IFINDEX)
            links.set_hairpin(ipr, p.veth_index)
            # a reused address must not reach a deleted pod's MAC (a gratuitous ARP arriving
            # within neigh locktime of the last update is ignored, so forget it here)
            links.del_neigh(ipr, Neigh(p.address.split("/")[0], "", cni.BRIDGE))


def _unplug_pods(pods: list[cni.PodNet]) -> None:
    with links.netlink() as ipr:
        for p in pods:
            try:
                ipr.link("del", index=p.veth_index)
            except NetlinkError:
                pass


def _setup_pod(p: cni.PodNet) -> None:
    """Pod side: lo and eth0 up, the address, the default route via docker0."""
    # arp_notify: the kernel announces the address when eth0 comes up (a gratuitous ARP, as
    # the CNI bridge plugin sends), so neighbours that cached a deleted pod's MAC update
    sysctl.write(f"net/ipv4/conf/{cni.POD_IFACE}/arp_notify", 1)
    # as container runtimes do: a pod's own user may listen on port 80 or 53
    sysctl.write("net/ipv4/ip_unprivileged_port_start", 0)
    _no_ipv6()
    with links.netlink() as ipr:
        links.up(ipr, 1)
        links.add_addr(ipr, cni.POD_IFINDEX, p.address)
        links.up(ipr, cni.POD_IFINDEX)
        links.add_route(ipr, Route("default", cni.POD_IFACE, p.gateway), oif=cni.POD_IFINDEX)


# ---- the lab ---------------------------------------------------------------------------

def _pod_key(p: Pod) -> tuple[str, str]:
    return (p.namespace, p.name)


def _resolve(argv: list[str]) -> list[str]:
    """netlab's own programs (netlab-whoami, ...) come from netlab's environment."""
    own = os.path.join(os.path.dirname(sys.executable), argv[0]) if argv else ""
    return [own, *argv[1:]] if argv and os.path.exists(own) else list(argv)


class Lab(LabRecord):
    """A lab that netlab builds and changes (LabRecord reads it)."""

    def _save(self, state: dict, cluster: Cluster | None = None) -> None:
        if cluster is not None:
            state["cluster"] = cluster.to_dict()
        self.dir.write(state)

    # lifecycle ---------------------------------------------------------------------
    @classmethod
    def up(cls, cluster: Cluster, out=_quiet) -> "Lab":
        admit(cluster, time.time())
        for p in cluster.pods:
            p.ready = bool(p.command) and not p.container_ports      # until its ports answer; nothing to run: never
        cluster.endpoints = derive_endpoints(cluster)
        lab = cls(cluster.name)
        taken = [n for n in layout.all_namespaces(cluster) if netns.exists(n)]
        if taken and not lab.dir.exists():      # (a lab of that name is refused by create())
            raise NetlabError(f"network namespace {taken[0]} exists already and is not lab {cluster.name!r}'s "
                              f"(ip netns list); choose another --name")
        lab.dir.create()
        try:
            with lab.dir.lock():
                state = {"status": "building", "created": time.time(), "procs": {},
                         "namespaces": layout.all_namespaces(cluster), "cluster": cluster.to_dict()}
                lab._save(state)        # everything about to exist is on record first
                lab._build(cluster, state, Progress(out))
                state["status"] = "ready"
                lab._save(state)
        except BaseException:
            out(f"netlab: building lab {cluster.name!r} failed; removing what was made")
            lab._teardown()
            raise
        return lab

    def _build(self, c: Cluster, state: dict, progress: Progress) -> None:
        members = {m.name: m for m in underlay.members(c)}
        with progress.step(f"namespaces ({len(state['namespaces'])})"):
            netns.create(state["namespaces"])
        with progress.step(f"underlay {c.underlay_cidr} ({len(members)} ports)"):
            netns.run_in(layout.host_ns(c.name, layout.UNDERLAY), _build_segment, list(members.values()))
        leases = [lease_of(c, n) for n in c.nodes]
        with progress.step(f"nodes, docker0, flannel.1 ({len(c.nodes)})"):
            jobs = [(m.netns, _build_host, (m,), {}) for m in members.values()
                    if m.name not in {n.name for n in c.nodes}]
            jobs += [(members[n.name].netns, _build_node, (c, n, members[n.name], leases), {}) for n in c.nodes]
            netns.run_many(jobs, WORKERS)
            # outside hosts' servers at once: MariaDB, the slowest to start (0.3 s, and
            # data-product's readiness waits for it), starts on the other core meanwhile
            self._start_workloads(c, [], c.hosts, state)
            for n in c.nodes:
                iptables.restore(members[n.name].netns, flannel.masquerade(c.cluster_cidr, n.pod_cidr))
            # flanneld starts now: its start-up overlaps the pods' plumbing
            store = Store(self.dir.leases)
            for lease in leases:
                store.put(lease)
            agents = self._start_agents(c, c.nodes, state)
        self._add_pods(c, c.pods, progress)
        with progress.step("kube-proxy rules, pods' processes"):
            # pods join their Services' Endpoints once ready; before any rule exists, a
            # pod's DNS query would go unanswered (and its resolver wait for seconds)
            self._sync_services(c)
            self._start_workloads(c, c.pods, [], state)
        with progress.step("flanneld, kubelets, pods ready"):
            self._agents_ready(agents)
            self._wait_ready(c, c.pods)
            self._start_kubelets(c, c.nodes, state)
            self._save(state, c)

    def _add_pods(self, c: Cluster, pods: list[Pod], progress: Progress) -> None:
        nets = [cni.pod_net(c, p) for p in pods]
        for p in pods:
            etc = f"/etc/netns/{layout.pod_ns(c.name, p)}"
            os.makedirs(etc, exist_ok=True)
            with open(f"{etc}/resolv.conf", "w") as f:
                f.write(resolv_conf(c, p))
        with progress.step(f"pods: veths into docker0 ({len(pods)})"):
            jobs = [(layout.node_ns(c.name, n.name), _plug_pods, ([p for p in nets if p.node == n.name],), {})
                    for n in c.nodes if any(p.node == n.name for p in nets)]
            netns.run_many(jobs, WORKERS)
        with progress.step(f"pods: eth0, address, route ({len(pods)})"):
            netns.run_many([(p.netns, _setup_pod, (p,), {}) for p in nets], WORKERS)

    def _remove_pods(self, c: Cluster, pods: list[Pod], state: dict) -> None:
        """Stop their processes, unplug their veths (freeing the ifindex now), drop the namespaces."""
        names = [layout.pod_ns(c.name, p) for p in pods]
        for p in pods:
            proc = state["procs"].pop(f"pod/{p.namespace}/{p.name}", None)
            if proc:
                process.stop([process.Proc(**proc)])
        process.kill(process.in_namespaces(names))
        for p in pods:
            shutil.rmtree(self.dir.pod_dir(p.namespace, p.name), ignore_errors=True)
        nets = [cni.PodNet(n, cni.host_veth(p), "", "", p.node, cni.pod_net(c, p).veth_index)
                for n, p in zip(names, pods) if any(x.name == p.node for x in c.nodes)]
        jobs = [(layout.node_ns(c.name, node.name), _unplug_pods, ([p for p in nets if p.node == node.name],), {})
                for node in c.nodes if any(p.node == node.name for p in nets)]
        netns.run_many(jobs, WORKERS)
        teardown.drop_namespaces(names)
        state["namespaces"] = [n for n in state["namespaces"] if n not in set(names)]

    def _start_workloads(self, c: Cluster, pods: list[Pod], hosts, state: dict) -> None:
        """The processes outside hosts and pods run, all started side by side. Hosts
        first: their servers (MariaDB) take longest, and the pods that need them wait."""
        specs = [self._spec(f"host/{h.name}", _resolve(["netlab-supervise", "--"] + _resolve(h.command)),
                            _agent_box(layout.host_ns(c.name, h.name)),
                            {**os.environ, "POD_NAME": h.name, "NETLAB_STATE": str(self.dir.state_file)})
                 for h in hosts if h.command]    # a host's server is kept running by its own supervisor
        for proc in process.start_many(specs):
            if isinstance(proc, OSError):
                raise proc
            state["procs"][proc.name] = proc.to_dict()
        self._start_pods(c, [p for p in pods if p.command], state)
        self._save(state)

    def _wait_ready(self, c: Cluster, pods: list[Pod]) -> None:
        """Pods with a command join Endpoints, and every node's rules, as soon as their
        ports accept connections."""
        by_ns = {layout.pod_ns(c.name, p): p for p in pods if p.command and p.container_ports}
        probes = {ns: sorted(set(p.container_ports.values())) for ns, p in by_ns.items()}

        def on_ready(wave: list[str]) -> None:
            for ns in wave:
                by_ns[ns].ready = True
            c.endpoints = derive_endpoints(c)
            self._sync_services(c)
        readiness.wait_ready(probes, on_ready=on_ready)
        c.endpoints = derive_endpoints(c)

    def _uid(self, c: Cluster, p: Pod) -> int:
        if p.run_as_user is not None:
            return p.run_as_user
        return 0 if _pods_as_root() else layout.pod_uid(c.name, p)

    def _start_pod(self, c: Cluster, p: Pod, state: dict) -> None:
        self._start_pods(c, [p], state)

    def _start_pods(self, c: Cluster, pods: list[Pod], state: dict) -> None:
        """Start each pod's process as its own user, with its Secrets and ConfigMaps as
        variables and files. What keeps one from starting (a missing Secret) goes to its
        log and its STATUS, and the kubelet tries again later, as in Kubernetes."""
        waiting = state.setdefault("waiting", {})
        specs, failed = [], {}
        for p in pods:
            name = f"pod/{p.namespace}/{p.name}"
            try:
                specs.append((p, self._spec(name, *self._pod_process(c, p))))
            except (NetlabError, OSError) as e:
                failed[name] = (p, e)
        for (p, spec), proc in zip(specs, process.start_many([s for _, s in specs])):
            if isinstance(proc, OSError):
                failed[spec.name] = (p, proc)
            else:
                waiting.pop(spec.name, None)
                state["procs"][spec.name] = proc.to_dict()
        for name, (p, e) in failed.items():
            reason = "CreateContainerConfigError" if isinstance(e, secrets.MissingRef) else "CreateContainerError"
            with open(self.dir.logs / (name.replace("/", "_") + ".log"), "a") as log:
                log.write(f"{reason}: {e}\n")
            waiting[name] = reason
            state["procs"].pop(name, None)
            p.ready = False

    def _pod_process(self, c: Cluster, p: Pod) -> tuple[list[str], process.Sandbox, dict]:
        """The pod's files in place; its command line, sandbox and environment."""
        uid = self._uid(c, p)
        home = self.dir.pod_dir(p.namespace, p.name)
        variables = secrets.environment(c, p)
        files = secrets.volume_files(c, p)
        container.private_dir(home, 0)
        os.chmod(home, 0o711)
        command = _resolve(p.command)
        if ingress.is_controller(p):
            command = ingress.prepare(c, p, home, uid)
        mounts = []
        for v in p.volumes:
            if v.name in files:
                container.write_files(home / "volumes" / v.name, files[v.name], uid)
                mounts.append(container.Mount(str(home / "volumes" / v.name), v.mount_path))
        overlays = container.overlay_points(mounts, keep=_KEEP_VISIBLE)
        container.make_scratch(home / "layers", overlays)
        # a container's environment: its own variables, not the caller's (root's)
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
        env.update({"HOME": "/", **variables, "POD_NAME": p.name, "POD_NAMESPACE": p.namespace, "POD_IP": p.ip,
                    "NODE_NAME": p.node})
        if uid == 0:       # only root may read the lab's store (kube-dns serves from it)
            env["NETLAB_STATE"] = str(self.dir.state_file)
        return command, container.sandbox(layout.pod_ns(c.name, p), uid, mounts, overlays,
                                          str(home / "layers")), env

    def _refresh_pods(self, c: Cluster, pods: list[Pod], state: dict, warn=_quiet) -> bool:
        """What the kubelet keeps in step for running pods: Secret and ConfigMap volumes
        (a rotated Secret reaches the pod's file) and the ingress controller's
        configuration (reloaded without dropping connections in flight). A failure is
        the pod's, not the change's: it is reported and the rest goes on. Returns whether
        a waiting pod was started (the state changed)."""
        started = False
        for p in pods:
            home = self.dir.pod_dir(p.namespace, p.name)
            if f"pod/{p.namespace}/{p.name}" in state.get("waiting", {}):
                self._start_pod(c, p, state)      # what it was waiting for may be there now
                p.ready = False                   # until the kubelet's probe finds it ready
                started = True
                continue
            try:
                if p.volumes:
                    try:
                        files = secrets.volume_files(c, p)
                    except secrets.MissingRef:
                        files = {}          # gone: the pod keeps what it had, as the kubelet does
                    for v in p.volumes:
                        if v.name in files and (home / "volumes" / v.name).is_dir():
                            container.write_files(home / "volumes" / v.name, files[v.name], self._uid(c, p))
                rec = state["procs"].get(f"pod/{p.namespace}/{p.name}")
                if ingress.is_controller(p) and rec and (home / "nginx").is_dir():
                    if ingress.write(c, p, home, self._uid(c, p)) and process.alive(process.Proc(**rec)):
                        ingress.reload(rec["pid"], p.name)
            except (NetlabError, OSError) as e:
                warn(f"pod {p.namespace}/{p.name}: {e}")
        return started

    def _preflight(self, c: Cluster, pods: list[Pod]) -> None:
        """What would fail only once the kernel is half changed is checked before."""
        for p in pods:
            container.overlay_points([container.Mount("", v.mount_path) for v in p.volumes], keep=_KEEP_VISIBLE)
        if any(ingress.is_controller(p) for p in c.pods):
            ingress.check(c)

    def kubelet_report(self, node: str, restart: list[tuple[str, str]], ready: dict) -> None:
        """A node's kubelet reports: restart these pods' dead processes; readiness changed
        (pod -> (readiness it saw, readiness it found); stale reports are dropped).
        Endpoints and every node's rules follow, as the control plane would make them."""
        try:
            with self.dir.lock():
                self._kubelet_report(node, restart, ready)
        except FileNotFoundError:
            raise NetlabError(f"lab {self.name!r} is gone") from None

    def _kubelet_report(self, node: str, restart: list[tuple[str, str]], ready: dict) -> None:
        state = self.state()
        c = Cluster.from_dict(state["cluster"])
        pods = {_pod_key(p): p for p in c.pods if p.node == node}
        for key in restart:
            p = pods.get(tuple(key))
            rec = state["procs"].get(f"pod/{key[0]}/{key[1]}")
            if p is None or not p.command or (rec and process.alive(process.Proc(**rec))):
                continue     # deleted meanwhile, or already running
            was_running = rec is not None
            self._start_pod(c, p, state)
            if was_running and f"pod/{key[0]}/{key[1]}" in state["procs"]:
                p.restarts += 1
            p.ready = False
        for key, (seen, found) in ready.items():
            pod = pods.get(tuple(key))
            if pod is not None and pod.ready == seen:     # else someone changed it since
                pod.ready = found
        before = c.endpoints
        c.endpoints = derive_endpoints(c)
        # the rules first: once the record says an address left the Endpoints, no new
        # connection may still be sent to it
        if c.endpoints != before:
            self._sync_services(c)
        self._save(state, c)

    def _spec(self, name: str, argv: list[str], box: process.Sandbox, env: dict) -> process.Spec:
        log = self.dir.logs / (name.replace("/", "_") + ".log")
        if box.uid:     # its own user may reopen it (nginx's /dev/stdout), in a directory it cannot enter
            log.touch(mode=0o600)
            os.chown(log, box.uid, box.uid)
        return process.Spec(name, argv, box, str(log), env)

    def _spawn(self, state: dict, name: str, argv: list[str], box: process.Sandbox, env: dict) -> process.Proc:
        proc = process.start(self._spec(name, argv, box, env))
        state["procs"][name] = proc.to_dict()
        return proc

    def _sync_services(self, c: Cluster) -> dict[str, int]:
        """kube-proxy on every node, the cloud's load balancer, the router: in step with c.
        The nodes' rules are written side by side (each is an iptables-restore of its own);
        what did not change since the last time is not written again."""
        stale = self._stale_udp(c)
        rulesets = proxy_rules(c, [n.name for n in c.nodes], precision=c.probability_decimals,
                               endpoints=c.endpoints)

        def node(n: Node) -> int:
            want = rulesets[n.name]
            changed = proxier.sync(layout.node_ns(c.name, n.name), want,
                                   self.dir.path / f"kube-proxy-{n.name}.json")
            if stale:
                conntrack.forget_udp_to(layout.node_ns(c.name, n.name), stale)
            record = self.dir.path / f"announced-{n.name}.json"
            have = set(json.loads(record.read_text())) if record.exists() else set()
            if have != cloud.announced(c, n.name):
                _sync_held_ips_in(layout.node_ns(c.name, n.name), have, cloud.announced(c, n.name))
                record.write_text(json.dumps(sorted(cloud.announced(c, n.name))))
            return changed
        with ThreadPoolExecutor(max(1, len(c.nodes))) as pool:
            changed = dict(zip((n.name for n in c.nodes), pool.map(node, c.nodes)))
        lb, router = layout.host_ns(c.name, layout.LB), layout.host_ns(c.name, layout.ROUTER)
        rules, addresses = cloud.lb_rules(c), cloud.lb_addresses(c)
        routes = cloud.router_routes(c)
        if self._differs("lb-rules", rules):
            iptables.restore(lb, rules, noflush=False)
        if self._differs("lb-addresses", sorted(addresses)):
            netns.run_in(lb, _sync_addresses, "eth0", addresses)
        if self._differs("router-routes", [[r.dst, r.dev, r.gateway, r.onlink] for r in sorted(routes)]):
            netns.run_in(router, _sync_routes, "eth0", routes)
        return changed

    def _differs(self, record: str, value) -> bool:
        """Is `value` other than what was last applied under this record's name? (It is
        recorded as applied: call it right before applying.)"""
        path = self.dir.path / f"{record}.json"
        text = json.dumps(value, sort_keys=True)
        if path.exists() and path.read_text() == text:
            return False
        path.write_text(text)
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
        record.write_text(json.dumps(now))
        if first:
            return {}
        return {ip: set(addrs) for ip, addrs in now.items() if ip not in before or set(before[ip]) - set(addrs)}

    def _start_kubelets(self, c: Cluster, nodes: list[Node], state: dict) -> None:
        """The kubelet per node: restarts pods' processes, probes their readiness. Started
        once the pods are up: on two cores, its start-up would only slow theirs."""
        for n in nodes:
            argv = _resolve(["netlab-kubelet", "--lab", self.name, "--node", n.name])
            self._spawn(state, f"kubelet-{n.name}", argv, _agent_box(layout.node_ns(c.name, n.name)),
                        dict(os.environ))
        self._save(state)

    def _start_agents(self, c: Cluster, nodes: list[Node], state: dict) -> list:
        """Start flanneld on each node (its leases must be in the store); `_agents_ready` waits."""
        started = []
        for n in nodes:
            ready = self.dir.path / f"flanneld-{n.name}.ready"
            argv = _resolve(["netlab-flanneld", "--leases", str(self.dir.leases), "--subnet", n.pod_cidr,
                             "--mode", c.flannel_mode, "--cluster-cidr", c.cluster_cidr, "--ready", str(ready)])
            started.append((self._spawn(state, f"flanneld-{n.name}", argv,
                                        _agent_box(layout.node_ns(c.name, n.name)), dict(os.environ)), ready))
        self._save(state)
        return started

    def _agents_ready(self, started: list) -> None:
        deadline = time.monotonic() + AGENT_READY_TIMEOUT
        for proc, ready in started:
            while not ready.exists():
                if not process.alive(proc):
                    raise NetlabError(f"{proc.name} exited at start; see {self.dir.logs}/{proc.name}.log")
                if time.monotonic() > deadline:
                    raise NetlabError(f"{proc.name} not ready after {AGENT_READY_TIMEOUT:.0f}s")
                time.sleep(0.005)

    def down(self) -> None:
        teardown.down(self.name)

    def _teardown(self) -> None:
        teardown.teardown(self.dir)

    # changes to a running lab -------------------------------------------------------
    def update(self, change, out=_quiet, warn=_quiet) -> tuple[list[Pod], list[Pod]]:
        """Apply `change(cluster)` to the running lab the way the control plane would:
        controllers make or remove pods, the pod network follows, then Endpoints and
        every node's kube-proxy rules. Nothing reaches the kernel if the change is invalid."""
        with self.dir.lock():
            state = self.state()
            old = Cluster.from_dict(state["cluster"])
            new = Cluster.from_dict(state["cluster"])
            change(new)
            now = time.time()
            for obj in new.services + new.pods + new.secrets + new.config_maps + new.ingresses:
                obj.created = obj.created or now
            admit(new, now)
            was = {_pod_key(p): p for p in old.pods}
            # a pod whose place or spec changed is replaced: the old one goes, a new one comes
            same = {k for k, p in ((_pod_key(p), p) for p in new.pods)
                    if k in was and (p.node, p.ip, p.spec()) == (was[k].node, was[k].ip, was[k].spec())}
            added = [p for p in new.pods if _pod_key(p) not in same]
            removed = [p for p in old.pods if _pod_key(p) not in same]
            for p in added:
                p.ready = bool(p.command) and not p.container_ports  # until its ports answer; nothing to run: never
            self._preflight(new, added)
            new.endpoints = derive_endpoints(new)
            # Endpoints first lose the pods about to go, so no new connection is sent to them.
            if removed:
                self._sync_services(_without(new, removed))
                self._remove_pods(old, removed, state)
            if added:
                names = [layout.pod_ns(new.name, p) for p in added]
                state["namespaces"] += names
                self._save(state)
                netns.create(names)
                self._add_pods(new, added, Progress(out))
                self._start_workloads(new, added, [], state)
                self._wait_ready(new, added)
            self._sync_services(new)
            self._save(state, new)
            if self._refresh_pods(new, [p for p in new.pods if _pod_key(p) in same], state, warn):
                self._save(state, new)
            return added, removed

    def add_node(self, node: Node, pods: int = 0, out=_quiet) -> list[Pod]:
        with self.dir.lock():
            state = self.state()
            c = Cluster.from_dict(state["cluster"])
            c.nodes.append(node)
            validate(c)
            new = [controller.bare_pod(c, node.name, time.time()) for _ in range(pods)]
            admit(c, time.time())
            member = next(m for m in underlay.members(c) if m.name == node.name)
            names = [member.netns] + [layout.pod_ns(c.name, p) for p in new]
            state["namespaces"] += names
            self._save(state, c)
            progress = Progress(out)
            with progress.step(f"node {node.name}"):
                netns.create(names)
                netns.run_in(layout.host_ns(c.name, layout.UNDERLAY), _plug_segment, member)
                leases = [lease_of(c, n) for n in c.nodes]
                netns.run_in(member.netns, _build_node, c, node, member, leases)
                iptables.restore(member.netns, flannel.masquerade(c.cluster_cidr, node.pod_cidr))
            self._add_pods(c, new, progress)
            with progress.step("kube-proxy rules, lease and flanneld"):
                self._sync_services(c)
                Store(self.dir.leases).put(lease_of(c, node))
                self._agents_ready(self._start_agents(c, [node], state))
                self._start_kubelets(c, [node], state)
            return new

    def remove_node(self, name: str, out=_quiet) -> None:
        with self.dir.lock():
            state = self.state()
            c = Cluster.from_dict(state["cluster"])
            try:
                node = c.node(name)
            except KeyError:
                raise NetlabError(f"node {name!r} is not in lab {self.name!r}") from None
            if len(c.nodes) == 1:
                raise NetlabError(f"node {name!r} is the lab's last node (netlab down removes the lab)")
            Store(self.dir.leases).delete(node.pod_cidr)   # the other agents drop its entries
            for agent in (state["procs"].pop(f"kubelet-{name}", None), state["procs"].pop(f"flanneld-{name}", None)):
                if agent:
                    process.stop([process.Proc(**agent)])
            gone = c.pods_on(name)
            c.nodes.remove(node)
            for p in gone:
                c.pods.remove(p)
                state["procs"].pop(f"pod/{p.namespace}/{p.name}", None)
            ns_gone = [layout.node_ns(c.name, name)] + [layout.pod_ns(c.name, p) for p in gone]
            process.kill(process.in_namespaces(ns_gone))
            teardown.drop_namespaces(ns_gone)
            for p in gone:
                shutil.rmtree(self.dir.pod_dir(p.namespace, p.name), ignore_errors=True)
            for record in (f"kube-proxy-{name}.json", f"announced-{name}.json", f"flanneld-{name}.ready"):
                (self.dir.path / record).unlink(missing_ok=True)
            netns.run_in(layout.host_ns(c.name, layout.UNDERLAY), _unplug_segment, underlay.port_name(name))
            # Like the ReplicaSet controller: the evicted replicas come back on the other nodes.
            before = {_pod_key(p) for p in c.pods}
            admit(c, time.time())
            added = [p for p in c.pods if _pod_key(p) not in before]
            state["namespaces"] = [n for n in state["namespaces"] if n not in ns_gone]
            state["namespaces"] += [layout.pod_ns(c.name, p) for p in added]
            self._save(state, c)
            if added:
                netns.create([layout.pod_ns(c.name, p) for p in added])
                self._add_pods(c, added, Progress(out))
                self._start_workloads(c, added, [], state)
                self._wait_ready(c, added)
            self._sync_services(c)
            self._save(state, c)


# What a pod's private layers must not cover (the lab changes it while the pod runs).
_KEEP_VISIBLE = ("/run/netns", str(RUN_DIR))


@functools.cache
def _pods_as_root() -> bool:
    """Pods run as their own users only if those can run netlab's Python and reach
    their own directory under the labs' run directory."""
    import netlab
    closed = container.reachable_by_others([sys.prefix, sys.base_prefix, os.path.realpath(sys.executable),
                                            os.path.dirname(netlab.__file__), str(RUN_DIR)])
    if closed:
        print(f"netlab: warning: {closed} is closed to other users, so pods run as root and can read "
              f"each other's Secrets (install netlab, and NETLAB_RUN_DIR, outside /root)", file=sys.stderr)
    return bool(closed)


def _agent_box(ns: str) -> process.Sandbox:
    """A node's agent or an outside host's server: the namespace's network, the host's files."""
    return process.Sandbox(ns, pod=False)


def _without(c: Cluster, pods: list[Pod]) -> Cluster:
    """The cluster as Endpoints see it once `pods` are terminating."""
    gone = {_pod_key(p) for p in pods}
    trimmed = Cluster.from_dict(c.to_dict())
    trimmed.pods = [p for p in trimmed.pods if _pod_key(p) not in gone]
    trimmed.endpoints = derive_endpoints(trimmed)
    return trimmed


def _plug_segment(m: underlay.Member) -> None:
    with links.netlink() as ipr:
        br = links.index(ipr, underlay.BRIDGE)
        links.add_veth(ipr, m.port, "eth0", m.netns, underlay.MTU, master=br)


def _unplug_segment(port: str) -> None:
    with links.netlink() as ipr:
        try:
            ipr.link("del", index=links.index(ipr, port))
        except LookupError:
            pass


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
        etc = [d for d in (os.listdir("/etc/netns") if os.path.isdir("/etc/netns") else [])
               if d.startswith(f"{name}-") and not netns.exists(d)
               and set(os.listdir(f"/etc/netns/{d}")) <= {"resolv.conf", "nginx"}]
        teardown.drop_namespaces(etc)
        LabDir(name).remove()
        removed.append(name)
        out(f"removed what lab {name} left in /etc/netns ({len(etc)} directories)")
    if only is not None and only not in removed:
        orphans = _orphan_namespaces(only)
        if orphans:
            pids = process.in_namespaces(orphans)
            process.kill(pids, timeout=0)
            teardown.drop_namespaces(orphans)
            removed.append(only)
            out(f"removed lab {only}: it had no record left; {len(orphans)} namespaces, {len(pids)} processes")
    return removed


def _orphan_namespaces(name: str) -> list[str]:
    """The namespaces of a lab whose record is gone (its run directory was removed): named
    `<name>-...`, and only if `<name>-underlay` is among them, as every lab of netlab has one."""
    found = [n for n in (os.listdir("/run/netns") if os.path.isdir("/run/netns") else [])
             if n.startswith(f"{name}-")]
    return found if layout.host_ns(name, layout.UNDERLAY) in found else []
