"""`netlab tour`'s steps: the walk-through's chapters as commands on a live seed lab (pure data).

Each step is what a user would type (`netlab ...`, `ip -n LAB-node1 ...`, `bridge ...`,
`ip netns exec LAB-node1 ...`), derived from the lab's name and cluster: its nodes'
namespaces, its pods' names, its chains' hashed names. netlab.tour_runner runs them.
"""
from __future__ import annotations

import shlex
import textwrap
from dataclasses import dataclass

from netlab import layout
from netlab.kube_proxy import names
from netlab.kube_proxy.rules import probability, saved_probability
from netlab.model.names import host_port
from netlab.model.objects import Cluster, Pod, Service, ServicePort


WIDTH = 116      # with its indent, a step's explanation fits 120 columns


@dataclass(frozen=True)
class Step:
    title: str
    explanation: str            # one or two lines: what to look for, tied to the walk-through
    argv: tuple[str, ...]       # as the user types it; "netlab" is this very command
    name: str = ""              # short name, for --skip
    chapter: str = ""
    pipe: tuple[str, ...] = ()  # a filter the output goes through (grep), shown as `| grep ...`

    def lines(self) -> list[str]:
        """The explanation as shown: lines of at most WIDTH characters."""
        return textwrap.wrap(self.explanation, WIDTH)

    def shown(self, prog: str = "netlab") -> str:
        argv = (prog, *self.argv[1:]) if self.argv[:1] == ("netlab",) else self.argv
        line = shlex.join(argv)
        return f"{line} | {shlex.join(self.pipe)}" if self.pipe else line


CHAPTERS = ("1. The three IPs: node, pod, service",
            "2. docker0 and flannel",
            "3. Service rules: kube-proxy's iptables",
            "4. DNS",
            "5. From outside: NodePort and ingress",
            "6. A trace")

# what the tour needs of a lab: the walk-through's application, on two nodes
NEEDS = ("business-manager", "data-product")
INGRESS = ("ingress-nginx", "ingress-nginx")
HOST, PATH = "business-manager.default", "/api/v1/product/list"


def missing(c: Cluster) -> str | None:
    """Why the tour cannot run on this cluster (None: it can): it follows the seed's pieces."""
    if len(c.nodes) < 2:
        return "it has fewer than two nodes"
    for dep in NEEDS:
        if not any(p.owner == dep and p.node == c.nodes[0].name for p in c.pods):
            return f"no {dep} pod on {c.nodes[0].name}"
        if not _service(c, "default", dep):
            return f"no Service default/{dep}"
    if not any(p.node == c.nodes[1].name for p in c.pods):
        return f"no pod on {c.nodes[1].name}"
    ingress = _service(c, *INGRESS)
    if not ingress or not any(p.node_port for p in ingress.ports):
        return "no NodePort Service ingress-nginx/ingress-nginx"
    if not any(h.name == "client" for h in c.hosts):
        return "no client host"
    return None


def _service(c: Cluster, namespace: str, name: str) -> Service | None:
    return next((s for s in c.services if s.namespace == namespace and s.name == name), None)


def _first(pods: list[Pod]) -> Pod:
    return sorted(pods, key=lambda p: p.name)[0]


def chains(c: Cluster, svc: Service, sp: ServicePort | None = None) -> tuple[str, list[str]]:
    """A service port's KUBE-SVC chain and its ready endpoints' KUBE-SEP chains, as kube-proxy names them
    (default: the service's first port)."""
    sp = sp or svc.ports[0]
    spn = names.service_port_name(svc.namespace, svc.name, sp.name)
    proto = sp.protocol.lower()
    ep = next((e for e in c.endpoints if e.namespace == svc.namespace and e.name == svc.name), None)
    number = next((p.port for p in ep.ports if p.name == sp.name and p.port), None) if ep else None
    seps: list[str] = []
    if ep and number:
        for a in ep.addresses:
            sep = names.endpoint_chain(spn, proto, host_port(a.ip, number))
            if a.ready and a.ip and sep not in seps:
                seps.append(sep)
    return names.service_chain(spn, proto), seps


def _odds(n: int, decimals: int) -> str:
    """How KUBE-SVC's rules share the connections among n endpoints: 1/n, 1/(n-1) of the rest, ..."""
    if n == 0:
        return "no ready endpoint, so a REJECT rule"
    if n == 1:
        return "one endpoint, nothing to choose"
    ks: list[int | None] = list(range(n, 1, -1))            # n, n-1, ..., 2
    if n > 4:
        ks = ks[:2] + [None]
    odds = [f"{saved_probability(probability(k, decimals))} (1/{k}{' of the rest' if k < n else ''})" if k
            else "..." for k in ks]
    return f"--probability {', then '.join(odds + ['the last always'])}: 1/{n} each"


