#!/usr/bin/env python3
"""Cluster DNS: queries per second and latency with dnsperf, through the Service and direct.

    python bench/dns.py [--seconds 10] [--rate 2000]

Brings up a seed lab, runs dnsperf in a node1 pod (kube-dns is on node2, so every
query crosses VXLAN) against 10.254.0.2 (the kube-dns Service: DNAT by kube-proxy's
rules) and against the pod's own address 172.30.9.4; first as fast as it goes
(saturation), then at --rate queries/s for the latency percentiles. Run as root.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from netlab import layout  # noqa: E402
from netlab.lab import Lab  # noqa: E402
from netlab.model.seed import seed_cluster  # noqa: E402

QUERIES = ["data-product.default.svc.cluster.local A", "business-manager.default.svc.cluster.local A",
           "_data-product._tcp.data-product.default.svc.cluster.local SRV",
           "kube-dns.kube-system.svc.cluster.local A", "172-30-9-2.default.pod.cluster.local A",
           "224.116.254.10.in-addr.arpa PTR", "nosuch.default.svc.cluster.local A"]


def dnsperf(ns: str, server: str, seconds: float, qfile: str, rate: int | None) -> tuple[float, list[float]]:
    argv = ["ip", "netns", "exec", ns, "dnsperf", "-s", server, "-d", qfile, "-l", str(seconds), "-c", "4", "-v"]
    if rate:
        argv += ["-Q", str(rate)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    qps = float(re.search(r"Queries per second:\s+([\d.]+)", out).group(1))
    lat = [float(m) for m in re.findall(r"^> \S+ .* ([\d.]+)$", out, re.M)]
    return qps, lat


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000 if values else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rate", type=int, default=2000, help="queries/s for the latency run")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/dns.py: must be run as root", file=sys.stderr)
        return 1
    lab = Lab.up(seed_cluster(f"benchdns{os.getpid() % 1000}", time.time()))
    try:
        c = lab.cluster()
        pod = layout.pod_ns(c.name, next(p for p in c.pods if p.name == "business-manager-666f454f7f-7l86b"))
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
            f.write("\n".join(QUERIES * 20) + "\n")
            f.flush()
            print(f"dnsperf from a node1 pod, {a.seconds:.0f} s per run:")
            for label, server in (("via Service 10.254.0.2", "10.254.0.2"), ("pod IP 172.30.9.4   ", "172.30.9.4")):
                qps, _ = dnsperf(pod, server, a.seconds, f.name, None)
                _, lat = dnsperf(pod, server, a.seconds, f.name, a.rate)
                print(f"  {label}  saturation {qps:8.0f} q/s   at {a.rate} q/s: p50 {pct(lat, 0.5):.2f} ms, "
                      f"p99 {pct(lat, 0.99):.2f} ms, mean {statistics.mean(lat) * 1000 if lat else 0:.2f} ms")
            print("  targets: >= 5,000 q/s, p99 < 5 ms")
    finally:
        lab.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
