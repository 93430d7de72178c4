"""A trace put together: the kernel's evidence (netlab.trace.tracer) in the order the
request met it, as numbered hops (the walk-through's steps), and where it died if it did."""
from __future__ import annotations

import threading
import time
from ipaddress import ip_address, ip_network

from netlab import layout
from netlab.cni.bridge import host_veth
from netlab.model.objects import Cluster, Pod
from netlab.trace import tracer as kern
from netlab.trace import walk as walker
from netlab.trace.target import Destination, Source
from netlab.trace.tracer import Evidence, Hop, Trace

VXLAN_PORT = 8472


def _pod_at(c: Cluster, ip: str) -> Pod | None:
    return next((p for p in c.pods if p.ip == ip), None)


def _node_of(c: Cluster, ip: str) -> str | None:
    """The node whose pod subnet holds ip."""
    for n in c.nodes:
        if ip_address(ip) in ip_network(n.pod_cidr):
            return n.name
    return None


def _delta(before: dict, after: dict, step: walker.Step, table: str) -> int:
    b = before.get(table, {}).get(step.chain, [])
    a = after.get(table, {}).get(step.chain, [])
    i = step.number - 1
    return (a[i] if i < len(a) else 0) - (b[i] if i < len(b) else 0)


def _rule_evidence(steps: list[walker.Step], table: str, before: dict, after: dict) -> list[Evidence]:
    out = []
    for s in steps:
        d = _delta(before, after, s, table)
        seen = f"+{d} packets" if d >= 0 else "counters reset: the chain was rewritten meanwhile"
        out.append(Evidence("rule", f"{table} {s.chain} rule {s.number} ({seen}): {s.rule}",
                            {"table": table, "chain": s.chain, "number": s.number, "rule": s.rule,
                             "target": s.target, "packets": d}))
    return out


def _frames(frames, label: str, want) -> list[Evidence]:
    from scapy.layers.l2 import Ether
    from netlab.probe import decode
    out = []
    for where, when, data in frames:
        if where != label:
            continue
        pkt = Ether(data)
        pkt.time = when
        if not want(pkt):
            continue
        info = decode.vxlan_info(pkt)
        item: dict = {"interface": label, "summary": decode.describe(pkt)}
        if info:
            item.update({"outer": f"{info.outer_src} -> {info.outer_dst}", "udp": f"{info.sport} -> {info.dport}",
                         "vni": info.vni, "inner": f"{info.inner_src} -> {info.inner_dst} {info.inner_proto}"})
        out.append(Evidence("packet", f"captured on {label}: {item['summary']}", item))
        if len(out) >= 2:
            break
    return out


def _flow_filter(src_ips: set[str], dst_ips: set[str], port: int, protocol: str, sport: int = 0):
    """Frames of the traced flow (inside VXLAN too): its addresses, destination port and, when
    known, source port (other traffic crosses the same interfaces: probes, DNS, ...)."""
    from scapy.layers.inet import IP, TCP, UDP

    def inner_ip(pkt):
        from netlab.probe import decode
        vx = decode.vxlan_layer(pkt)
        base = vx.payload if vx is not None else pkt
        return base[IP] if IP in base else None

    def want(pkt) -> bool:
        ip = inner_ip(pkt)
        if ip is None or ip.src not in src_ips or ip.dst not in dst_ips:
            return False
        if protocol == "tcp":
            return TCP in ip and ip[TCP].dport == port and (not sport or ip[TCP].sport == sport)
        if protocol == "udp":
            return UDP in ip and ip[UDP].dport == port and (not sport or ip[UDP].sport == sport)
        return ip.proto == 1
    return want


def _preload() -> None:
    """The libraries the evidence needs (python-iptables, scapy's layers, pyroute2: about half a
    second of imports), loaded while the request's first steps wait on the kernel and the DNS."""
    import iptc  # noqa: F401
    import pyroute2  # noqa: F401
    from netlab.probe import decode  # noqa: F401


