"""Decoding captured packets: VXLAN on flannel's port and tcpdump-like one-line summaries.

Pure functions on scapy packets: no sockets, no namespaces, safe in any process.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from scapy.layers.dns import DNS
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6, _IPv6ExtHdr
from scapy.layers.l2 import ARP, Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet, bind_layers

FLANNEL_VXLAN_PORT = 8472

# flannel (like the Linux kernel's default) uses 8472, not IANA's 4789. Recent scapy
# binds 8472 already; binding it here keeps older releases right and makes
# UDP()/VXLAN() build with flannel's port.
bind_layers(UDP, VXLAN, dport=FLANNEL_VXLAN_PORT)

_IP_PROTOS = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmp6", 132: "sctp"}
# tcpdump's order and letters for TCP flags ("." is ACK)
_TCP_FLAGS = [("F", "F"), ("S", "S"), ("R", "R"), ("P", "P"), ("A", "."), ("U", "U"),
              ("E", "E"), ("C", "W")]


@dataclass(frozen=True)
class VxlanInfo:
    """The outer and inner headers of one VXLAN packet, as flannel debugging needs them."""
    outer_src: str
    outer_dst: str
    sport: int
    dport: int
    vni: int
    inner_src_mac: str | None
    inner_dst_mac: str | None
    inner_src: str | None     # inner IP (or ARP sender) address
    inner_dst: str | None     # inner IP (or ARP target) address
    inner_proto: str | None   # "icmp", "tcp", "udp", "arp", ... or the IP protocol number


def vxlan_layer(pkt: Packet) -> VXLAN | None:
    """The VXLAN layer of a packet sent to UDP 8472 (or any port scapy decodes as VXLAN).

    scapy picks a UDP payload by the first matching port binding, so a source port
    that happens to be bound to something else (53, 5353, ...) can hide VXLAN:
    redissect the payload when the destination port says it is ours.
    """
    if VXLAN in pkt:
        return pkt[VXLAN]
    if UDP in pkt and pkt[UDP].dport == FLANNEL_VXLAN_PORT and pkt[UDP].payload:
        return VXLAN(bytes(pkt[UDP].payload))
    return None


def vxlan_info(pkt: Packet) -> VxlanInfo | None:
    """Outer src/dst, VNI and inner src/dst/proto of a VXLAN packet; None for other packets."""
    vx = vxlan_layer(pkt)
    if vx is None:
        return None
    outer = pkt[IP] if IP in pkt else pkt[IPv6]
    udp = pkt[UDP]
    inner = vx.payload
    src_mac = dst_mac = src = dst = proto = None
    if isinstance(inner, Ether):
        src_mac, dst_mac = inner.src, inner.dst
    if ARP in inner:
        src, dst, proto = inner[ARP].psrc, inner[ARP].pdst, "arp"
    elif IP in inner:
        ip = inner[IP]
        src, dst, proto = ip.src, ip.dst, _IP_PROTOS.get(ip.proto, str(ip.proto))
    elif IPv6 in inner:
        ip6 = inner[IPv6]
        src, dst, proto = ip6.src, ip6.dst, _IP_PROTOS.get(ip6.nh, str(ip6.nh))
    return VxlanInfo(outer.src, outer.dst, udp.sport, udp.dport, vx.vni,
                     src_mac, dst_mac, src, dst, proto)


def summary(pkt: Packet, iface: str | None = None) -> str:
    """One tcpdump-like line: time, interface, headers (outer and inner for VXLAN)."""
    when = datetime.datetime.fromtimestamp(float(pkt.time)).strftime("%H:%M:%S.%f")
    on = iface or pkt.sniffed_on   # scapy may give a NetworkInterface, shown by its name
    try:
        text = describe(pkt)
    except Exception:   # noqa: BLE001 - a malformed packet must not end a capture
        text = f"{pkt.summary()} (malformed?)"
    return f"{when} {on} {text}" if on else f"{when} {text}"


def describe(pkt: Packet) -> str:
    """The headers part of a summary line, without time and interface."""
    if isinstance(pkt, Ether):
        if isinstance(pkt.payload, (ARP, IP, IPv6)):
            return describe(pkt.payload)   # tcpdump shows MACs only with -e
        return f"{pkt.src} > {pkt.dst}, ethertype 0x{pkt.type:04x}, length {len(pkt)}"
    if isinstance(pkt, ARP):
        if pkt.op == 1:
            return f"ARP, Request who-has {pkt.pdst} tell {pkt.psrc}, length {len(pkt)}"
        if pkt.op == 2:
            return f"ARP, Reply {pkt.psrc} is-at {pkt.hwsrc}, length {len(pkt)}"
        return f"ARP, op {pkt.op}, length {len(pkt)}"
    if isinstance(pkt, (IP, IPv6)):
        return _describe_ip(pkt)
    return pkt.summary()


def _describe_ip(ip: Packet) -> str:
    family = "IP" if isinstance(ip, IP) else "IP6"
    l4 = ip.payload
    while isinstance(l4, _IPv6ExtHdr):   # hop-by-hop etc.: show what they carry
        l4 = l4.payload
    if isinstance(l4, (TCP, UDP)):
        head = f"{family} {ip.src}.{l4.sport} > {ip.dst}.{l4.dport}: "
        if isinstance(l4, TCP):
            flags = "".join(c for f, c in _TCP_FLAGS if f in l4.flags)
            data = len(l4.payload)
            return head + f"Flags [{flags}], seq {l4.seq}, ack {l4.ack}, win {l4.window}, length {data}"
        vx = vxlan_layer(ip)
        if vx is not None:
            return head + f"VXLAN, vni {vx.vni}: {describe(vx.payload)}"
        if isinstance(l4.payload, DNS):
            return head + _describe_dns(l4.payload)
        return head + f"UDP, length {len(l4.payload)}"
    head = f"{family} {ip.src} > {ip.dst}: "
    if isinstance(l4, ICMP):
        if l4.type in (0, 8):
            kind = "echo reply" if l4.type == 0 else "echo request"
            return head + f"ICMP {kind}, id {l4.id}, seq {l4.seq}, length {len(l4)}"
        return head + f"ICMP {l4.sprintf('%type%')} {l4.sprintf('%code%')}, length {len(l4)}"
    if isinstance(l4, (ICMPv6EchoRequest, ICMPv6EchoReply)):
        kind = "echo reply" if isinstance(l4, ICMPv6EchoReply) else "echo request"
        return head + f"ICMP6, {kind}, id {l4.id}, seq {l4.seq}, length {len(l4)}"
    if isinstance(ip, IP):
        return head + f"{_IP_PROTOS.get(ip.proto, 'proto ' + str(ip.proto))}, length {len(l4)}"
    return head + f"{l4.name}, length {len(l4)}"


def _describe_dns(dns: DNS) -> str:
    question = dns.qd[0] if dns.qdcount and dns.qd else None
    name = question.qname.decode(errors="replace") if question else "?"
    qtype = question.sprintf("%qtype%") if question else "?"
    if not dns.qr:
        return f"DNS {dns.id} {qtype}? {name}"
    answers = [str(rr.rdata) for rr in (dns.an or [])][:3]
    return f"DNS {dns.id} {dns.sprintf('%rcode%')} {qtype} {name} {' '.join(answers)}".rstrip()
