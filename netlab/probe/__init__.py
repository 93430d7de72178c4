"""Packets on scapy: capture on any interface of any lab namespace, send from one,
decode VXLAN on flannel's port 8472, write pcap.

scapy caches interfaces and routes at import, in the namespace it was imported in, so
every capture and send runs in a worker process started inside the target namespace
(netlab.probe.worker); this process only builds requests and reads results.
"""
from netlab.probe.sniffer import Capture, capture, sniff
from netlab.probe.decode import FLANNEL_VXLAN_PORT, VxlanInfo, describe, summary, vxlan_info, vxlan_layer
from netlab.probe.sender import PingResult, ping, send, sr, sr1
from netlab.probe.runner import ProbeError

__all__ = [
    "Capture", "capture", "sniff",
    "FLANNEL_VXLAN_PORT", "VxlanInfo", "describe", "summary", "vxlan_info", "vxlan_layer",
    "PingResult", "ping", "send", "sr", "sr1",
    "ProbeError",
]