def trace(c: Cluster, src: Source, dst: Destination) -> Trace:
    t0 = time.monotonic()
    loading = threading.Thread(target=_preload, daemon=True)
    loading.start()
    result = Trace(src, dst)
    hops = result.hops
    nodes = [n.name for n in c.nodes]
    node_ns = {n: layout.node_ns(c.name, n) for n in nodes}
    candidates = _candidates(c, dst)
    dns_pod = next((p for p in c.pods if p.labels.get("k8s-app") == "kube-dns"), None)
    where = [(src.netns, "eth0", f"{src.label}:eth0")] + [(node_ns[n], "eth0", f"{n}:eth0") for n in nodes]
    where += [(layout.pod_ns(c.name, p), "eth0", f"{p.namespace}/{p.name}:eth0") for p in candidates]
    if dst.kind == "service" and dns_pod is not None:
        where.append((layout.pod_ns(c.name, dns_pod), "eth0", "dns:eth0"))
    caps = kern.Captures(where)
    # 1. the name, through the source's own resolver
    ip = dst.ip
    if dst.kind == "service":
        ip, answer = kern.resolve(src.netns, dst.dns_name or "")
        said = answer.splitlines()[0] if answer else "no answer"
        hop = Hop(src.label, f"resolves {dst.dns_name} with the cluster DNS ({', '.join(_nameservers(c, src))})",
                  [Evidence("dns", f"getent ahostsv4 {dst.dns_name}: {said}", {"name": dst.dns_name, "address": ip})])
        hops.append(hop)
        if ip is None:
            hop.ok = False
            return _died(result, len(hops) - 1, "the name did not resolve", t0)
    assert ip is not None
    saved = dict(zip(nodes, kern.in_parallel(lambda ns: kern.saved(ns, c.iptables_backend),
                                             [node_ns[n] for n in nodes])))
    loading.join()
    first = src.node if src.kind in ("pod", "node") else _receiving_node(c, ip)
    wanted = {n: _wanted(c, saved[n], n == first, src, dst, ip) for n in nodes}

    def read_counters(n: str) -> dict:
        return kern.counters(node_ns[n], wanted[n], c.iptables_backend)
    before = dict(zip(nodes, kern.in_parallel(read_counters, nodes)))
    sport, outcome, answer = kern.request(src.netns, dst, ip)
    after = dict(zip(nodes, kern.in_parallel(read_counters, nodes)))
    frames = caps.read()
    result.result = outcome
    if dst.kind == "service" and dns_pod is not None:
        # the source's queries, masqueraded or not (the seed's kube-proxy masquerades pods' traffic to
        # ClusterIPs), for the name it asked (with the search list's suffixes)
        clients = {src.ip} | (set(kern.node_addresses(c, src.node)) if src.node else set())
        hops[0].evidence += _dns_frames(frames, clients, dst.dns_name or "")
    # 2. out of the source
    route = kern.route_get(src.netns, ip)
    leave = Hop(src.label, _leaves(c, src, route), [Evidence("route", _route_text(route), route)])
    leave.evidence += _frames(frames, f"{src.label}:eth0", _flow_filter({src.ip}, {ip}, dst.port, dst.protocol, sport))
    hops.append(leave)
    result.path.append(_graph_id(c, src))
    if first is None:
        leave.ok = outcome == "answered"
        result.seconds = time.monotonic() - t0
        return result if outcome == "answered" else _died(result, len(hops) - 1, f"no node took it ({outcome})", t0)
    endpoint = _hop_through_node(c, result, first, src, dst, ip, sport, before, after, saved)
    if result.died is not None:
        result.seconds = time.monotonic() - t0
        return result
    target_ip = endpoint.split(":")[0] if endpoint else ip
    # 4. across the overlay, when the endpoint's node is another
    last = _node_of(c, target_ip)
    if last and last != first:
        _overlay(c, result, first, last, target_ip, frames, src, dst, before, after, saved, sport)
        if result.died is not None:
            result.seconds = time.monotonic() - t0
            return result
    # 5. at the destination
    pod = _pod_at(c, target_ip)
    at = target_ip if dst.protocol == "icmp" else f"{target_ip}:{endpoint.split(':')[1] if endpoint else dst.port}"
    arrive = Hop(f"{pod.namespace}/{pod.name}" if pod else target_ip, f"arrives at {at}", [])
    if pod:
        if result.path and result.path[-1].startswith("dev:") and not result.path[-1].endswith(":docker0"):
            result.path.append(f"dev:{_node_of(c, target_ip)}:docker0")
        seen_from = _translated_source(result) or src.ip
        arrive.evidence += _frames(frames, f"{pod.namespace}/{pod.name}:eth0",
                                   _flow_filter({seen_from}, {target_ip}, int(endpoint.split(":")[1]) if endpoint
                                                else dst.port, dst.protocol, sport=_translated_sport(result, sport)))
        result.path.append(f"pod:{pod.namespace}/{pod.name}")
    first_line = answer.splitlines()[0] if answer else ""
    arrive.evidence.append(Evidence("answer", f"{outcome}: {first_line}" if first_line else outcome,
                                    {"outcome": outcome, "answer": answer[:2000]}))
    hops.append(arrive)
    if outcome != "answered":
        arrive.ok = False
        return _died(result, len(hops) - 1, f"the destination {outcome}", t0)
    result.seconds = time.monotonic() - t0
    return result


