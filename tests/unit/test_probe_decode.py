"""netlab.probe decoding without root: VXLAN on flannel's port 8472 and summary lines."""
import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.layers.vxlan import VXLAN
from scapy.utils import PcapWriter, rdpcap

from netlab import probe
from netlab.probe import sender, worker

NODE1, NODE2 = "192.168.0.21", "192.168.0.22"
POD1, POD2 = "172.30.1.2", "172.30.2.2"
VTEP1, VTEP2 = "02:42:ac:1e:01:00", "02:42:ac:1e:02:00"


def flannel_packet(inner, sport=41234):
    """A frame as node1's eth0 sends it: outer headers to node2:8472, VNI 1."""
    pkt = (Ether() / IP(src=NODE1, dst=NODE2) / UDP(sport=sport, dport=8472) / VXLAN(vni=1)
           / Ether(src=VTEP1, dst=VTEP2) / inner)
    wire = Ether(bytes(pkt))   # dissect from bytes, as a capture would
    wire.time = 1_700_000_000.5
    return wire


def test_vxlan_on_8472_decodes_outer_and_inner_headers():
    info = probe.vxlan_info(flannel_packet(IP(src=POD1, dst=POD2) / ICMP(id=7, seq=1)))
    assert info == probe.VxlanInfo(outer_src=NODE1, outer_dst=NODE2, sport=41234, dport=8472, vni=1,
                                   inner_src_mac=VTEP1, inner_dst_mac=VTEP2,
                                   inner_src=POD1, inner_dst=POD2, inner_proto="icmp")


def test_vxlan_found_even_when_source_port_is_bound_to_another_protocol():
    # sport 53 makes scapy guess DNS; the destination port 8472 still says VXLAN
    info = probe.vxlan_info(flannel_packet(IP(src=POD1, dst=POD2) / UDP(dport=80), sport=53))
    assert (info.vni, info.inner_src, info.inner_dst, info.inner_proto) == (1, POD1, POD2, "udp")


def test_inner_arp():
    info = probe.vxlan_info(flannel_packet(ARP(op=1, psrc=POD1, pdst=POD2)))
    assert (info.inner_src, info.inner_dst, info.inner_proto) == (POD1, POD2, "arp")


def test_not_vxlan():
    assert probe.vxlan_info(Ether(bytes(Ether() / IP(src=POD1, dst=POD2) / UDP(sport=1000, dport=53)))) is None
    assert probe.vxlan_info(Ether(bytes(Ether() / IP() / ICMP()))) is None


def test_building_vxlan_uses_flannels_port():
    assert (UDP() / VXLAN()).dport == 8472


def test_summary_of_a_vxlan_packet_shows_outer_and_inner_headers():
    line = probe.summary(flannel_packet(IP(src=POD1, dst=POD2) / ICMP(id=7, seq=1) / (b"x" * 56)), "eth0")
    time, rest = line.split(" ", 1)
    assert len(time) == len("HH:MM:SS.ffffff") and time.endswith(".500000")
    assert rest == (f"eth0 IP {NODE1}.41234 > {NODE2}.8472: VXLAN, vni 1: "
                    f"IP {POD1} > {POD2}: ICMP echo request, id 7, seq 1, length 64")


@pytest.mark.parametrize("pkt, expected", [
    (Ether() / IP(src=POD2, dst=POD1) / ICMP(type=0, id=1, seq=2),
     f"IP {POD2} > {POD1}: ICMP echo reply, id 1, seq 2, length 8"),
    (Ether() / IP(src=POD1, dst=POD2) / TCP(sport=40000, dport=80, flags="SA", seq=5, ack=9),
     f"IP {POD1}.40000 > {POD2}.80: Flags [S.], seq 5, ack 9, win 8192, length 0"),
    (Ether() / IP(src=POD1, dst=POD2) / UDP(sport=40000, dport=9000) / b"hello",
     f"IP {POD1}.40000 > {POD2}.9000: UDP, length 5"),
    (Ether() / ARP(op=1, psrc=POD1, pdst=POD2), f"ARP, Request who-has {POD2} tell {POD1}, length 28"),
])
def test_describe(pkt, expected):
    assert probe.describe(Ether(bytes(pkt))) == expected


def test_pcap_round_trip_keeps_vxlan_decoding(tmp_path):
    path = str(tmp_path / "flannel.pcap")
    with PcapWriter(path, linktype=1) as out:
        out.write(flannel_packet(IP(src=POD1, dst=POD2) / ICMP()))
    (pkt,) = rdpcap(path)
    assert probe.vxlan_info(pkt).inner_dst == POD2
    assert float(pkt.time) == 1_700_000_000.5


def test_packets_travel_to_the_worker_unbuilt():
    # Building here would fill the source from the host's routes (the scapy pitfall);
    # only the fields the caller set travel, the namespace's worker fills in the rest.
    packed = sender._pack(IP(dst=POD2) / ICMP(seq=3))
    kind, [(ip_cls, ip_fields), (icmp_cls, icmp_fields)] = packed
    assert (kind, ip_cls, icmp_cls, icmp_fields) == ("layers", IP, ICMP, {"seq": 3})
    assert ip_fields["dst"] == POD2 and "src" not in ip_fields
    rebuilt = worker._build(packed, None)
    assert "src" not in rebuilt.fields and rebuilt[ICMP].seq == 3 and rebuilt.dst == POD2


def test_ping_needs_an_address_not_a_name():
    with pytest.raises(probe.ProbeError, match="needs an IP address"):
        probe.ping("any", "kubernetes.default")


def test_unknown_namespace_is_one_clear_error():
    with pytest.raises(probe.ProbeError, match="no network namespace 'ptest-none-x'"):
        probe.capture("ptest-none-x", "eth0", count=1).start()
