"""The seed lab's pod network, checked the way a user checks it: ping, ip, bridge."""
from concurrent.futures import ThreadPoolExecutor

import pytest

from netlab import layout
from netlab.cni.bridge import bridge_mac
from netlab.flannel.lease import vtep_mac
from netlab.model.seed import seed_cluster

from helpers import eventually, ping, pod_ns, sh


def test_every_pod_reaches_every_other_pod(seed_lab):
    c = seed_lab.cluster()
    pairs = [(a, b) for a in c.pods for b in c.pods if a is not b]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda ab: ping(layout.pod_ns(c.name, ab[0]), ab[1].ip), pairs))
    failed = [(a.name, b.ip) for (a, b), ok in zip(pairs, results) if not ok]
    assert len(pairs) == 56 and failed == []


def test_cross_node_traffic_crosses_two_routers(seed_lab):
    c = seed_lab.cluster()
    out = sh(pod_ns(c, "business-manager-666f454f7f-7l86b"), "ping", "-n", "-c", "1", "172.30.9.2").stdout
    assert "ttl=62" in out            # node1 and node2 each route it once


def test_node1_routes_are_the_walk_throughs(seed_lab):
    routes = sh(layout.node_ns(seed_lab.name, "node1"), "ip", "route").stdout.splitlines()
    assert [r.strip() for r in routes] == [
        "default via 192.168.0.1 dev eth0",
        "172.30.0.0/16 dev flannel.1",
        "172.30.76.0/24 dev docker0 proto kernel scope link src 172.30.76.1",
        "192.168.0.0/24 dev eth0 proto kernel scope link src 192.168.0.21",
    ]


def test_devices_mtus_and_vxlan_parameters(seed_lab):
    node1 = layout.node_ns(seed_lab.name, "node1")
    vxlan = sh(node1, "ip", "-d", "-o", "link", "show", "flannel.1").stdout
    for part in ("mtu 1450", "vxlan id 1 local 192.168.0.21 dev eth0", "dstport 8472", "nolearning",
                 f"link/ether {vtep_mac(seed_lab.name, 'node1')}"):
        assert part in vxlan
    assert "172.30.76.0/32" in sh(node1, "ip", "-o", "addr", "show", "flannel.1").stdout
    docker0 = sh(node1, "ip", "-o", "link", "show", "docker0").stdout
    # a fixed MAC: a bridge left to itself takes its lowest port's MAC, which changes as pods come and go
    assert "mtu 1450" in docker0 and f"link/ether {bridge_mac(seed_lab.name, seed_lab.cluster().node('node1'))}" in docker0
    assert "inet 172.30.76.1/24" in sh(node1, "ip", "-o", "addr", "show", "docker0").stdout
    assert "mtu 1500" in sh(node1, "ip", "-o", "link", "show", "eth0").stdout
    pod = pod_ns(seed_lab.cluster(), "data-product-6664c6dcb9-tkmms")
    assert "mtu 1450" in sh(pod, "ip", "-o", "link", "show", "eth0").stdout
    assert sh(pod, "ip", "route").stdout.splitlines()[0].strip() == "default via 172.30.9.1 dev eth0"


def test_pod_ports_on_docker0_have_hairpin_on(seed_lab):
    ports = sh(layout.node_ns(seed_lab.name, "node1"), "bridge", "-d", "link", "show").stdout
    entries = [e for e in ports.split("\n") if "master docker0" in e]
    assert len(entries) == 5                              # node1 holds five seed pods
    assert ports.count("hairpin on") == 5


def test_node_sysctls(seed_lab):
    node2 = layout.node_ns(seed_lab.name, "node2")
    assert sh(node2, "cat", "/proc/sys/net/ipv4/ip_forward").stdout.strip() == "1"
    assert sh(node2, "cat", "/proc/sys/net/bridge/bridge-nf-call-iptables").stdout.strip() == "1"


def test_fdb_points_at_the_other_node(seed_lab):
    fdb = sh(layout.node_ns(seed_lab.name, "node1"), "bridge", "fdb", "show", "dev", "flannel.1").stdout
    assert fdb.split("\n")[0].strip() == f"{vtep_mac(seed_lab.name, 'node2')} dst 192.168.0.22 self permanent"
    assert len([line for line in fdb.splitlines() if line.strip()]) == 1


def quiet_seed(name, now):
    """The seed network without its processes: no traffic but the test's."""
    c = seed_cluster(name, now)
    for x in c.pods + c.hosts + c.deployments:
        x.command = []
    return c


