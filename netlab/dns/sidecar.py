"""The kube-dns pod's two helper containers, small versions of the add-on's.

    netlab-dnsmasq-metrics [--probe=NAME,HOST:PORT,QNAME,SECONDS,TYPE ...] [--port 10054]
    netlab-exechealthz --cmd='nslookup QNAME SERVER[:PORT] >/dev/null' --url=/PATH ... [--port 8080]

dnsmasq-metrics (k8s-dns-sidecar from 1.6 on) sends each probe's DNS query every SECONDS
and counts errors and latency; it reads dnsmasq's cache counters as the add-on did, by
CHAOS TXT queries (cachesize.bind, insertions.bind, evictions.bind, misses.bind,
hits.bind), and serves all of it as Prometheus text on /metrics, and the last probes'
results on /healthcheck/<name>. exechealthz answers each --url with the lookup of its
--cmd: 200 and the answer, or 503 and why not. The lookup is made here, not by running
nslookup (the flags keep the add-on's text).
"""
from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dns.exception
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype

BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)          # latency, ms
DNSMASQ_COUNTERS = ("max_size", "insertions", "evictions", "misses", "hits")
_CHAOS_NAMES = {"max_size": "cachesize.bind.", "insertions": "insertions.bind.", "evictions": "evictions.bind.",
                "misses": "misses.bind.", "hits": "hits.bind."}


def query(server: str, port: int, qname: str, qtype: str = "A", rdclass: str = "IN",
          timeout: float = 1.0) -> dns.message.Message:
    """One query over UDP; raises OSError (no answer) or ValueError (not an answer to it)."""
    q = dns.message.make_query(qname, qtype, rdclass)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.connect((server, port))
        s.send(q.to_wire())
        wire = s.recv(65535)
    r = dns.message.from_wire(wire)
    if r.id != q.id:
        raise ValueError("an answer to another query")
    return r


def lookup(server: str, port: int, qname: str, qtype: str = "A", timeout: float = 1.0) -> tuple[bool, str]:
    """(found, text): NOERROR with an answer, as nslookup reports success."""
    try:
        r = query(server, port, qname, qtype, timeout=timeout)
    except (OSError, ValueError, dns.exception.DNSException) as e:
        return False, f"{qname} at {server}#{port}: {e or type(e).__name__}"
    if r.rcode() != dns.rcode.NOERROR or not r.answer:
        return False, f"{qname} at {server}#{port}: {dns.rcode.to_text(r.rcode())}, {len(r.answer)} answers"
    return True, " ".join(str(rr) for rrset in r.answer for rr in rrset)


@dataclass
class Probe:
    name: str
    server: str
    port: int
    qname: str
    interval: float
    qtype: str
    errors: int = 0
    count: int = 0
    latency_sum: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    last_ok: bool = False
    last: str = "not probed yet"

    @classmethod
    def parse(cls, text: str) -> "Probe":
        """NAME,HOST:PORT,QNAME,SECONDS,TYPE as the sidecar's --probe takes it."""
        name, where, qname, interval, qtype = text.split(",")
        host, _, port = where.rpartition(":")
        return cls(name, host, int(port), qname, float(interval), qtype)

    def run_once(self) -> None:
        t = time.monotonic()
        ok, text = lookup(self.server, self.port, self.qname, self.qtype)
        ms = (time.monotonic() - t) * 1000
        self.count += 1
        self.latency_sum += ms
        for i, le in enumerate(BUCKETS):
            if ms <= le:
                self.buckets[i] += 1
        self.errors += not ok
        self.last_ok, self.last = ok, text


def dnsmasq_counters(server: str = "127.0.0.1", port: int = 53) -> dict[str, int]:
    """dnsmasq's cache statistics, from its CHAOS TXT answers (an absent one is left out)."""
    out = {}
    for key, qname in _CHAOS_NAMES.items():
        try:
            r = query(server, port, qname, "TXT", "CH", timeout=0.5)
            out[key] = int(r.answer[0][0].strings[0])
        except (OSError, ValueError, IndexError, dns.exception.DNSException):
            continue
    return out


