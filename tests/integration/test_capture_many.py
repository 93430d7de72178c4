"""netlab capture on several interfaces of a seed lab at once, with pod traffic across the nodes.

All traffic is between the lab's own namespaces (a node1 pod pings a node2 pod); the
filter keeps the VXLAN packets whose inner packet is ICMP (udp[39]: 8 UDP + 8 VXLAN +
14 Ethernet + 9), so the pods' own DNS and database chatter stays out.
"""
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from scapy.layers.inet import ICMP
from scapy.utils import PcapNgReader, rdpcap

from netlab import layout, probe
from netlab.probe.sniffer import capture_many

from helpers import ping, pod_ns, sigint_as_in_a_terminal

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: creates network namespaces")]

POD1 = "business-manager-666f454f7f-7l86b"     # 172.30.76.7 on node1
POD2_IP = "172.30.9.2"                         # a pod on node2
ICMP_IN_VXLAN = ["udp", "port", "8472", "and", "udp[39]", "=", "1"]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def start_capture(lab, *args):
    """`netlab capture` in its own process group (SIGINT reaches it as a terminal's Ctrl-C),
    returned once it listens."""
    proc = subprocess.Popen([sys.executable, "-m", "netlab.cli", "capture", "--name", lab.name, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env=dict(os.environ, PYTHONPATH=REPO), preexec_fn=sigint_as_in_a_terminal)
    line = proc.stderr.readline()
    if "listening on" not in line:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"capture did not start: {line}{err}{out}")
    return proc


def finish(proc, timeout=20):
    try:
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def lab_namespaces(lab):
    c = lab.cluster()
    return {f"net:[{os.stat(f'/run/netns/{name}').st_ino}]"
            for name in [layout.node_ns(c.name, n.name) for n in c.nodes] + [pod_ns(c, p.name) for p in c.pods]}


