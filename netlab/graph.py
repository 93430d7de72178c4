"""The lab drawn as the walk-through's second figure, in Graphviz's DOT (pure), and its rendering.

Each node is a box holding its pods (name, IP) on docker0, docker0 (the pod gateway),
flannel.1 (the VTEP: the subnet's .0 and its MAC) and eth0 (the underlay address); the
underlay segment joins every eth0, the router and the outside hosts; a VXLAN tunnel
joins the VTEPs; Services are dashed boxes without a device, pointing at their endpoints.

Every element has a stable id, written into the SVG as the element's id, which callers
name to highlight it (a traced path):

    node:<node>  dev:<node>:eth0  dev:<node>:docker0  dev:<node>:flannel.1
    pod:<ns>/<name>  host:<name> (router, client, db, ...)  svc:<ns>/<name>  underlay

and edges as "<id>-><id>" (either way round matches a drawn edge; one that is not drawn
is added, in red). Ids the cluster does not hold are left out (the lab may have changed).
"""
from __future__ import annotations

import subprocess
from collections.abc import Iterable
from ipaddress import ip_network

from netlab.cni import bridge as cni
from netlab.errors import NetlabError
from netlab.flannel import DEVICE as VTEP, PORT as VXLAN_PORT, VNI
from netlab.flannel.lease import vtep_mac
from netlab.model.objects import Cluster, Service
from netlab.underlay import MTU as UNDERLAY_MTU

FORMATS = ("svg", "png", "dot")
UNDERLAY = "underlay"
HIGHLIGHT = 'color="#d62728", fontcolor="#d62728", penwidth=3'


def q(text: str) -> str:
    """A DOT quoted string: backslashes and quotes escaped, line breaks as DOT's centred \\n."""
    return '"' + "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in text.split("\n")) + '"'


def node_id(node: str) -> str:
    return f"node:{node}"


def dev_id(node: str, dev: str) -> str:
    return f"dev:{node}:{dev}"


def pod_id(namespace: str, name: str) -> str:
    return f"pod:{namespace}/{name}"


def host_id(name: str) -> str:
    return f"host:{name}"


def svc_id(namespace: str, name: str) -> str:
    return f"svc:{namespace}/{name}"


def _ports(s: Service) -> list[str]:
    out = []
    for p in s.ports:
        node_port = f":{p.node_port}" if p.node_port else ""
        target = f" -> {p.target_port}" if p.target_port and str(p.target_port) != str(p.port) else ""
        out.append(f"{p.port}{node_port}/{p.protocol}{target}")
    return out


class _Graph:
    """The statements, with what is highlighted applied as they are written."""

    def __init__(self, highlight: Iterable[str]):
        self.lines: list[str] = []
        self.ids: set[str] = set()
        self.anchor: dict[str, tuple[str, str]] = {}     # node:<n> -> (a device inside, its cluster)
        self.edges: dict[frozenset[str], str] = {}     # drawn edges, either way round
        self.marked_nodes: set[str] = set()
        self.marked_edges: list[tuple[str, str]] = []
        for h in highlight:
            a, arrow, b = h.partition("->")
            if arrow:
                self.marked_edges.append((a.strip(), b.strip()))
            else:
                self.marked_nodes.add(h.strip())
        self.marked_pairs = {frozenset(e) for e in self.marked_edges}

    def mark(self, ident: str) -> str:
        return f", {HIGHLIGHT}" if ident in self.marked_nodes else ""

    def node(self, indent: str, ident: str, label: str, attrs: str = "") -> None:
        self.ids.add(ident)
        extra = f", {attrs}" if attrs else ""
        self.lines.append(f"{indent}{q(ident)} [id={q(ident)}, label={q(label)}{extra}{self.mark(ident)}];")

    def edge(self, indent: str, a: str, b: str, attrs: str = "") -> None:
        key = frozenset((a, b))
        self.edges[key] = f"{a}->{b}"
        marked = f", {HIGHLIGHT}" if key in self.marked_pairs else ""
        extra = f", {attrs}" if attrs else ""
        self.lines.append(f"{indent}{q(a)} -> {q(b)} [id={q(f'{a}->{b}')}{extra}{marked}];")

    def extra_edges(self) -> None:
        """Highlighted edges the picture does not draw: drawn now, in red, without moving anything."""
        done: set[frozenset[str]] = set()
        for a, b in self.marked_edges:
            key = frozenset((a, b))
            if key in self.edges or key in done or not {a, b} <= self.ids | set(self.anchor):
                continue
            done.add(key)
            attrs = [f"id={q(f'{a}->{b}')}", "constraint=false", HIGHLIGHT]
            ends = []
            for end, side in ((a, "ltail"), (b, "lhead")):
                if end in self.anchor:       # a node's box: from a device inside it, clipped at the box
                    inner, cluster = self.anchor[end]
                    attrs.append(f"{side}={q(cluster)}")
                    end = inner
                ends.append(end)
            self.lines.append(f"  {q(ends[0])} -> {q(ends[1])} [{', '.join(attrs)}];")


