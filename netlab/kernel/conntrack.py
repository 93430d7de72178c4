"""Connection tracking in a lab namespace, through pyroute2's netfilter netlink socket."""
from __future__ import annotations

import socket

from netlab.kernel import netns


def forget_udp_to(ns: str, ips: list[str]) -> int:
    """Delete UDP conntrack entries to these (service) addresses: as kube-proxy does when a
    UDP service gets endpoints, else a client's entry made while there were none (no NAT)
    keeps its packets going nowhere (a DNS client retries on the same socket for seconds)."""
    def work():
        from pyroute2 import Conntrack
        from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple
        netns.guard_not_root()
        deleted = 0
        ct = Conntrack()
        try:
            for ip in ips:
                for entry in list(ct.dump_entries(tuple_orig=NFCTAttrTuple(proto=socket.IPPROTO_UDP, daddr=ip))):
                    ct.delete(entry)
                    deleted += 1
        finally:
            ct.close()
        return deleted
    return netns.run_in(ns, work)