def _wanted(c: Cluster, saved: str, first: bool, src: Source, dst: Destination, ip: str) -> dict:
    """The chains whose counters a node's evidence may show: on the first node the nat chains
    the request may visit (not every Service's) and its filter table; on the others, filter."""
    if not first:
        return {"filter": None}
    nat = walker.chains(saved, "nat")
    packet = walker.Packet(src.ip, ip, dst.protocol, dst.port, in_dev="eth0" if src.kind == "host" else "docker0",
                           local=kern.node_addresses(c, src.node) if src.node else
                           kern.node_addresses(c, _receiving_node(c, ip) or c.nodes[0].name))
    chains: set[str] = set()
    for start in ("PREROUTING", "OUTPUT", "POSTROUTING"):
        walker.candidates(nat, start, packet, chains)
    return {"nat": chains, "filter": None}


def _died(result: Trace, hop: int, reason: str, t0: float) -> Trace:
    result.died, result.reason = hop, reason
    result.hops[hop].ok = False
    result.seconds = time.monotonic() - t0
    return result


def _nameservers(c: Cluster, src: Source) -> list[str]:
    from netlab.kernel import netns
    try:
        text = open(f"{netns.ETC}/{src.netns}/resolv.conf").read()
    except OSError:
        return ["?"]
    return [line.split()[1] for line in text.splitlines() if line.startswith("nameserver")] or ["?"]


def _dns_frames(frames, clients: set[str], name: str) -> list[Evidence]:
    """The source's own queries and their answers, as the DNS pod saw them."""
    from scapy.layers.dns import DNS
    from scapy.layers.inet import IP
    from scapy.layers.l2 import Ether
    out = []
    for where, _, data in frames:
        if where != "dns:eth0":
            continue
        pkt = Ether(data)
        if DNS not in pkt or not pkt[DNS].qd or IP not in pkt or not clients & {pkt[IP].src, pkt[IP].dst}:
            continue
        d = pkt[DNS]
        try:
            asked = d.qd[0].qname.decode()
        except (AttributeError, IndexError, UnicodeDecodeError):      # not a query scapy could read
            continue
        if not asked.startswith(name.rstrip(".") + "."):
            continue
        if d.qr == 0:
            out.append(Evidence("dns", f"query at the DNS pod: {asked} {('A', 'AAAA')[d.qd[0].qtype == 28]}",
                                {"query": asked}))
        else:
            answers = [str(d.an[i].rdata) for i in range(d.ancount)] if d.ancount else []
            rcode = {0: "NOERROR", 3: "NXDOMAIN"}.get(d.rcode, str(d.rcode))
            out.append(Evidence("dns", f"answer from the DNS pod: {asked} {rcode} {' '.join(answers)}".rstrip(),
                                {"answer": asked, "rcode": rcode, "addresses": answers}))
    return out[:12]


def _candidates(c: Cluster, dst: Destination) -> list[Pod]:
    """Pods the request may end at: the pod itself, or every endpoint of a Service it names."""
    if dst.kind == "pod":
        return [p for p in c.pods if p.ip == dst.ip]
    ips = {a.ip for e in c.endpoints for a in e.addresses}
    return [p for p in c.pods if p.ip in ips]


