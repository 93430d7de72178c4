"""Packets on scapy: capture on any interface of any lab namespace, send from one,
decode VXLAN on flannel's port 8472, write pcap; reachability matrices (reach.py).

scapy caches interfaces and routes at import, in the namespace it was imported in, so
every capture and send runs in a worker process started inside the target namespace
(netlab.probe.worker); this process only builds requests and reads results. The names
below are imported when first used: `netlab probe` (reach.py) never loads scapy.
"""
from __future__ import annotations

import importlib

_WHERE = {"Capture": "sniffer", "capture": "sniffer", "sniff": "sniffer",
          "MultiCapture": "sniffer", "Captured": "sniffer", "capture_many": "sniffer",
          "FLANNEL_VXLAN_PORT": "decode", "VxlanInfo": "decode", "describe": "decode", "summary": "decode",
          "vxlan_info": "decode", "vxlan_layer": "decode",
          "PingResult": "sender", "ping": "sender", "send": "sender", "sr": "sender", "sr1": "sender",
          "ProbeError": "runner"}
__all__ = list(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'netlab.probe' has no attribute {name!r}")
    return getattr(importlib.import_module(f"netlab.probe.{_WHERE[name]}"), name)
