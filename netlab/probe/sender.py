"""Sending packets from inside a namespace, and request/response, through a worker.

A packet is given as a scapy packet, raw bytes or a scapy expression string. A scapy
packet travels as its layers and the fields you set, never as built bytes: building
here would fill the source address, MACs and checksums from this process's (the
host's) routes. They are filled in by the worker, inside the namespace.

IP packets go out through the kernel (raw socket: its routes, ARP and netfilter, as
an application in a pod would send); Ether frames go out as they are on `iface`.
Bytes are an Ether frame when `iface` is given, else an IP packet.
"""
from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field
from typing import SupportsFloat, cast

from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.packet import NoPayload, Packet, Raw

from netlab.probe import runner

PacketLike = Packet | bytes | str


def _pack(pkt: PacketLike):
    if isinstance(pkt, Packet):
        layers, layer = [], pkt
        while not isinstance(layer, NoPayload):
            layers.append((type(layer), dict(layer.fields)))
            layer = layer.payload
        return ("layers", layers)
    if isinstance(pkt, (bytes, bytearray)):
        return ("bytes", bytes(pkt))
    if isinstance(pkt, str):
        return ("expr", pkt)
    raise TypeError(f"cannot send a {type(pkt).__name__}: give a scapy packet, bytes or a scapy expression")


def _packs(pkts: PacketLike | list[PacketLike]):
    return [_pack(p) for p in (pkts if isinstance(pkts, list) else [pkts])]


def send(ns: str, pkts: PacketLike | list[PacketLike], iface: str | None = None,
         inter: float = 0.0) -> int:
    """Send packets from namespace `ns` without waiting for answers; returns how many."""
    return runner.request(ns, {"op": "send", "packets": _packs(pkts), "iface": iface, "inter": inter})


def sr(ns: str, pkts: PacketLike | list[PacketLike], iface: str | None = None,
       timeout: float = 1.0, inter: float = 0.0) -> list[tuple[Packet, Packet | None]]:
    """Send packets from `ns` and collect answers: (sent, answer or None) in sending order.

    The sent packets are as built in the namespace (real source address, checksums).
    """
    return runner.request(ns, {"op": "sr", "packets": _packs(pkts), "iface": iface,
                               "timeout": timeout, "inter": inter})


def sr1(ns: str, pkt: PacketLike, iface: str | None = None, timeout: float = 1.0) -> Packet | None:
    """Send one packet from `ns` and return its first answer, or None."""
    pairs = sr(ns, pkt, iface=iface, timeout=timeout)
    return pairs[0][1] if pairs else None


@dataclass
class PingResult:
    dst: str
    rtts: list[float | None] = field(default_factory=list)   # seconds, None when unanswered
    replies: list[Packet | None] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return len(self.rtts)

    @property
    def received(self) -> int:
        return sum(r is not None for r in self.rtts)

    @property
    def ok(self) -> bool:
        """Every echo request was answered."""
        return self.sent > 0 and self.received == self.sent

    def __str__(self) -> str:
        answered = [r for r in self.rtts if r is not None]
        avg = f", avg {1000 * sum(answered) / len(answered):.3f} ms" if answered else ""
        return f"{self.dst}: {self.sent} sent, {self.received} received{avg}"


def ping(ns: str, dst: str, count: int = 1, timeout: float = 1.0, size: int = 56,
         inter: float = 0.0) -> PingResult:
    """ICMP echo from namespace `ns` to `dst`, `count` times (sent back to back by default).

    `timeout` is how long to wait for answers after the last request. ARP for the
    first hop is the kernel's, as for a real ping.
    """
    if count < 1:
        raise runner.ProbeError(f"ping count must be at least 1, not {count}")
    try:
        # an address, not a name: scapy would resolve a name here, with the host's resolver
        addr = ipaddress.ip_address(dst)
    except ValueError:
        raise runner.ProbeError(f"ping needs an IP address, not {dst!r}") from None
    ident = random.randrange(1, 0xFFFF)   # tells our echoes apart from any other ping
    requests: list[PacketLike]
    if addr.version == 4:
        requests = [IP(dst=dst) / ICMP(id=ident, seq=seq) / Raw(b"\x00" * size) for seq in range(1, count + 1)]
    else:
        requests = [IPv6(dst=dst) / ICMPv6EchoRequest(id=ident, seq=seq, data=b"\x00" * size)
                    for seq in range(1, count + 1)]
    pairs = sr(ns, requests, timeout=timeout, inter=inter)
    result = PingResult(dst)
    for sent, answer in pairs:
        result.replies.append(answer)
        sent_time = cast(SupportsFloat, sent.sent_time)   # set by scapy on every packet it sent
        result.rtts.append(None if answer is None else max(0.0, float(answer.time) - float(sent_time)))
    return result
