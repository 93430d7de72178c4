"""`netlab trace`: one real request, and the kernel's own evidence of every hop it took.

Before the request: every node's packet counters (python-iptables), raw packet sockets on
the interfaces the request may cross (the source's eth0, each node's eth0, the candidate
destination pods' eth0, the DNS pod's), opened inside their namespaces. Then the source
resolves the name as its pod would (getent through its own resolv.conf) and opens a real
connection (an HTTP GET over TCP, a datagram over UDP, an echo request for ICMP). After:
the counters again, the conntrack entries of the flow (original and translated tuples),
the captured frames (VXLAN decoded), the nodes' routing decisions through netlink and the
flannel.1 neighbour and FDB entries used. The rules the packet met are walked from the
nodes' iptables-save text (netlab.trace.walk), the random choice taken from conntrack, and
each shown with its counter's change.
"""
from __future__ import annotations

import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from netlab import layout
from netlab.errors import NetlabError
from netlab.kernel import netns
from netlab.model.objects import Cluster
from netlab.trace.target import Destination, Source

ETH_P_ALL = 0x0003
ANSWER_WAIT = 2.0


@dataclass
class Evidence:
    kind: str             # dns | route | rule | conntrack | neigh | fdb | packet | answer | note
    text: str
    data: dict = field(default_factory=dict)


@dataclass
class Hop:
    where: str            # node1, node2, default/pod, client, ...
    what: str             # one line, as the walk-through would say it
    evidence: list[Evidence] = field(default_factory=list)
    ok: bool = True


@dataclass
class Trace:
    source: Source
    destination: Destination
    hops: list[Hop] = field(default_factory=list)
    result: str = ""              # answered | refused | timed out | rejected | dropped | no answer
    died: int | None = None       # the hop where the request died (index into hops)
    reason: str = ""
    seconds: float = 0.0
    path: list[str] = field(default_factory=list)     # netlab.graph ids the request went through, in order
    marks: list[str] = field(default_factory=list)    # others it met (the Service)


# ---- kernel reads, each inside its namespace -----------------------------------------

_IPTC = threading.Lock()     # libiptc (python-iptables) is not thread-safe: one table read at a time


def _counters(wanted: dict[str, set[str] | None]) -> dict[str, dict[str, list[int]]]:
    import iptc
    out: dict[str, dict[str, list[int]]] = {}
    with _IPTC:
        for name, chains in wanted.items():
            t = iptc.Table(name)
            t.refresh()
            out[name] = {ch.name: [r.get_counters()[0] for r in ch.rules] for ch in t.chains
                         if chains is None or ch.name in chains}
    return out


def counters(ns: str, wanted: dict[str, set[str] | None], backend: str = "legacy") -> dict[str, dict[str, list[int]]]:
    """(table -> chain -> packets per rule) of a node's chains `wanted` (table -> chain names,
    None: all), through python-iptables (legacy), or iptables-nft-save -c (nft)."""
    if backend == "nft":
        return saved_counters(saved(ns, backend, with_counters=True), wanted)
    return netns.run_in(ns, _counters, wanted)


def saved_counters(text: str, wanted: dict[str, set[str] | None]) -> dict[str, dict[str, list[int]]]:
    """counters() from `iptables-save -c` text ("[packets:bytes] -A CHAIN ..." lines)."""
    out: dict[str, dict[str, list[int]]] = {}
    table = None
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith("[") and table in wanted:
            count, _, rule = line.partition("] ")
            chain = rule.split()[1]
            chains = wanted[table]
            if chains is None or chain in chains:
                out.setdefault(table, {}).setdefault(chain, []).append(int(count[1:].split(":")[0]))
    return out


def saved(ns: str, backend: str = "legacy", with_counters: bool = False) -> str:
    from netlab.kernel import iptables
    return iptables.run_in(ns, [f"iptables-{backend}-save"] + (["-c"] if with_counters else []))


def nft_chain(ns: str, chain: str) -> str:
    """`nft list chain ip kube-proxy CHAIN` in a node, or "" if it is not there."""
    from netlab.kernel import iptables
    try:
        return iptables.run_in(ns, ["nft", "list", "chain", "ip", "kube-proxy", chain])
    except NetlabError:
        return ""


def ipsets_of(ns: str) -> dict[str, list[str]]:
    from netlab.kernel import ipset
    try:
        text = ipset.REAL.save(ns)
    except NetlabError:
        return {}
    sets: dict[str, list[str]] = {}
    for line in text.splitlines():
        words = line.split(" ", 2)
        if words[0] == "create":
            sets[words[1]] = []
        elif words[0] == "add" and len(words) == 3:
            sets.setdefault(words[1], []).append(words[2])
    return sets


def _route_get(dst: str, src: str | None = None) -> dict:
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        try:
            msg = ipr.route("get", dst=dst)[0]
        except Exception as e:      # noqa: BLE001 - no route is an answer: where the request died
            return {"error": str(e)}
        attrs = dict(msg["attrs"])
        dev = ipr.get_links(attrs["RTA_OIF"])[0].get_attr("IFLA_IFNAME") if "RTA_OIF" in attrs else None
        return {"dst": dst, "via": attrs.get("RTA_GATEWAY"), "dev": dev, "src": attrs.get("RTA_PREFSRC"),
                "onlink": bool(msg["flags"] & 4)}


def route_get(ns: str, dst: str) -> dict:
    """The kernel's routing decision for dst in namespace ns (`ip route get`, through netlink)."""
    return netns.run_in(ns, _route_get, dst)


def ip_text(ns: str, *args: str) -> str:
    r = subprocess.run(["ip", "-n", ns, *args], capture_output=True, text=True)
    return r.stdout.strip()