def steps(c: Cluster) -> list[Step]:
    lab = c.name
    node1, node2 = c.nodes[0], c.nodes[1]
    ns1 = layout.node_ns(lab, node1.name)
    opt = () if lab == "seed" else ("--name", lab)     # the default lab needs no --name

    def netlab(verb: str, *rest: str) -> tuple[str, ...]:
        return ("netlab", verb, *opt, *rest)

    manager = _first([p for p in c.pods if p.owner == "business-manager" and p.node == node1.name])
    remote = _first([p for p in c.pods if p.node == node2.name and p.owner == "data-product"]
                    or [p for p in c.pods if p.node == node2.name])
    product = _service(c, "default", "data-product")
    ingress = _service(c, *INGRESS)
    assert product and ingress, missing(c)
    svc_chain, seps = chains(c, product)
    http = next(p for p in ingress.ports if p.node_port)
    in_chain, in_seps = chains(c, ingress, http)
    dns = _service(c, "kube-system", "kube-dns")
    save = ("ip", "netns", "exec", ns1, "iptables-legacy-save", "-t", "nat")
    one, two, three, four, five, six = CHAPTERS
    return [
        Step("Pods: each has an IP of its node's subnet",
             f"IP is the pod IP, from the node's pod subnet ({node1.name} {node1.pod_cidr}, {node2.name} "
             f"{node2.pod_cidr}); NODE is the node IP on the underlay, as the walk-through's kubectl shows it.",
             netlab("get", "po", "-o", "wide"), "pods", one),
        Step("Services: a ClusterIP of their own",
             f"CLUSTER-IP comes from the service network {c.service_cidr}: no device holds it, "
             "kube-proxy's rules (chapter 3) turn it into a pod's IP.",
             netlab("get", "svc"), "services", one),
        Step(f"{node1.name}'s routes",
             f"{node1.pod_cidr} dev docker0 is the node's own pods, on the bridge; the rest of "
             f"{c.cluster_cidr} goes to flannel.1, the VXLAN device that reaches the other nodes.",
             ("ip", "-n", ns1, "route"), "routes", two),
        Step("docker0, the pods' bridge",
             f"docker0 holds the pods' gateway {node1.gateway}, MTU 1450: 1500 minus the 50 bytes "
             "VXLAN wraps around each packet.",
             ("ip", "-n", ns1, "addr", "show", "docker0"), "docker0", two),
        Step(f"A pod on {node1.name} pings a pod on {node2.name}",
             f"{manager.name} ({manager.ip}) reaches {remote.name} ({remote.ip}) across the nodes: "
             f"through docker0, flannel.1 and {node1.name}'s eth0, in a VXLAN packet.",
             netlab("exec", manager.name, "--", "ping", "-c", "1", "-W", "2", remote.ip), "ping", two),
        Step("flannel.1's neighbours",
             f"Each remote pod address looked up ({remote.ip} just now) maps to {node2.name}'s flannel.1 MAC "
             "(lladdr): flanneld answers the kernel's lookups, as in the walk-through.",
             ("ip", "-n", ns1, "neigh", "show", "dev", "flannel.1"), "neigh", two),
        Step("flannel.1's forwarding database",
             f"That MAC is {node2.name}'s VTEP: the FDB entry says to send its frames in UDP (port 8472) to "
             f"dst {node2.ip}, {node2.name}'s node IP.",
             ("bridge", "-n", ns1, "fdb", "show", "dev", "flannel.1"), "fdb", two),
        Step("data-product's rules in the nat table",
             f"KUBE-SERVICES sends {product.cluster_ip}:{product.ports[0].port} to {svc_chain}; it picks a KUBE-SEP "
             f"(a pod's DNAT) with {_odds(len(seps), c.probability_decimals)}.",
             save, "kube-services", three, ("grep", "-E", f"^-A .*({'|'.join([svc_chain, *seps])})")),
        Step("A pod's /etc/resolv.conf",
             f"nameserver is kube-dns's ClusterIP ({dns.cluster_ip if dns else '-'}); the search list starts "
             f"with the pod's namespace, so a bare name such as data-product is tried as a Service first.",
             netlab("exec", manager.name, "--", "cat", "/etc/resolv.conf"), "resolv-conf", four),
        Step("A Service's name, resolved in a pod",
             f"data-product becomes data-product.default.svc.{c.dns_domain}, the ClusterIP "
             f"{product.cluster_ip}: what business-manager calls.",
             netlab("exec", manager.name, "--", "getent", "hosts", "data-product"), "resolve", four),
        Step("The ingress controller's Service",
             f"type NodePort: port {http.port} is {http.node_port} on every node's address, so the ingress "
             "nginx is reached from outside the cluster.",
             netlab("get", "svc", "-n", ingress.namespace), "ingress-svc", five),
        Step(f"KUBE-NODEPORTS on {node1.name}",
             f"KUBE-SERVICES' last rule sends traffic to the node's own addresses to KUBE-NODEPORTS: "
             f"--dport {http.node_port} is marked for masquerading and balanced by {in_chain} as a ClusterIP is.",
             save, "nodeports", five, ("grep", "-E", f"^-A .*({'|'.join(['KUBE-NODEPORTS', in_chain, *in_seps])})")),
        Step("The walk-through's request, from client",
             f"client ({next(h.ip for h in c.hosts if h.name == 'client')}) -> {node1.ip}:{http.node_port} -> "
             "nginx -> business-manager -> data-product -> mysql: the answer names the pods that served it.",
             netlab("exec", "client", "--", "curl", "-s", "-H", f"Host: {HOST}",
                    f"http://{node1.ip}:{http.node_port}{PATH}"), "request", five),
        Step("A trace, hop by hop",
             f"The path of a connection from {manager.name} to the Service data-product: each numbered hop is "
             "a device or a rule the packet passes, the pieces of the chapters above.",
             netlab("trace", manager.name, "data-product"), "trace", six),
    ]
