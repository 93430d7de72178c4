"""kube-dns: an authoritative server for the cluster zone, run inside the kube-dns pod.

    netlab-kube-dns [--state /run/netlab/<lab>/state.json] [--port 53] [--notify-fd N]

In the seed's kube-dns pod it is the add-on's kubedns container, on port 10053 behind
dnsmasq (netlab.dns.addon); --notify-fd names a pipe it writes a byte to whenever the
records change, so that the pod clears dnsmasq's cache at once.

It reads the cluster from the lab's store (the "API server") and reloads when it
changes, within a fraction of a second and without restarting. Wire format is
dnspython's; names outside the cluster zone and the lab's reverse zones are REFUSED,
nothing is forwarded, unless the cluster names an upstream (cluster.dnsUpstream).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socketserver
import struct
import sys
import threading
import time
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from netlab.dns.records import TTL, Zone, build, resolve
from netlab.model.objects import Cluster

RELOAD_POLL = 0.1


class Store:
    """The zone, rebuilt whenever the lab's state file changes."""

    def __init__(self, path: str, on_change=None):
        self.path = path
        self.on_change = on_change       # called after the records changed (not at the first load)
        self.version: tuple[int, int, int] | None = None
        self.loaded = False
        # (zone, its answers by query): swapped as one
        self.current: tuple[Zone, dict[tuple[Any, ...], bytes]] = (Zone("cluster.local."), {})
        self._upstream: tuple[str, int] | None = None
        self.reload()

    @property
    def upstream(self) -> tuple[str, int] | None:
        return self._upstream

    def reload(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return
        version = (st.st_mtime_ns, st.st_ino, st.st_size)
        if version == self.version:
            return
        try:
            cluster = Cluster.from_dict(json.loads(open(self.path).read())["cluster"])
        except (ValueError, KeyError, OSError):
            return                       # mid-replacement: the next look gets it
        before, old_upstream = self.current[0], self._upstream
        self.current, self.version = (build(cluster), {}), version
        if cluster.dns_upstream:
            host, _, port = cluster.dns_upstream.partition(":")
            self._upstream = (host, int(port or 53))
        else:
            self._upstream = None
        zone = self.current[0]
        changed = (zone.records, zone.reverse, self._upstream) != (before.records, before.reverse, old_upstream)
        if self.on_change and changed and self.loaded:
            self.on_change()
        self.loaded = True

    def watch(self) -> None:
        while True:
            time.sleep(RELOAD_POLL)
            self.reload()


def respond(store: Store, wire: bytes, tcp: bool = False) -> bytes | None:
    try:
        query = dns.message.from_wire(wire)
    except Exception:        # noqa: BLE001 - malformed packets get no answer
        return None
    if not query.question:
        return None
    q = query.question[0]
    zone, cache = store.current
    upstream = store.upstream
    if upstream and not zone.served(q.name.to_text()):
        return _forward(query, upstream, tcp)
    # the name as asked (its case is echoed), EDNS or not and its size: they shape the answer
    key = (q.name.to_text(), q.rdtype, q.rdclass, query.flags & dns.flags.RD, query.edns, query.payload, tcp)
    cached = cache.get(key)
    if cached is None:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        response.flags &= ~dns.flags.RA
        if q.rdclass != dns.rdataclass.IN:
            response.set_rcode(dns.rcode.REFUSED)
        else:
            ans = resolve(zone, q.name.to_text(), dns.rdatatype.to_text(q.rdtype))
            response.set_rcode(dns.rcode.from_text(ans.rcode))
            if ans.rcode == "REFUSED":
                response.flags &= ~dns.flags.AA
            for section, items in ((response.answer, ans.answer), (response.authority, ans.authority)):
                for name, rtype, rdata in items:
                    rrset = dns.rrset.from_text(name, TTL, "IN", rtype, rdata)
                    existing = next((r for r in section if r.name == rrset.name and r.rdtype == rrset.rdtype), None)
                    if existing is not None:
                        existing.union_update(rrset)
                    else:
                        section.append(rrset)
        limit = 65535 if tcp else max(512, query.payload if query.edns >= 0 else 512)
        try:
            cached = response.to_wire(max_size=limit)
        except dns.exception.TooBig:     # too big for UDP: truncated, the client retries over TCP
            response.answer, response.authority, response.additional = [], [], []
            response.flags |= dns.flags.TC
            cached = response.to_wire()
        if len(cache) < 100_000:
            cache[key] = cached
    return wire[:2] + cached[2:]         # the query's own ID


def _forward(query, upstream: tuple[str, int], tcp: bool) -> bytes | None:
    """Only when a user configured an upstream: ask it, hand its answer back."""
    try:
        ask = dns.query.tcp if tcp else dns.query.udp
        return ask(query, upstream[0], port=upstream[1], timeout=1.5).to_wire()
    except (dns.exception.DNSException, OSError):
        response = dns.message.make_response(query)
        response.set_rcode(dns.rcode.SERVFAIL)
        return response.to_wire()


class UDPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        out = respond(self.server.store, data)
        if out is not None:
            sock.sendto(out, self.client_address)


class TCPHandler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            head = self.rfile.read(2)             # RFC 1035 4.2.2: two-byte length prefix
            if len(head) < 2:
                return
            out = respond(self.server.store, self.rfile.read(struct.unpack("!H", head)[0]), tcp=True)
            if out is not None:
                self.wfile.write(struct.pack("!H", len(out)) + out)


class UDPServer(socketserver.UDPServer):
    allow_reuse_address = True
    store: Store                         # set by main, read by the handlers


class TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    store: Store
    daemon_threads = True


def _notifier(fd: int):
    os.set_blocking(fd, False)

    def notify() -> None:
        try:
            os.write(fd, b"!")
        except (BlockingIOError, BrokenPipeError):
            pass                     # a byte is waiting already, or no one listens any more
    return notify


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="netlab-kube-dns", description=__doc__.splitlines()[0])
    p.add_argument("--state", default=os.environ.get("NETLAB_STATE"), help="the lab's state.json")
    p.add_argument("--port", "--dns-port", dest="port", type=int, default=53)
    p.add_argument("--domain", help="the cluster's zone (kube-dns's flag; the zone is the lab's dnsDomain)")
    p.add_argument("--notify-fd", type=int, help="a pipe to write a byte to when the records change")
    a = p.parse_args(argv)
    if not a.state:
        p.error("--state (or NETLAB_STATE) is required")
    store = Store(a.state, _notifier(a.notify_fd) if a.notify_fd is not None else None)
    udp = UDPServer(("0.0.0.0", a.port), UDPHandler)
    tcp = TCPServer(("0.0.0.0", a.port), TCPHandler)
    udp.store = tcp.store = store
    threading.Thread(target=store.watch, daemon=True).start()
    threading.Thread(target=tcp.serve_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"kube-dns serving {store.current[0].domain} on port {a.port} (udp, tcp)", flush=True)
    udp.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