def _receiving_node(c: Cluster, ip: str) -> str | None:
    return next((n.name for n in c.nodes if ip in kern.node_addresses(c, n.name)), None)


def _leaves(c: Cluster, src: Source, route: dict) -> str:
    if "error" in route:
        return f"has no route: {route['error']}"
    via = f" via {route['via']}" if route.get("via") else ""
    if src.kind == "pod":
        pod = next(p for p in c.pods if f"{p.namespace}/{p.name}" == src.label)
        return (f"leaves by eth0{via} (its veth; the node's end {host_veth(pod)} is a port of "
                f"{src.node}'s docker0)")
    return f"leaves by {route.get('dev')}{via}"


def _route_text(route: dict) -> str:
    if "error" in route:
        return f"ip route get: {route['error']}"
    parts = [route["dst"]] + ([f"via {route['via']}"] if route.get("via") else []) + [f"dev {route['dev']}"]
    if route.get("src"):
        parts.append(f"src {route['src']}")
    return "ip route get: " + " ".join(parts)


def _graph_id(c: Cluster, src: Source) -> str:
    return f"pod:{src.label}" if src.kind == "pod" else (f"node:{src.label}" if src.kind == "node"
                                                         else f"host:{src.label}")


def _hop_through_node(c, result: Trace, node: str, src: Source, dst: Destination, ip: str, sport: int,
                      before, after, saved) -> str | None:
    """3. the first node: kube-proxy's nat rules (DNAT), conntrack, the filter verdict, the route."""
    ns = kern.node_ns(c, node)
    local = kern.node_addresses(c, node)
    in_dev = "eth0" if src.kind == "host" else "docker0"
    entries = kern.conntrack_of(ns, src.ip, sport, dst.protocol)
    entry = entries[0] if entries else None
    endpoint = entry["reply_src"] if entry and entry["reply_src"].split(":")[0] != ip else None
    nat = walker.chains(saved[node], "nat")
    packet = walker.Packet(src.ip, ip, dst.protocol, dst.port, in_dev=in_dev, local=local)
    chain = "OUTPUT" if src.kind == "node" else "PREROUTING"
    pre = walker.walk(nat, chain, packet, chosen=endpoint)
    hop = Hop(node, "", [])
    # the picture's path (netlab.graph ids): in by docker0 from a pod, by eth0 from outside
    if src.kind == "host":
        result.path += ["underlay", f"dev:{node}:eth0"]
    elif src.kind == "pod":
        result.path.append(f"dev:{node}:docker0")
    else:
        result.path.append(f"node:{node}")
    svc_id = dst.service or _service_of(c, ip, dst.port)
    if svc_id:
        result.marks.append(f"svc:{svc_id}")
    hop.evidence += _rule_evidence(pre.steps, "nat", before[node], after[node])
    if c.proxy_mode == "nftables":
        hop.evidence += _nft_evidence(c, node, ns, ip, dst, endpoint, local)
    if entry:
        hop.evidence.append(Evidence("conntrack", f"conntrack: {entry['original']}  reply {entry['reply']}", entry))
    to = endpoint.split(":")[0] if endpoint else (pre.dnat.split(":")[0] if pre.dnat else ip)
    route = kern.route_get(ns, to)
    hop.evidence.append(Evidence("route", _route_text(route), route))
    routed = walker.Packet(src.ip, to, dst.protocol, int(endpoint.split(":")[1]) if endpoint else dst.port,
                      in_dev=in_dev, out_dev=route.get("dev") or "", local=local, mark=packet.mark,
                      sets=kern.ipsets_of(ns))
    filt = walker.chains(saved[node], "filter")
    verdict = walker.walk(filt, "FORWARD" if to not in local else "INPUT", routed)
    blocked = [s for s in verdict.steps if s.target in ("DROP", "REJECT")]
    hop.evidence += _rule_evidence([s for s in verdict.steps if s.target in ("DROP", "REJECT") or
                                    s.chain.startswith("cali-") and "comment" in s.rule][:6], "filter",
                                   before[node], after[node])
    post = walker.walk(nat, "POSTROUTING", routed)
    masq = [s for s in post.steps if s.target in ("MASQUERADE", "SNAT") and _delta(before[node], after[node], s, "nat")]
    post.masquerade = bool(masq)
    hop.evidence += _rule_evidence(masq, "nat", before[node], after[node])
    svc = dst.service or _service_of(c, ip, dst.port)
    hop.what = _node_sentence(node, dst, ip, endpoint, route, pre, post, svc)
    result.hops.append(hop)
    if blocked and result.result != "answered":
        _died_at(result, _blocked_reason(c, filt, blocked[-1]))
    elif "error" in route:
        _died_at(result, f"no route on {node} to {to}")
    return endpoint


