#!/usr/bin/env python3
"""Cluster DNS: queries per second with dnsperf through the kube-dns Service, next to
dnsmasq alone serving the same names from memory over the same path, in the same run.

    python bench/dns.py [--seconds 10] [--rounds 2] [--rate 2000]

Brings up a seed lab and runs dnsperf in a node1 pod (business-manager-...-7l86b), so
every query crosses VXLAN to node2:
  - kube-dns: 10.254.0.2, the kube-dns Service (DNAT by kube-proxy's rules) -> the kube-dns
    pod 172.30.9.4: dnsmasq's cache in front of kubedns (netlab's records);
  - dnsmasq alone: the distribution's dnsmasq started by this script in a node2 pod's
    namespace (172.30.9.3, business-manager-...-zxmsx), answering the same three names
    from --host-record lines, behind a Service of its own (selector-less, Endpoints by
    hand), so the path is the same: DNAT on node1, VXLAN, a node2 pod.
Saturation (as fast as dnsperf goes, 4 clients), rounds alternating the two; then at
--rate queries/s for the latency percentiles. Prints both, and the ratio. Run as root.
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

# not this script's directory: this file would be the `dns` that dnspython's users import
# (the lab's pods forked from this process, kube-dns among them)
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

from netlab import layout  # noqa: E402
from netlab.lab import Lab  # noqa: E402
from netlab.model.seed import seed_cluster  # noqa: E402

# the three names, each an A record of a ClusterIP Service (what a client asks most)
NAMES = {"data-product.default.svc.cluster.local": "10.254.116.224",
         "business-manager.default.svc.cluster.local": "10.254.80.22",
         "kube-dns.kube-system.svc.cluster.local": "10.254.0.2"}
CLIENT = "business-manager-666f454f7f-7l86b"       # node1
SCRATCH = "business-manager-666f454f7f-zxmsx"      # node2, 172.30.9.3: nothing of its own on port 53
ALONE = """
apiVersion: v1
kind: Service
metadata: {name: dnsmasq-alone, namespace: default}
spec:
  ports: [{name: dns, port: 53, protocol: UDP, targetPort: 53}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: dnsmasq-alone, namespace: default}
subsets:
- addresses: [{ip: %s}]
  ports: [{name: dns, port: 53, protocol: UDP}]
"""


def dnsperf(ns: str, server: str, seconds: float, qfile: str, rate: int | None) -> tuple[float, list[float], str]:
    argv = ["ip", "netns", "exec", ns, "dnsperf", "-s", server, "-d", qfile, "-l", str(seconds), "-c", "4", "-v"]
    if rate:
        argv += ["-Q", str(rate)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    qps = float(re.search(r"Queries per second:\s+([\d.]+)", out).group(1))
    lost = re.search(r"Queries lost:\s+(\d+)", out).group(1)
    lat = [float(m) for m in re.findall(r"^> \S+ .* ([\d.]+)$", out, re.M)]
    return qps, lat, lost


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000 if values else float("nan")


def dnsmasq_alone(ns: str, ip: str) -> subprocess.Popen:
    """The distribution's dnsmasq holding the three names itself: no upstream, no files."""
    argv = ["ip", "netns", "exec", ns, "dnsmasq", "-k", "--cache-size=1000", "--no-resolv", "--no-hosts",
            "--conf-file=/dev/null", "--bind-interfaces", f"--listen-address={ip}", "--port=53",
            "--user=dnsmasq", "--pid-file=", "--log-facility=/dev/null", "--local-ttl=5",
            *(f"--host-record={name},{addr}" for name, addr in NAMES.items())]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=2, help="saturation runs of each, alternating")
    ap.add_argument("--rate", type=int, default=2000, help="queries/s for the latency run")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/dns.py: must be run as root", file=sys.stderr)
        return 1
    lab = Lab.up(seed_cluster(f"benchdns{os.getpid() % 1000}", time.time()))
    alone = None
    try:
        c = lab.cluster()
        pods = {p.name: p for p in c.pods}
        client = layout.pod_ns(c.name, pods[CLIENT])
        scratch = pods[SCRATCH]
        alone = dnsmasq_alone(layout.pod_ns(c.name, scratch), scratch.ip)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as m:
            m.write(ALONE % scratch.ip)
            m.flush()
            netlab = os.path.join(os.path.dirname(sys.executable), "netlab")
            subprocess.run([netlab, "apply", "-f", m.name, "--name", c.name], check=True, capture_output=True)
        alone_ip = next(s.cluster_ip for s in lab.cluster().services if s.name == "dnsmasq-alone")
        servers = {"kube-dns via Service 10.254.0.2": "10.254.0.2",
                   f"dnsmasq alone via Service {alone_ip}": alone_ip}
        for server in servers.values():          # both answer the names, the same way
            for name, addr in NAMES.items():
                got = subprocess.run(["ip", "netns", "exec", client, "dig", "+short", "+tries=2", f"@{server}", name],
                                     capture_output=True, text=True).stdout.strip()
                assert got == addr, (server, name, got)
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
            f.write("\n".join(f"{name} A" for name in NAMES) + "\n")
            f.flush()
            print(f"dnsperf from {CLIENT} (node1) to node2 over VXLAN, the same three names, "
                  f"{a.seconds:.0f} s per run, {a.rounds} rounds each, alternating:")
            qps: dict[str, list[float]] = {label: [] for label in servers}
            for _ in range(a.rounds):
                for label, server in servers.items():
                    q, _, lost = dnsperf(client, server, a.seconds, f.name, None)
                    qps[label].append(q)
                    print(f"  {label:38s} {q:8.0f} q/s  (lost {lost})", flush=True)
            for label, server in servers.items():
                _, lat, _ = dnsperf(client, server, a.seconds, f.name, a.rate)
                print(f"  {label:38s} best {max(qps[label]):8.0f} q/s, median {statistics.median(qps[label]):8.0f};"
                      f" at {a.rate} q/s: p50 {pct(lat, 0.5):.2f} ms, p99 {pct(lat, 0.99):.2f} ms")
            kd, dm = (statistics.median(qps[label]) for label in servers)
            print(f"  ratio kube-dns / dnsmasq alone (medians): {kd / dm:.2f}x   (target >= 0.8x)")
    finally:
        if alone is not None:
            alone.terminate()
            try:
                alone.wait(timeout=2)
            except subprocess.TimeoutExpired:
                alone.kill()
                alone.wait()
        lab.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
