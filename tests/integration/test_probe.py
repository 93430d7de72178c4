"""netlab.probe on real namespaces: two namespaces of our own joined by a veth pair.

All traffic stays inside those namespaces; they are removed also when a test fails.
"""
import os
import re
import secrets
import signal
import subprocess
import sys
import threading

import pytest
from pyroute2 import IPRoute
from scapy.layers.inet import ICMP, IP, UDP
from scapy.utils import rdpcap

from netlab import probe
from netlab.kernel import netns
from netlab.probe.cli import capture_command

from helpers import sigint_as_in_a_terminal

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: creates network namespaces")]

A_IP, B_IP = "10.201.0.1", "10.201.0.2"          # veth underlay
A_VX, B_VX = "10.202.0.1", "10.202.0.2"          # addresses on the VXLAN devices
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def pair():
    """Namespaces ptest<hex>-a and -b, each with eth0 (a veth to the other) and lo up."""
    prefix = f"ptest{secrets.token_hex(3)}"
    a, b = f"{prefix}-a", f"{prefix}-b"
    netns.create([a, b])
    try:
        with IPRoute(netns=a) as ipa, IPRoute(netns=b) as ipb:
            ipa.link("add", ifname="eth0", kind="veth", peer={"ifname": "eth0", "net_ns_fd": b})
            for ipr, addr in ((ipa, A_IP), (ipb, B_IP)):
                eth0 = ipr.link_lookup(ifname="eth0")[0]
                ipr.addr("add", index=eth0, address=addr, prefixlen=24)
                ipr.link("set", index=eth0, state="up")
                ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        yield a, b
    finally:
        for name in (a, b):
            netns.remove(name)


def add_vxlan(ns, local, remote, address):
    """flannel.1 in miniature: VNI 1 on UDP 8472, no learning, a static FDB entry to the peer."""
    with IPRoute(netns=ns) as ipr:
        eth0 = ipr.link_lookup(ifname="eth0")[0]
        ipr.link("add", ifname="vx0", kind="vxlan", vxlan_id=1, vxlan_port=8472,
                 vxlan_learning=0, vxlan_local=local, vxlan_link=eth0)
        vx = ipr.link_lookup(ifname="vx0")[0]
        ipr.fdb("append", ifindex=vx, lladdr="00:00:00:00:00:00", dst=remote)
        ipr.addr("add", index=vx, address=address, prefixlen=24)
        ipr.link("set", index=vx, state="up")


def test_capture_while_pinging(pair, tmp_path):
    a, b = pair
    pcap = str(tmp_path / "ping.pcap")
    with probe.capture(b, "eth0", count=4, timeout=10, bpf="icmp", write=pcap) as cap:
        result = probe.ping(a, B_IP, count=2)
    assert result.ok, result
    pkts = cap.packets()
    assert [(p[IP].src, p[IP].dst, p[ICMP].type) for p in pkts] == [
        (A_IP, B_IP, 8), (B_IP, A_IP, 0), (A_IP, B_IP, 8), (B_IP, A_IP, 0)]
    assert [p[ICMP].seq for p in pkts] == [1, 1, 2, 2]
    assert len(rdpcap(pcap)) == 4
    assert "ICMP echo request" in probe.summary(pkts[0])


def test_capture_is_listening_when_the_block_starts(pair):
    # one packet sent at once, no reply, nothing to retry: it is there only if the
    # socket was already open when the block began
    a, b = pair
    with probe.capture(b, "eth0", count=1, timeout=10, bpf="udp port 9999") as cap:
        assert probe.send(a, IP(dst=B_IP) / UDP(sport=5555, dport=9999) / b"hello") == 1
    (pkt,) = cap.packets()
    assert (pkt[IP].src, bytes(pkt[UDP].payload)) == (A_IP, b"hello")


def test_leaving_the_block_without_limits_keeps_what_arrived(pair):
    a, b = pair
    with probe.capture(b, "eth0", bpf="icmp") as cap:
        assert probe.ping(a, B_IP, count=3).ok
    assert len(cap.packets()) == 6


def test_sr1_builds_the_packet_inside_the_namespace(pair):
    a, _ = pair
    ((sent, answer),) = probe.sr(a, IP(dst=B_IP) / ICMP(id=9, seq=1))
    assert sent[IP].src == A_IP            # the namespace's address, not the host's
    assert (answer[IP].src, answer[ICMP].type, answer[ICMP].id) == (B_IP, 0, 9)
    assert probe.sr1(a, f"IP(dst='{B_IP}')/ICMP()")[IP].src == B_IP   # a scapy expression