def test_seed_mode_neighbours_are_exactly_the_addresses_used(make_lab):
    lab = make_lab(quiet_seed)
    c = lab.cluster()
    node1 = layout.node_ns(c.name, "node1")
    neigh = lambda: sh(node1, "ip", "neigh", "show", "dev", "flannel.1").stdout.split("\n")  # noqa: E731
    assert [n for n in neigh() if n.strip()] == []
    assert ping(pod_ns(c, "business-manager-666f454f7f-7l86b"), "172.30.9.2")
    assert ping(node1, "172.30.9.1") and ping(node1, "172.30.9.0")
    mac = vtep_mac(c.name, "node2")
    entries = sorted(n.split()[0] for n in neigh() if n.strip())
    assert entries == ["172.30.9.0", "172.30.9.1", "172.30.9.2"]
    assert all(f"lladdr {mac}" in n for n in neigh() if n.strip())


@pytest.mark.parametrize("mode", ["routes"])
def test_routes_mode_is_current_flannels_layout(make_lab, mode):
    lab = make_lab(seed_cluster)
    c = lab.cluster()
    # the same seed cluster, this time as current flannel programs it
    lab.down()
    c.flannel_mode = mode
    from netlab.lab import Lab
    lab = Lab.up(c)
    try:
        node1 = layout.node_ns(c.name, "node1")
        mac = vtep_mac(c.name, "node2")
        routes = [r.strip() for r in sh(node1, "ip", "route").stdout.splitlines()]
        assert routes == [
            "default via 192.168.0.1 dev eth0",
            "172.30.9.0/24 via 172.30.9.0 dev flannel.1 onlink",
            "172.30.76.0/24 dev docker0 proto kernel scope link src 172.30.76.1",
            "192.168.0.0/24 dev eth0 proto kernel scope link src 192.168.0.21",
        ]
        neigh = [n.strip() for n in sh(node1, "ip", "neigh", "show", "dev", "flannel.1").stdout.splitlines()]
        assert neigh == [f"172.30.9.0 lladdr {mac} PERMANENT"]
        fdb = sh(node1, "bridge", "fdb", "show", "dev", "flannel.1").stdout.split("\n")[0].strip()
        assert fdb == f"{mac} dst 192.168.0.22 self permanent"
        assert ping(pod_ns(c, "data-product-6664c6dcb9-4zk27"), "172.30.9.3")
        assert eventually(lambda: len(sh(node1, "ip", "neigh", "show", "dev", "flannel.1").stdout.splitlines()) == 1)
    finally:
        lab.down()


def test_capture_on_node1_eth0_shows_vxlan_with_the_pod_addresses(seed_lab, tmp_path):
    from netlab import probe
    c = seed_lab.cluster()
    node1 = layout.node_ns(c.name, "node1")
    pcap = tmp_path / "vxlan.pcap"
    with probe.capture(node1, "eth0", timeout=3, bpf="udp port 8472", write=str(pcap)) as cap:
        assert ping(pod_ns(c, "business-manager-666f454f7f-7l86b"), "172.30.9.2", count=2)
    infos = [probe.vxlan_info(p) for p in cap.packets()]
    assert all(infos)                         # every packet on 8472 decodes as VXLAN
    infos = [i for i in infos if i.inner_proto == "icmp"]    # the pods' own traffic (DNS...) aside
    assert len(infos) == 4
    there = [i for i in infos if i.outer_src == "192.168.0.21"]
    back = [i for i in infos if i.outer_src == "192.168.0.22"]
    assert there and back
    assert all((i.outer_dst, i.dport, i.vni, i.inner_src, i.inner_dst) ==
               ("192.168.0.22", 8472, 1, "172.30.76.7", "172.30.9.2") for i in there)
    assert all((i.inner_src, i.inner_dst) == ("172.30.9.2", "172.30.76.7") for i in back)
    assert pcap.stat().st_size > 0


def test_netlab_capture_command(seed_lab, tmp_path):
    import subprocess
    import sys
    pcap = tmp_path / "cli.pcap"
    cap = subprocess.Popen([sys.executable, "-m", "netlab.cli", "capture", "--name", seed_lab.name, "node2:eth0",
                            "-c", "2", "-t", "10", "-w", str(pcap), "udp", "port", "8472", "and", "udp[39]", "=", "1"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        import time
        deadline = time.monotonic() + 5
        while "listening" not in (cap.stderr.readline() if cap.poll() is None else "listening"):
            assert time.monotonic() < deadline
        c = seed_lab.cluster()
        assert ping(pod_ns(c, "business-manager-666f454f7f-zxmsx"), "172.30.76.5")
        out, _ = cap.communicate(timeout=15)
    finally:
        if cap.poll() is None:
            cap.kill()
    assert cap.returncode == 0
    lines = out.strip().splitlines()
    # udp[39] is the inner IP protocol (8 UDP + 8 VXLAN + 14 Ethernet + 9): ICMP only
    assert len(lines) == 2 and all("8472" in line and "ICMP" in line for line in lines)
    assert "172.30.9.3" in lines[0] and "172.30.76.5" in lines[0]