def bridge_text(ns: str, *args: str) -> str:
    r = subprocess.run(["bridge", "-n", ns, *args], capture_output=True, text=True)
    return r.stdout.strip()


def _conntrack_of(src: str, sport: int, proto: int) -> list[dict]:
    from pyroute2 import Conntrack
    from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple
    out = []
    ct = Conntrack()
    try:
        for e in ct.dump_entries(tuple_orig=NFCTAttrTuple(proto=proto, saddr=src)):
            o, r = e.tuple_orig, e.tuple_reply
            if sport and o.sport != sport:
                continue
            def at(ip, port):
                return f"{ip}:{port}" if port is not None else ip       # ICMP has no ports
            out.append({"original": f"{at(o.saddr, o.sport)} -> {at(o.daddr, o.dport)}",
                        "reply": f"{at(r.saddr, r.sport)} -> {at(r.daddr, r.dport)}",
                        "reply_src": at(r.saddr, r.sport), "reply_dst": r.daddr, "orig_dst": o.daddr})
    finally:
        ct.close()
    return out


def conntrack_of(ns: str, src: str, sport: int, protocol: str) -> list[dict]:
    proto = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP, "icmp": socket.IPPROTO_ICMP}[protocol]
    return netns.run_in(ns, _conntrack_of, src, sport if protocol != "icmp" else 0, proto)


# ---- captures: raw packet sockets opened inside the namespaces -------------------------

class Captures:
    """AF_PACKET sockets on (namespace, interface, label), read after the request."""

    def __init__(self, where: list[tuple[str, str, str]]):
        def open_one(ns: str, iface: str, label: str):
            try:
                s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
                s.bind((iface, 0))
            except OSError:
                return None       # a pod gone meanwhile: no evidence from there
            s.setblocking(False)
            return label, s
        opened = netns.run_many([(ns, open_one, (ns, iface, label), {}) for ns, iface, label in where], workers=8)
        self.socks: list[tuple[str, socket.socket]] = [x for x in opened if x is not None]

    def read(self) -> list[tuple[str, float, bytes]]:
        frames = []
        for label, s in self.socks:
            while True:
                try:
                    data = s.recv(65535)
                except BlockingIOError:
                    break
                frames.append((label, time.time(), data))
            s.close()
        return frames


# ---- the request --------------------------------------------------------------------

def resolve(ns: str, name: str) -> tuple[str | None, str]:
    r = subprocess.run(["ip", "netns", "exec", ns, "getent", "ahostsv4", name], capture_output=True, text=True,
                       timeout=15)
    first = r.stdout.split()
    return (first[0] if first else None), r.stdout.strip()


def _request(dst: Destination, ip: str) -> tuple[int, str, str]:
    """(source port, outcome, first bytes of the answer) of one real request from this namespace."""
    if dst.protocol == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(ANSWER_WAIT)
        s.connect((ip, dst.port))
        sport = s.getsockname()[1]
        try:
            s.send(_datagram(dst))
            return sport, "answered", _said(s.recv(4096), dst)
        except socket.timeout:
            return sport, "no answer", ""
        except ConnectionRefusedError:
            return sport, "refused", ""
        finally:
            s.close()
    s = socket.socket()
    s.settimeout(ANSWER_WAIT)
    s.bind(("0.0.0.0", 0))
    sport = s.getsockname()[1]
    try:
        s.connect((ip, dst.port))
    except socket.timeout:
        s.close()
        return sport, "timed out", ""
    except OSError as e:
        s.close()
        return sport, "refused" if isinstance(e, ConnectionRefusedError) else f"failed: {e.strerror}", ""
    try:
        host = dst.host_header or f"{ip}:{dst.port}"
        s.sendall(f"GET {dst.path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: netlab-trace\r\n\r\n".encode())
        data = b""
        while len(data) < 4096:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return sport, "answered", data.decode(errors="replace")
    except socket.timeout:
        return sport, "answered", data.decode(errors="replace") if data else ""
    except OSError:
        return sport, "answered", ""
    finally:
        s.close()


def _said(data: bytes, dst: Destination) -> str:
    if dst.port == 53:
        import dns.message
        try:
            return dns.message.from_wire(data).to_text()
        except Exception:      # noqa: BLE001 - not DNS after all: shown as bytes
            pass
    return data.decode(errors="replace")[:2000]


def _datagram(dst: Destination) -> bytes:
    """What a UDP request carries: a DNS query on port 53 (a DNS server answers nothing else),
    else a line a UDP echo server returns."""
    if dst.port == 53:
        import dns.message
        return dns.message.make_query("kubernetes.default.svc.cluster.local", "A").to_wire()
    return b"netlab trace\n"


def request(ns: str, dst: Destination, ip: str) -> tuple[int, str, str]:
    if dst.protocol == "icmp":
        return _in_ns_subprocess_ping(ns, ip)
    return netns.run_in(ns, _request, dst, ip)


def _in_ns_subprocess_ping(ns: str, ip: str) -> tuple[int, str, str]:
    r = subprocess.run(["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "2", ip], capture_output=True, text=True)
    lines = r.stdout.strip().splitlines()
    return 0, "answered" if r.returncode == 0 else "no answer", lines[1] if len(lines) > 1 else ""


def node_addresses(c: Cluster, node: str) -> frozenset[str]:
    n = c.node(node)
    return frozenset({n.ip, n.gateway, n.vtep_ip})


def in_parallel(fn, items: list) -> list:
    with ThreadPoolExecutor(max(1, min(8, len(items)))) as pool:
        return list(pool.map(fn, items))


def node_ns(c: Cluster, node: str) -> str:
    return layout.node_ns(c.name, node)
