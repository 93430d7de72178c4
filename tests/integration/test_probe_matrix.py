"""`netlab probe`: reachability matrices measured with real connections between lab namespaces."""
from __future__ import annotations

import os
import socket
import subprocess

from helpers import eventually, proc_read, proc_state, sh, tool

from netlab import layout
from netlab.kernel import iptables, netns
from netlab.model import topology
from netlab.probe.reach import Endpoint, forget_udp_flows, probe, udp_flows
from netlab.reachability import Matrix, differences, parse, pretty

# 2 nodes, 5 pods in 3 namespaces: the scheduler spreads each deployment, so node1 has x/a, y/b
# and z/c, node2 the second x/a and y/b. Each pod runs netlab-whoami on 8080.
DOC = {"nodes": [{"name": "node1", "ip": "192.168.0.21", "podCIDR": "172.30.1.0/24"},
                 {"name": "node2", "ip": "192.168.0.22", "podCIDR": "172.30.2.0/24"}],
       "deployments": [{"name": "a", "namespace": "x", "replicas": 2}, {"name": "b", "namespace": "y", "replicas": 2},
                       {"name": "c", "namespace": "z", "replicas": 1}]}
UDP = ("UDP", 5353)


def small(name, now):
    return topology.parse(DOC, name, now)


def pods(c) -> list[Endpoint]:
    return [Endpoint(f"{p.namespace}/{p.name}", layout.pod_ns(c.name, p), p.ip)
            for p in sorted(c.pods, key=lambda p: (p.namespace, p.name))]


def client(c) -> Endpoint:
    return Endpoint("client", layout.host_ns(c.name, "client"), next(h.ip for h in c.hosts if h.name == "client"))


def nodes(c) -> list[str]:
    return [layout.node_ns(c.name, n.name) for n in c.nodes]


def like(m: Matrix, connected) -> Matrix:
    """m's labels with the cells `connected(from, to)` says."""
    return Matrix(m.protocol, m.port, m.froms, m.tos, {(s, d): connected(s, d) for s in m.froms for d in m.tos})


def udp_entries(c, flows) -> int:
    """The lab's nodes' UDP conntrack entries of these flows."""
    def count():
        from pyroute2 import Conntrack
        from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple
        ct = Conntrack()
        try:
            return sum((e.tuple_orig.saddr, e.tuple_orig.daddr, e.tuple_orig.dport) in flows
                       for e in ct.dump_entries(tuple_orig=NFCTAttrTuple(proto=socket.IPPROTO_UDP)))
        finally:
            ct.close()
    return sum(netns.run_in(ns, count) for ns in nodes(c))


def children(pid: int) -> set[int]:
    """Every child of `pid`, zombies included (an unreaped child is one too)."""
    found = set()
    for p in filter(str.isdigit, os.listdir("/proc")):
        stat = proc_read(p, "stat")
        if stat and int(stat.rsplit(b")", 1)[1].split()[1]) == pid:
            found.add(int(p))
    return found


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([tool("netlab"), "probe", *args], capture_output=True, text=True, timeout=120)


def test_without_policies_every_cell_is_connected(make_lab):
    c = make_lab(small).cluster()
    src = pods(c)
    # 8080: the pods' own servers hold the port, and the probe relies on them
    tcp, udp, own = probe(src, src + [client(c)], [("TCP", 80), UDP, ("TCP", 8080)])
    assert tcp.froms == [e.label for e in src] and tcp.tos == [e.label for e in src] + ["client"]
    assert len(tcp.froms) == 5 and {label.split("/")[0] for label in tcp.froms} == {"x", "y", "z"}
    for m in (tcp, udp, own):
        assert differences(like(m, lambda s, d: True), m) == [], pretty(m)
    assert (udp.protocol, udp.port) == UDP


def test_a_drop_in_one_node_blocks_what_that_node_forwards(make_lab):
    lab = make_lab(small)
    c = lab.cluster()
    node1 = layout.node_ns(c.name, "node1")
    # bridged traffic between node1's own pods crosses its FORWARD chain too
    assert sh(node1, "sysctl", "-n", "net.bridge.bridge-nf-call-iptables").stdout.strip() == "1"
    on1 = next(p for p in c.pods if p.node == "node1")
    on2 = next(p for p in c.pods if p.node == "node2")
    # new connections only, as an ingress policy drops them: a plain -d DROP would drop the
    # answers to these pods' own connections too, and blank their rows as well
    iptables.restore(node1, "*filter\n" + "".join(f"-I FORWARD 1 -d {p.ip}/32 -m conntrack --ctstate NEW -j DROP\n"
                                                  for p in (on1, on2)) + "COMMIT\n")
    node = {f"{p.namespace}/{p.name}": p.node for p in c.pods}
    dropped = {f"{p.namespace}/{p.name}" for p in (on1, on2)}

    def connected(s, d):
        # node1 forwards what its pods send, and all that reaches its pods
        return s == d or d not in dropped or "node1" not in (node[s], node[d])

    src = pods(c)
    for m in probe(src, src, [("TCP", 80), UDP], timeout=0.5):
        expected = like(m, connected)
        assert differences(expected, m) == [], pretty(m)
    same_node_blocked = [s for s in node if s not in dropped and node[s] == "node1"]
    assert same_node_blocked and not connected(same_node_blocked[0], f"{on1.namespace}/{on1.name}")
    assert [connected(s, f"{on2.namespace}/{on2.name}") for s in sorted(node) if s not in dropped] == \
           [node[s] == "node2" for s in sorted(node) if s not in dropped]


