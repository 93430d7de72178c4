"""Connection tracking in a lab namespace, through pyroute2's netfilter netlink socket."""
from __future__ import annotations

import socket

from netlab.kernel import netns
from netlab.kernel.api import already_gone


def forget_udp_to(ns: str, keep: dict[str, set[str]]) -> int:
    """Delete UDP conntrack entries to these (service) addresses unless they lead to one of
    the addresses kept for it (its ready endpoints), as kube-proxy does when a UDP
    service's endpoints change: an entry made while there were none (no NAT), or to an
    endpoint that is gone, keeps a client's packets going nowhere (a DNS client retries on
    the same socket for seconds). Entries to current endpoints stay: one made between the
    rules' update and this call is a query in flight whose answer must find its way back."""
    def work():
        from pyroute2 import Conntrack
        from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple
        netns.guard_not_root()
        deleted = 0
        ct = Conntrack()
        try:
            for ip, endpoints in keep.items():
                for entry in list(ct.dump_entries(tuple_orig=NFCTAttrTuple(proto=socket.IPPROTO_UDP, daddr=ip))):
                    if entry.tuple_reply.saddr in endpoints:
                        continue
                    deleted += delete(ct, entry)
        finally:
            ct.close()
        return deleted
    return netns.run_in(ns, work)


def delete(ct, entry) -> bool:
    """Delete one entry; False if it was gone already (it timed out, or another deleted it
    meanwhile: as wanted). Any other refusal is raised."""
    from pyroute2.netlink.exceptions import NetlinkError
    try:
        ct.delete(entry)
    except NetlinkError as e:
        if not already_gone(e):
            raise
        return False
    return True