def dot(cluster: Cluster, highlight: Iterable[str] = ()) -> str:
    """The cluster as a DOT digraph (see the module's docstring for ids and highlighting)."""
    c = cluster
    g = _Graph(highlight)
    w = g.lines.append
    w(f"digraph {q('netlab ' + c.name)} {{")
    title = f"netlab lab {c.name}: pod network {c.cluster_cidr}, service network {c.service_cidr}"
    w(f"  graph [id={q('lab:' + c.name)}, label={q(title)}, labelloc=t, fontname=\"Helvetica\", fontsize=16, "
      "compound=true, newrank=true, nodesep=0.25, ranksep=0.45];")
    w('  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica", fontsize=10];')
    w('  edge [fontname="Helvetica", fontsize=9, arrowsize=0.7];')

    plen = ip_network(c.underlay_cidr).prefixlen
    pods_by_ip: dict[str, str] = {}
    for i, n in enumerate(c.nodes):
        cluster_name = f"cluster_node_{i}"
        nid = node_id(n.name)
        g.ids.add(nid)
        g.anchor[nid] = (dev_id(n.name, "eth0"), cluster_name)
        w(f"  subgraph {q(cluster_name)} {{")
        w(f"    graph [id={q(nid)}, label={q(f'{n.name}  {n.ip}  pods {n.pod_cidr}')}, style=rounded, "
          f'color="#555555", bgcolor="#f7f7f7", fontsize=12{g.mark(nid)}];')
        eth0, docker0, vtep = dev_id(n.name, "eth0"), dev_id(n.name, cni.BRIDGE), dev_id(n.name, VTEP)
        pods = sorted(c.pods_on(n.name), key=lambda p: (p.namespace, p.name))
        if pods:
            w(f"    subgraph {q(f'cluster_node_{i}_pods')} {{")
            w('      graph [label="", style=invis];')
            for p in pods:
                pid = pod_id(p.namespace, p.name)
                pods_by_ip[p.ip] = pid
                name = p.name if p.namespace == "default" else f"{p.namespace}/{p.name}"
                g.node("      ", pid, f"{name}\n{p.ip}",
                       f'fillcolor="#e8f1fb", tooltip={q(f"eth0 {p.ip}, veth {cni.host_veth(p)} on docker0")}'
                       + ("" if p.ready else ', style="rounded,filled,dashed"'))
            w("    }")
        g.node("    ", docker0, f"{cni.BRIDGE}  {cni.bridge_address(n)}\nbridge, MTU {cni.MTU}",
               'fillcolor="#fff3d6"')
        g.node("    ", vtep, f"{VTEP}  {n.vtep_ip}/32\nVTEP {vtep_mac(c.name, n.name)}\nVXLAN, MTU {cni.MTU}",
               'fillcolor="#fde0dd"')
        g.node("    ", eth0, f"eth0  {n.ip}/{plen}\nMTU {UNDERLAY_MTU}", 'fillcolor="#e5f5e0"')
        for p in pods:
            g.edge("    ", pod_id(p.namespace, p.name), docker0, 'dir=none, color="#4a78b0"')
        g.edge("    ", docker0, vtep, f"dir=none, style=dotted, label={q(c.cluster_cidr)}")
        g.edge("    ", vtep, eth0, f"dir=none, style=dotted, label={q(f'UDP {VXLAN_PORT}')}")
        w("  }")

    w("  subgraph \"cluster_underlay\" {")
    w('    graph [label="", style=invis];')
    g.node("    ", UNDERLAY, f"underlay  {c.underlay_cidr}\nL2 segment, router {c.router}",
           'shape=box, style="filled", fillcolor="#d9ead3", width=6')
    w("  }")
    hosts = [("router", c.router)] + [(h.name, h.ip) for h in c.hosts]
    hosts_by_ip: dict[str, str] = {}
    for name, ip in hosts:
        hosts_by_ip.setdefault(ip, host_id(name))
        g.node("  ", host_id(name), f"{name}\n{ip}/{plen}", 'shape=box3d, style=filled, fillcolor="#eeeeee"')
    for n in c.nodes:       # (a node's address is an endpoint too: the API server's, default/kubernetes)
        hosts_by_ip.setdefault(n.ip, dev_id(n.name, "eth0"))
        g.edge("  ", dev_id(n.name, "eth0"), UNDERLAY, 'dir=none, penwidth=2, color="#38761d"')
    for name, _ in hosts:
        g.edge("  ", UNDERLAY, host_id(name), 'dir=none, penwidth=2, color="#38761d"')

    if len(c.nodes) > 1:     # the nodes left to right in the cluster's order: eth0s on one rank, in line
        eths = [q(dev_id(n.name, "eth0")) for n in c.nodes]
        w(f"  {{rank=same; {'; '.join(eths)}; {' -> '.join(eths)} [style=invis]}}")
    vteps = [dev_id(n.name, VTEP) for n in c.nodes]
    tunnel = f"VXLAN VNI {VNI}, UDP {VXLAN_PORT}"
    for i, left in enumerate(vteps):
        for right in vteps[i + 1:]:
            g.edge("  ", left, right, f'dir=both, style="bold,dashed", color="#c0392b", fontcolor="#c0392b", '
                               f"constraint=false, label={q(tunnel)}")

    services = sorted(c.services, key=lambda s: (s.namespace, s.name))
    endpoints = {(e.namespace, e.name): e for e in c.endpoints}
    if services:
        w("  subgraph \"cluster_services\" {")
        w('    graph [id="services", label="Services: kube-proxy iptables rules, no device", style="rounded,dashed", '
          'color="#888888", fontsize=11];')
        for s in services:
            if s.type == "ExternalName":
                addr = f"ExternalName {s.external_name}"
            elif s.cluster_ip in (None, "None"):
                addr = "ClusterIP None (headless)"
            else:
                addr = f"{s.cluster_ip}:{s.ports[0].port}" if len(s.ports) == 1 else str(s.cluster_ip)
            lines = [f"{s.namespace}/{s.name}", f"{s.type}  {addr}"] + _ports(s)
            e = endpoints.get((s.namespace, s.name))
            if s.type != "ExternalName" and not (e and e.addresses):
                lines.append("no endpoints")
            g.node("    ", svc_id(s.namespace, s.name), "\n".join(lines),
                   'style="rounded,dashed", fillcolor=white, color="#777777"')
        w("  }")
    others: dict[str, str] = {}
    for s in services:
        e = endpoints.get((s.namespace, s.name))
        if not e or s.type == "ExternalName":
            continue
        ports = ",".join(str(port) for port in sorted({p.port for p in e.ports}))
        for a in e.addresses:
            target = (pod_id(s.namespace, a.pod) if a.pod and pod_id(s.namespace, a.pod) in g.ids
                      else pods_by_ip.get(a.ip) or hosts_by_ip.get(a.ip))
            if target is None:          # an address outside every box: drawn once, as itself
                target = others.setdefault(a.ip, f"addr:{a.ip}")
                if target not in g.ids:
                    g.node("  ", target, a.ip, 'shape=plaintext, style=""')
            style = 'style=dashed, color="#777777"' if a.ready else 'style=dotted, color="#bbbbbb"'
            label = f":{ports}" + ("" if a.ready else " not ready")
            # to a host below the underlay: not a rank constraint, or the Services sink to the bottom
            below = "" if target in pods_by_ip.values() else ", constraint=false"
            g.edge("  ", svc_id(s.namespace, s.name), target, f"{style}, label={q(label)}{below}")
    g.extra_edges()
    w("}")
    return "\n".join(g.lines) + "\n"


def render(dot_text: str, fmt: str) -> bytes:
    """dot_text drawn by Graphviz's dot (svg, png, ...): one line of error if it cannot be."""
    try:
        r = subprocess.run(["dot", f"-T{fmt}"], input=dot_text.encode(), capture_output=True, timeout=60)
    except FileNotFoundError:
        raise NetlabError("graph: Graphviz's dot is not installed (apt-get install graphviz; "
                          "scripts/install.sh installs it)") from None
    except subprocess.TimeoutExpired:
        raise NetlabError(f"graph: dot -T{fmt} took more than 60 s") from None
    if r.returncode != 0 or not r.stdout:
        why = next((line for line in r.stderr.decode(errors="replace").splitlines() if line.strip()),
                   f"exit status {r.returncode}")
        raise NetlabError(f"graph: dot -T{fmt} failed: {why}")
    return r.stdout