def _nft_evidence(c, node: str, ns: str, ip: str, dst: Destination, endpoint: str | None, local) -> list[Evidence]:
    """The nftables proxier's chains the request went through, each rule as the kernel lists it."""
    from netlab.kube_proxy import flavours
    from netlab.trace import nft_path
    steps = nft_path.path(flavours.desired(c)[node].nft, ip, dst.protocol, dst.port, endpoint, set(local))
    out = []
    for chain, rule in steps:
        listed = kern.nft_chain(ns, chain)
        written, _, element = rule.partition("  (")
        probe = written.split(" vmap ")[0]
        line = next((x.strip() for x in listed.splitlines() if x.strip().startswith(probe)), None)
        shown = f"{line}  ({element}" if line and element else line
        text = f"nft {chain}: {shown}" if line else f"nft {chain}: {rule} (not in the kernel's table!)"
        out.append(Evidence("rule", text, {"table": "ip kube-proxy", "chain": chain, "rule": line or rule,
                                           "in_kernel": line is not None}))
    return out


def _died_at(result: Trace, reason: str) -> None:
    result.died, result.reason = len(result.hops) - 1, reason
    result.hops[-1].ok = False


def _blocked_reason(c: Cluster, rules: dict[str, list[str]], rule: walker.Step) -> str:
    """Where a packet was dropped; for NetworkPolicy, which policies isolate the pod and admitted none."""
    where = f"{rule.target} in {rule.chain} rule {rule.number} ({_comment(rule.rule)})"
    if not rule.chain.startswith("cali-"):
        return f"kube-proxy: {where}" if rule.chain.startswith("KUBE-") else f"iptables: {where}"
    from netlab.policy import names
    by_chain = {names.policy_chain(p, d): f"{p.namespace}/{p.name}" for p in c.network_policies
                for d in ("Ingress", "Egress")}
    consulted = [by_chain[w] for line in rules.get(rule.chain, []) for w in line.split() if w in by_chain]
    side = "ingress" if rule.chain.startswith("cali-tw-") else "egress"
    listed = ", ".join(dict.fromkeys(consulted)) or "none"
    return f"NetworkPolicy: {side} of the pod is isolated by {listed}, and no rule of theirs admits it ({where})"


def _comment(rule: str) -> str:
    import shlex
    words = shlex.split(rule)
    return words[words.index("--comment") + 1] if "--comment" in words else rule


def _service_of(c: Cluster, ip: str, port: int) -> str | None:
    for s in c.services:
        if s.cluster_ip == ip or any(p.node_port == port for p in s.ports):
            return f"{s.namespace}/{s.name}"
    return None


def _node_sentence(node, dst, ip, endpoint, route, pre: walker.Walk, post: walker.Walk, svc) -> str:
    parts = []
    if endpoint:
        svc_rule = next((s for s in pre.steps if s.chain.startswith("KUBE-SVC-")), None)
        prob = ""
        if svc_rule and "--probability" in svc_rule.rule:
            prob = f", probability {svc_rule.rule.split('--probability ')[1].split()[0]}"
        which = f" (rule {svc_rule.number}{prob})" if svc_rule else ""
        parts.append(f"kube-proxy's rules send {ip}:{dst.port}{' (' + svc + ')' if svc else ''} to {endpoint}{which}")
    else:
        parts.append(f"no DNAT: {ip}:{dst.port} goes on as it is")
    if post.masquerade:
        parts.append("masqueraded")
    if "error" not in route:
        parts.append(f"routed out of {route.get('dev')}" + (f" via {route['via']}" if route.get("via") else ""))
    return f"{node}: " + "; ".join(parts)


