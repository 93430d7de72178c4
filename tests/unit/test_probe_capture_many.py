"""netlab capture on several interfaces, without root: splitting its words into interfaces and
filter, merging by time, the merged lines, the stream records a worker writes."""
import struct

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN

from netlab import cli
from netlab.probe import runner
from netlab.probe.cli import merged_line, split_capture_args
from netlab.probe.runner import ProbeError
from netlab.probe.sniffer import Captured, Merge, MultiCapture


@pytest.mark.parametrize("words, ifaces, bpf", [
    (["node1:eth0"], [("node1", "eth0")], None),
    (["node1:eth0", "udp", "port", "8472"], [("node1", "eth0")], "udp port 8472"),
    (["node1:eth0", "node2:flannel.1", "client:eth0", "icmp"],
     [("node1", "eth0"), ("node2", "flannel.1"), ("client", "eth0")], "icmp"),
    (["deploy/web:eth0", "business-manager-666f454f7f-7l86b:eth0"],
     [("deploy/web", "eth0"), ("business-manager-666f454f7f-7l86b", "eth0")], None),
    # written after the filter (options may stand between): still an interface
    (["node1:eth0", "udp", "node2:eth0"], [("node1", "eth0"), ("node2", "eth0")], "udp"),
    # BPF words with ':' are never interfaces: IPv6 addresses, MACs, byte ranges
    (["node1:eth0", "host", "fe80::1"], [("node1", "eth0")], "host fe80::1"),
    (["node1:eth0", "ip6", "host", "2001:db8::a:1"], [("node1", "eth0")], "ip6 host 2001:db8::a:1"),
    (["node1:eth0", "ether", "host", "02:42:ac:1e:01:00"], [("node1", "eth0")], "ether host 02:42:ac:1e:01:00"),
    (["node1:eth0", "tcp[13:1]", "&", "2", "!=", "0"], [("node1", "eth0")], "tcp[13:1] & 2 != 0"),
    (["node1:eth0", "ip[", "2:2", "]", ">", "576"], [("node1", "eth0")], "ip[ 2:2 ] > 576"),
])
def test_words_split_into_interfaces_and_filter(words, ifaces, bpf):
    assert split_capture_args(words) == (ifaces, bpf)


@pytest.mark.parametrize("words", [["udp", "port", "53"], ["node1"], ["node1:"], [":eth0"], ["::1"], []])
def test_the_first_word_must_be_an_interface(words):
    with pytest.raises(ProbeError, match=r"^capture: '.*' is not TARGET:IFACE \(e\.g\. node1:eth0\)$"):
        split_capture_args(words)


def test_the_same_interface_twice_is_refused():
    with pytest.raises(ProbeError, match="^capture: node1:eth0 given twice$"):
        split_capture_args(["node1:eth0", "node2:eth0", "node1:eth0"])
    with pytest.raises(ProbeError, match="the same interface twice"):
        MultiCapture([("a", "eth0"), ("a", "eth0")])


def test_the_cli_hands_every_positional_word_on():
    a = vars(cli.parser().parse_args(["capture", "node1:eth0", "node2:eth0", "-c", "3", "udp", "port", "8472"]))
    assert split_capture_args([a["where"], *a["filter"]]) == ([("node1", "eth0"), ("node2", "eth0")],
                                                              "udp port 8472")


def test_merge_releases_an_item_only_when_no_source_can_precede_it():
    m = Merge(2)
    m.add(0, 1.0, "a1")
    assert list(m.ready()) == []                 # source 1 has said nothing yet
    m.add(1, 1.5, "b1")
    assert list(m.ready()) == [(1.0, 0, "a1")]   # b1 waits for source 0 to pass 1.5
    m.add(0, 2.0, "a2")
    assert list(m.ready()) == [(1.5, 1, "b1")]
    m.advance(1, 1.9)                            # a heartbeat: nothing before 1.9 to come from 1
    assert list(m.ready()) == []
    m.advance(1, 2.0)
    assert list(m.ready()) == [(2.0, 0, "a2")]
    m.add(1, 3.0, "b2")
    m.end(0)                                     # an ended source holds nothing back
    assert list(m.ready()) == [(3.0, 1, "b2")] and len(m) == 0


def test_merge_orders_by_time_then_source_then_arrival():
    m = Merge(3)
    for source, when, item in [(2, 5.0, "c"), (0, 5.0, "a"), (1, 1.0, "b"), (0, 5.0, "a2"), (1, 0.5, "b0")]:
        m.add(source, when, item)
    assert [item for _, _, item in m.rest()] == ["b0", "b", "a", "a2", "c"]


def test_merged_line_says_where_then_when_then_the_headers_outer_and_inner():
    pkt = Ether(bytes(Ether() / IP(src="192.168.0.21", dst="192.168.0.22") / UDP(sport=41234, dport=8472)
                      / VXLAN(vni=1) / Ether() / IP(src="172.30.76.7", dst="172.30.9.2") / ICMP(id=3, seq=1)))
    line = merged_line(Captured("node1:eth0", 1_700_000_000.25, pkt), width=12)
    assert line.startswith("node1:eth0   ") and ".250000 IP 192.168.0.21.41234 > 192.168.0.22.8472: " in line
    assert line.endswith("VXLAN, vni 1: IP 172.30.76.7 > 172.30.9.2: ICMP echo request, id 3, seq 1, length 8")


def test_stream_records_parse_also_when_split_across_reads(tmp_path):
    cap = MultiCapture([("ns-a", "eth0")], labels=["node1:eth0"])
    from netlab.probe.sniffer import _Source
    src = _Source("node1:eth0", "ns-a", "eth0")
    try:
        cap._sources.append(src)
        frame = bytes(Ether() / IP(dst="10.0.0.2") / ICMP())
        data = (struct.pack(runner.STREAM_HEAD, b"L", 0.0, 4) + struct.pack("<I", 1)
                + struct.pack(runner.STREAM_HEAD, b"P", 7.5, len(frame)) + frame
                + struct.pack(runner.STREAM_HEAD, b"H", 8.0, 0))
        with open(src.path, "ab") as f:
            for cut in (5, 30, len(data)):       # the worker's records arrive in pieces
                f.write(data[:cut])
                f.flush()
                data = data[cut:]
                cap._read(src)
        assert src.linktype == 1 and src.buffer == b""
        ((when, source, raw),) = list(cap._merge.rest())
        got = cap._packet(when, source, raw)
        assert (got.where, got.time, got.packet[IP].dst, got.packet.sniffed_on) == (
            "node1:eth0", 7.5, "10.0.0.2", "node1:eth0")
    finally:
        src.file.close()
        import os
        os.unlink(src.path)


def test_bad_limits_are_refused_before_anything_starts():
    with pytest.raises(ProbeError, match="count must be at least 1"):
        MultiCapture([("a", "eth0")], count=0)
    with pytest.raises(ProbeError, match="no interface to capture on"):
        MultiCapture([])