def metrics_text(probes: list[Probe], counters: dict[str, int]) -> str:
    """Prometheus text, with the add-on's metric names."""
    lines = []
    for key in DNSMASQ_COUNTERS:
        if key in counters:
            lines += [f"# HELP kubedns_dnsmasq_{key} dnsmasq's {key.replace('_', ' ')} (its cache statistics)",
                      f"# TYPE kubedns_dnsmasq_{key} gauge", f"kubedns_dnsmasq_{key} {counters[key]}"]
    for p in probes:
        m = f"kubedns_probe_{p.name}"
        lines += [f"# HELP {m}_errors Errors of the {p.name} probe", f"# TYPE {m}_errors counter",
                  f"{m}_errors {p.errors}",
                  f"# HELP {m}_latency_ms Latency of the {p.name} probe, ms", f"# TYPE {m}_latency_ms histogram"]
        lines += [f'{m}_latency_ms_bucket{{le="{le}"}} {n}' for le, n in zip(BUCKETS, p.buckets)]
        lines += [f'{m}_latency_ms_bucket{{le="+Inf"}} {p.count}', f"{m}_latency_ms_sum {p.latency_sum:.3f}",
                  f"{m}_latency_ms_count {p.count}"]
    return "\n".join(lines) + "\n"


def _serve(port: int, routes) -> None:
    """GET only: routes(path) -> (status, text) or None (404)."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            found = routes(self.path.split("?")[0])
            status, body = found if found else (404, "404 page not found\n")
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


def metrics_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="netlab-dnsmasq-metrics", description=__doc__.splitlines()[0])
    p.add_argument("--probe", action="append", default=[], help="NAME,HOST:PORT,QNAME,SECONDS,TYPE")
    p.add_argument("--port", type=int, default=10054)
    p.add_argument("--dnsmasq-addr", default="127.0.0.1")
    p.add_argument("--dnsmasq-port", type=int, default=53)
    p.add_argument("--v", default="0")
    p.add_argument("--logtostderr", action="store_true")
    a = p.parse_args(argv)
    probes = [Probe.parse(x) for x in a.probe]

    def probing(probe: Probe) -> None:
        while True:
            was = probe.last_ok
            probe.run_once()
            if probe.last_ok != was or not probe.last_ok:
                print(f"probe {probe.name}: {'ok' if probe.last_ok else 'error'}: {probe.last}", flush=True)
            time.sleep(probe.interval)
    for probe in probes:
        threading.Thread(target=probing, args=(probe,), daemon=True).start()

    def routes(path: str):
        if path == "/metrics":
            return 200, metrics_text(probes, dnsmasq_counters(a.dnsmasq_addr, a.dnsmasq_port))
        for probe in probes:
            if path == f"/healthcheck/{probe.name}":
                return (200 if probe.last_ok else 503), probe.last + "\n"
        return None
    print(f"dnsmasq-metrics: /metrics on port {a.port}, probes {', '.join(x.name for x in probes) or 'none'}",
          flush=True)
    _serve(a.port, routes)
    return 0


def parse_cmd(cmd: str) -> tuple[str, str, int]:
    """`nslookup QNAME SERVER[:PORT] [>/dev/null]` -> (qname, server, port)."""
    words = [w for w in cmd.split() if not w.startswith(">")]
    if len(words) != 3 or words[0] != "nslookup":
        raise ValueError(f"--cmd {cmd!r}: netlab's exechealthz runs `nslookup NAME SERVER[:PORT]` only")
    server, _, port = words[2].partition(":")
    return words[1], server, int(port or 53)


def healthz_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="netlab-exechealthz", description="exechealthz: a lookup per URL")
    p.add_argument("--cmd", action="append", default=[])
    p.add_argument("--url", action="append", default=[])
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    if len(a.cmd) != len(a.url):
        p.error("one --url for each --cmd")
    try:
        checks = {url: parse_cmd(cmd) for cmd, url in zip(a.cmd, a.url)}
    except ValueError as e:
        p.error(str(e))

    def routes(path: str):
        if path not in checks:
            return None
        qname, server, port = checks[path]
        ok, text = lookup(server, port, qname)
        if not ok and not a.quiet:
            print(f"healthz {path}: {text}", flush=True)
        return (200, f"ok: {text}\n") if ok else (503, f"error: {text}\n")
    print(f"exechealthz on port {a.port}: {', '.join(checks)}", flush=True)
    _serve(a.port, routes)
    return 0


if __name__ == "__main__":
    sys.exit(metrics_main())