def test_the_cli_prints_the_matrix_and_compares_it_with_a_file(make_lab, tmp_path):
    lab = make_lab(small)
    c = lab.cluster()
    r = run("--name", lab.name, "--port", "80", "--port", "5353/udp", "--host", "client")
    assert r.returncode == 0, r.stderr
    tcp, udp = parse(r.stdout, "stdout")        # what it prints is an --expect file
    labels = [e.label for e in pods(c)]
    assert (tcp.protocol, tcp.port, udp.protocol, udp.port) == ("TCP", 80, "UDP", 5353)
    assert tcp.froms == labels and tcp.tos == labels + ["client"] and all(tcp.allowed.values())
    assert r.stdout.splitlines()[-1].startswith("# probed 5 pods x 6 targets on TCP/80, UDP/5353 in ")
    assert r.stdout.splitlines()[-1].endswith(": 60 of 60 cells open")

    expect = tmp_path / "expect.txt"
    expect.write_text(r.stdout)
    r = run("--name", lab.name, "--port", "80", "--port", "5353/udp", "--host", "client", "--expect", str(expect))
    assert r.returncode == 0 and "reachability TCP/80: correct:30, incorrect:0, result=true" in r.stdout, r.stderr

    # one matrix for every port, and one cell expected blocked that is not
    lines = r.stdout.split("\n\n")[0].splitlines()[1:]
    lines[2] = lines[2][:-1] + "X"                 # second row's last column: client
    expect.write_text("\n".join(lines) + "\n")
    r = run("--name", lab.name, "--port", "80", "--port", "5353/udp", "--host", "client", "--expect", str(expect))
    assert r.returncode == 1, r.stdout + r.stderr
    differ = f"{labels[1]} -> client: expected X, observed ."
    assert r.stdout.count(differ) == 2 and "reachability UDP/5353: correct:29, incorrect:1, result=false" in r.stdout

    expect.write_text("TCP/80\n- client\nx/a .\n")
    r = run("--name", lab.name, "--expect", str(expect))
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert r.stderr.startswith("netlab: TCP/80: expected row 'x/a' was not probed"), r.stderr
    expect.write_text("TCP/80\n- client\nx/a Y\n")
    r = run("--name", lab.name, "--expect", str(expect))
    assert (r.returncode, r.stdout) == (2, "") and r.stderr == f"netlab: {expect}:3: row 'x/a', column 'client': " \
        "unknown mark 'Y' (. connected, X blocked, ? no value)\n"
    for bad, why in ((["--port", "80/icmp"], "--port '80/icmp' must be PORT[/PROTO]"),
                     (["--host", "nosuch"], "--host 'nosuch' is not an outside host"),
                     (["-n", "nosuch"], "no pods in namespace 'nosuch'")):
        r = run("--name", lab.name, *bad)
        assert r.returncode == 2 and r.stderr.startswith(f"netlab: probe: {why}") and r.stderr.count("\n") == 1


def test_the_probes_udp_conntrack_entries_are_gone_afterwards(make_lab):
    lab = make_lab(small)
    c = lab.cluster()
    src = pods(c)
    flows = udp_flows(src, src, [UDP])
    probe(src, src, [UDP])
    assert udp_entries(c, flows) > 0            # the probe's datagrams made entries in the nodes
    assert forget_udp_flows(nodes(c), flows) > 0
    assert udp_entries(c, flows) == 0

    r = run("--name", lab.name, "--port", "5353/udp")
    assert r.returncode == 0 and r.stdout.endswith(": 25 of 25 cells open\n"), r.stdout + r.stderr
    assert udp_entries(c, flows) == 0


def test_no_process_of_the_probe_remains(make_lab):
    lab = make_lab(small)
    c = lab.cluster()
    before = children(os.getpid())
    src = pods(c)
    probe(src, src, [("TCP", 80), UDP])
    assert children(os.getpid()) == before      # the child is gone and reaped

    # the child dies with its parent: a probe that waits (a dropped cell) killed mid-way
    on1 = next(p for p in c.pods if p.node == "node1")
    iptables.restore(layout.node_ns(c.name, "node1"), f"*filter\n-I FORWARD 1 -d {on1.ip}/32 -j DROP\nCOMMIT\n")
    cli = subprocess.Popen([tool("netlab"), "probe", "--name", lab.name, "--timeout", "60"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        child = eventually(lambda: children(cli.pid), timeout=30)
        assert child, "the probe's child never started"
    finally:
        cli.kill()
        cli.wait()
    (pid,) = child
    assert eventually(lambda: proc_state(pid) in (None, "Z"), timeout=30), f"probe child {pid} outlived its parent"