def workers_in(namespaces):
    """The probe workers running inside these network namespaces (pid -> parent pid)."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"netlab.probe.worker" not in f.read():
                    continue
            if os.readlink(f"/proc/{pid}/ns/net") in namespaces:
                with open(f"/proc/{pid}/stat") as f:
                    found[int(pid)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def cross_node_ping(lab, count=2):
    assert ping(pod_ns(lab.cluster(), POD1), POD2_IP, count=count)


def check_lines(out, n):
    lines = out.splitlines()
    assert len(lines) == n, out
    for line in lines:
        assert re.match(r"^node[12]:eth0 \d\d:\d\d:\d\d\.\d{6} IP 192\.168\.0\.2[12]\.\d+ > 192\.168\.0\.2[12]\.8472: "
                        r"VXLAN, vni 1: IP 172\.30\.\S+ > 172\.30\.\S+: ICMP echo (request|reply)", line), line
    return lines


def test_two_nodes_merged_by_time_with_vxlan_decoded_and_one_pcapng(seed_lab, tmp_path):
    pcap = tmp_path / "two.pcap"
    proc = start_capture(seed_lab, "node1:eth0", "node2:eth0", "-c", "8", "-t", "20", "-w", str(pcap),
                         *ICMP_IN_VXLAN)
    try:
        cross_node_ping(seed_lab)      # 2 requests and 2 replies, each seen on both nodes' eth0
    finally:
        out, err = finish(proc)
    assert proc.returncode == 0, err
    lines = check_lines(out, 8)
    request = f"IP 192.168.0.21.\\d+ > 192.168.0.22.8472: VXLAN, vni 1: IP 172.30.76.7 > {POD2_IP}: ICMP echo request"
    assert re.search(request, lines[0]) and lines[0].startswith("node1:eth0")   # sent by node1 before node2 has it
    assert re.search(request, lines[1]) and lines[1].startswith("node2:eth0")
    assert "8 packets captured (node1:eth0 4, node2:eth0 4), written to" in err
    pkts = rdpcap(str(pcap))
    assert len(pkts) == 8                                   # what the command said
    assert [p.time for p in pkts] == sorted(p.time for p in pkts)
    with PcapNgReader(str(pcap)) as reader:                 # one interface block per capture
        assert sorted(p.sniffed_on for p in reader) == ["node1:eth0"] * 4 + ["node2:eth0"] * 4
    infos = [probe.vxlan_info(p) for p in pkts]
    assert {(i.outer_src, i.outer_dst, i.dport, i.vni) for i in infos} == {
        ("192.168.0.21", "192.168.0.22", 8472, 1), ("192.168.0.22", "192.168.0.21", 8472, 1)}


def test_count_stops_at_n_packets_in_all(seed_lab, tmp_path):
    pcap = tmp_path / "three.pcap"
    proc = start_capture(seed_lab, "node1:eth0", "node2:eth0", "-c", "3", "-t", "20", "-w", str(pcap),
                         *ICMP_IN_VXLAN)
    try:
        cross_node_ping(seed_lab)      # 8 packets to see: the capture keeps the first 3
    finally:
        out, err = finish(proc)
    assert proc.returncode == 0, err
    lines = check_lines(out, 3)
    assert [line.split()[0] for line in lines] == ["node1:eth0", "node2:eth0", "node2:eth0"]  # request; reply
    assert "3 packets captured (node1:eth0 1, node2:eth0 2)" in err
    assert len(rdpcap(str(pcap))) == 3


def test_timeout_ends_the_capture(seed_lab):
    began = time.monotonic()
    proc = start_capture(seed_lab, "node1:eth0", "node2:flannel.1", "-t", "1", "icmp")
    out, err = finish(proc)
    assert proc.returncode == 0, err
    assert time.monotonic() - began < 10
    assert re.search(r"\d+ packets? captured \(node1:eth0 \d+, node2:flannel.1 \d+\)", err)


def test_ctrl_c_ends_cleanly_with_a_readable_pcap_and_no_worker_left(seed_lab, tmp_path):
    pcap = tmp_path / "ctrlc.pcap"
    namespaces = lab_namespaces(seed_lab)
    proc = start_capture(seed_lab, "node1:eth0", "node2:eth0", "-w", str(pcap), *ICMP_IN_VXLAN)
    try:
        workers = workers_in(namespaces)
        assert sorted(workers.values()) == [proc.pid, proc.pid]     # one worker per interface, its children
        cross_node_ping(seed_lab)
        os.killpg(proc.pid, signal.SIGINT)
    finally:
        out, err = finish(proc)
    assert proc.returncode == 0, err
    check_lines(out, 8)
    assert "8 packets captured (node1:eth0 4, node2:eth0 4)" in err
    pkts = rdpcap(str(pcap))
    assert len(pkts) == 8 and all(ICMP in p for p in pkts)
    assert workers_in(namespaces) == {}
    assert not any(os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split()[2] != "Z"
                   for pid in workers)


@pytest.mark.parametrize("where, message", [
    ("node2:eth9", "netlab: node2:eth9: no interface 'eth9'"),
    ("node7:eth0", "netlab: no node, host or pod named 'node7' in lab '{lab}' (netlab get pods -A)"),
])
def test_a_bad_interface_or_target_is_one_line_and_leaves_nothing(seed_lab, where, message):
    namespaces = lab_namespaces(seed_lab)
    r = subprocess.run([sys.executable, "-m", "netlab.cli", "capture", "--name", seed_lab.name,
                        "node1:eth0", where, "-c", "1", "icmp"], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert (r.stdout, r.stderr.splitlines()) == ("", [message.format(lab=seed_lab.name)])
    assert workers_in(namespaces) == {}


def test_the_python_api_yields_where_time_and_packet_merged_by_time(seed_lab, tmp_path):
    c = seed_lab.cluster()
    ifaces = [(layout.node_ns(c.name, "node1"), "eth0"), (layout.node_ns(c.name, "node2"), "flannel.1")]
    with capture_many(ifaces, bpf="icmp or (udp port 8472 and udp[39] = 1)", count=4, timeout=20,
                      write=str(tmp_path / "api.pcap"), labels=["node1:eth0", "node2:flannel.1"]) as cap:
        cross_node_ping(seed_lab, count=1)
    got = cap.packets()
    assert [g.time for g in got] == sorted(g.time for g in got)
    assert [g.where for g in got] == ["node1:eth0", "node2:flannel.1", "node2:flannel.1", "node1:eth0"]
    outer = probe.vxlan_info(got[0].packet)
    assert (outer.outer_src, outer.outer_dst, outer.inner_src, outer.inner_dst) == (
        "192.168.0.21", "192.168.0.22", "172.30.76.7", POD2_IP)
    assert probe.vxlan_info(got[1].packet) is None and got[1].packet[ICMP].type == 8   # inside the tunnel
    assert cap.counts == {"node1:eth0": 2, "node2:flannel.1": 2}
    assert len(rdpcap(str(tmp_path / "api.pcap"))) == 4
    assert workers_in(lab_namespaces(seed_lab)) == {}


def test_one_interface_keeps_a_classic_pcap(seed_lab, tmp_path):
    pcap = tmp_path / "one.pcap"
    proc = start_capture(seed_lab, "node2:eth0", "-c", "2", "-t", "20", "-w", str(pcap), *ICMP_IN_VXLAN)
    try:
        cross_node_ping(seed_lab, count=1)
    finally:
        out, err = finish(proc)
    assert proc.returncode == 0, err
    assert [line.split()[0] for line in check_lines(out, 2)] == ["node2:eth0"] * 2
    assert pcap.read_bytes()[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4")   # pcap, not pcapng
    assert len(rdpcap(str(pcap))) == 2