def _overlay(c, result: Trace, first: str, last: str, target_ip: str, frames, src, dst, before, after, saved,
             sport: int):
    """4. flannel.1: the neighbour and FDB entries used, the VXLAN packet on both nodes' eth0."""
    ns1, ns2 = kern.node_ns(c, first), kern.node_ns(c, last)
    route = kern.route_get(ns1, target_ip)
    hop_ip = route.get("via") or target_ip
    neigh = kern.ip_text(ns1, "neigh", "show", hop_ip, "dev", "flannel.1")
    mac = neigh.split("lladdr ")[1].split()[0] if "lladdr " in neigh else ""
    fdb = "\n".join(line for line in kern.bridge_text(ns1, "fdb", "show", "dev", "flannel.1").splitlines()
                    if not mac or line.startswith(mac))
    n1, n2 = c.node(first), c.node(last)
    hop = Hop(f"{first} -> {last}", f"flannel.1 wraps it in VXLAN: {n1.ip} -> {n2.ip} UDP {VXLAN_PORT}, VNI 1", [
        Evidence("neigh", f"ip neigh show {hop_ip} dev flannel.1: {neigh or 'none (an ARP miss)'}", {"entry": neigh}),
        Evidence("fdb", f"bridge fdb show dev flannel.1: {fdb or 'none'}", {"entry": fdb})])
    vx = _flow_filter({_translated_source(result) or src.ip}, {target_ip}, _endpoint_port(result, dst), dst.protocol,
                      _translated_sport(result, sport))
    hop.evidence += _frames(frames, f"{first}:eth0", vx)
    hop.evidence += _frames(frames, f"{last}:eth0", vx)
    result.hops.append(hop)
    result.path += [f"dev:{first}:flannel.1", f"dev:{first}:eth0", "underlay", f"dev:{last}:eth0",
                    f"dev:{last}:flannel.1", f"dev:{last}:docker0"]
    if not mac:
        _died_at(result, f"no flannel.1 neighbour for {hop_ip} on {first}")
        return
    # the second node: its filter verdict (NetworkPolicy) and route into docker0
    local = kern.node_addresses(c, last)
    route2 = kern.route_get(ns2, target_ip)
    packet = walker.Packet(src.ip if not _masqueraded(result) else n1.vtep_ip, target_ip, dst.protocol,
                      _endpoint_port(result, dst), in_dev="flannel.1", out_dev=route2.get("dev") or "", local=local,
                      sets=kern.ipsets_of(ns2))
    filt = walker.chains(saved[last], "filter")
    verdict = walker.walk(filt, "FORWARD", packet)
    blocked = [s for s in verdict.steps if s.target in ("DROP", "REJECT")]
    second = Hop(last, f"{last}: out of docker0 to {target_ip}", [Evidence("route", _route_text(route2), route2)])
    second.evidence += _rule_evidence(blocked, "filter", before[last], after[last])
    result.hops.append(second)
    if blocked and result.result != "answered":
        _died_at(result, _blocked_reason(c, filt, blocked[-1]))


def _conntrack(result: Trace) -> dict | None:
    return next((e.data for h in result.hops for e in h.evidence if e.kind == "conntrack"), None)


def _translated_source(result: Trace) -> str | None:
    """The address the destination sees the request from: the reply's destination in conntrack."""
    entry = _conntrack(result)
    return entry["reply_dst"] if entry else None


def _translated_sport(result: Trace, sport: int) -> int:
    entry = _conntrack(result)
    port = entry["reply"].split(" -> ")[1].partition(":")[2] if entry else ""
    return int(port) if port.isdigit() else sport


def _masqueraded(result: Trace) -> bool:
    return any(e.kind == "rule" and e.data.get("target") == "MASQUERADE" for h in result.hops for e in h.evidence)


def _endpoint_port(result: Trace, dst: Destination) -> int:
    for h in result.hops:
        for e in h.evidence:
            if e.kind == "conntrack" and e.data.get("reply_src", "").partition(":")[2].isdigit():
                return int(e.data["reply_src"].split(":")[1])
    return dst.port