def test_unanswered_ping(pair):
    a, _ = pair
    result = probe.ping(a, "10.201.0.99", count=2, timeout=0.3)
    assert (result.sent, result.received, result.ok) == (2, 0, False)


def test_vxlan_capture_decodes_inner_addresses(pair):
    a, b = pair
    add_vxlan(a, A_IP, B_IP, A_VX)
    add_vxlan(b, B_IP, A_IP, B_VX)
    # no count: IPv6 chatter of the new devices crosses the tunnel too; leaving the
    # block stops the capture with everything that arrived meanwhile
    with probe.capture(b, "eth0", bpf="udp port 8472") as cap:
        assert probe.ping(a, B_VX, count=2).ok     # ARP over the tunnel, then 2 echoes
    pkts = cap.packets()
    infos = [probe.vxlan_info(p) for p in pkts]
    icmp = [i for i in infos if i.inner_proto == "icmp"]
    assert len(icmp) == 4
    assert {(i.outer_src, i.outer_dst, i.inner_src, i.inner_dst) for i in icmp} == {
        (A_IP, B_IP, A_VX, B_VX), (B_IP, A_IP, B_VX, A_VX)}
    assert all(i.vni == 1 and i.dport == 8472 for i in infos)
    line = probe.summary(next(p for p, i in zip(pkts, infos) if i.inner_proto == "icmp"))
    assert f"8472: VXLAN, vni 1: IP {A_VX} > {B_VX}: ICMP echo request" in line


def test_errors_are_one_line(pair):
    _, b = pair
    with pytest.raises(probe.ProbeError, match=r":eth9: no interface 'eth9'"):
        probe.capture(b, "eth9", count=1).start()
    with pytest.raises(probe.ProbeError, match="bad filter 'port': "):
        probe.capture(b, "eth0", count=1, bpf="port").start()


def test_capture_command_streams_lines_and_writes_pcap(pair, tmp_path, capsys):
    a, b = pair
    pcap = str(tmp_path / "cli.pcap")
    done = threading.Event()

    def traffic():   # until the capture has its packets: it starts listening on its own time
        while not done.wait(0.1):
            probe.send(a, IP(dst=B_IP) / ICMP())

    sender = threading.Thread(target=traffic)
    sender.start()
    try:
        rc = capture_command(b, "eth0", count=2, write=pcap, timeout=20, bpf="icmp")
    finally:
        done.set()
        sender.join()
    out, err = capsys.readouterr()
    assert rc == 0
    lines = out.splitlines()
    # a request sent just before the capture began may show up as its reply alone
    assert len(lines) == 2 and all(
        re.search(rf"^\S+ eth0 IP ({A_IP} > {B_IP}|{B_IP} > {A_IP}): ICMP echo", line) for line in lines), lines
    assert "2 packets captured" in err
    assert len(rdpcap(pcap)) == 2


def test_capture_command_errors(pair, capsys):
    _, b = pair
    assert capture_command(b, "nope0", count=1, write=None, timeout=1, bpf=None) == 1
    assert capture_command("ptest-missing", "eth0", count=1, write=None, timeout=1, bpf=None) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"netlab: {b}:nope0: no interface 'nope0'", "netlab: no network namespace 'ptest-missing'"]


def test_capture_command_ctrl_c_leaves_a_complete_pcap(pair, tmp_path):
    a, b = pair
    pcap = str(tmp_path / "ctrlc.pcap")
    code = ("import sys\nfrom netlab.probe.cli import capture_command\n"
            f"sys.exit(capture_command({b!r}, 'eth0', None, {pcap!r}, None, 'icmp'))")
    # its own process group, so SIGINT reaches it (and its worker) as a terminal's Ctrl-C would
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=REPO),
                            preexec_fn=sigint_as_in_a_terminal)
    try:
        assert "listening on" in proc.stderr.readline()
        assert probe.ping(a, B_IP, count=3).ok
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err
    assert len(out.splitlines()) == 6 and "6 packets captured" in err
    assert [p[ICMP].type for p in rdpcap(pcap)] == [8, 0] * 3


def test_loopback_shows_each_packet_once(pair):
    a, _ = pair
    with probe.capture(a, "lo", bpf="icmp") as cap:
        assert probe.ping(a, "127.0.0.1").ok
    assert [p[ICMP].type for p in cap.packets()] == [8, 0]
