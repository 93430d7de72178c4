#!/usr/bin/env python3
"""How long `netlab probe` takes: a 30x30 reachability matrix measured with real connections.

    python bench/probe.py [--runs 5] [--pods 30]

Builds a lab of --pods pods over 2 nodes (network only: the probe's own listeners answer),
then prints, median (min-max) of --runs:
- the library call `netlab.probe.reach.probe` on 80/TCP and on 5353/UDP (one forked child:
  listeners in every pod, every connection started, one selector loop);
- the whole `netlab probe --port 80` command as a user times it (start-up, the lab's
  record, the probe, forgetting its UDP conntrack entries, printing).
Target: well under 10 s for 30x30 on one port. Run as root; it removes all it creates.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from netlab import layout  # noqa: E402
from netlab.lab import Lab  # noqa: E402
from netlab.model import topology  # noqa: E402
from netlab.probe.reach import Endpoint, forget_udp_flows, probe, udp_flows  # noqa: E402


def figure(values: list[float]) -> str:
    return f"{statistics.median(values):6.3f} s ({min(values):.3f}-{max(values):.3f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--pods", type=int, default=30, help="pods of the lab, over 2 nodes")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/probe.py: must be run as root", file=sys.stderr)
        return 1
    name = f"bprobe{os.getpid() % 10000}"
    c = topology.parse({"nodes": [{"name": "node1", "ip": "192.168.0.21", "podCIDR": "172.30.1.0/24"},
                                  {"name": "node2", "ip": "192.168.0.22", "podCIDR": "172.30.2.0/24"}],
                        "deployments": [{"name": "web", "replicas": a.pods}]}, name, time.time())
    for p in c.pods:
        p.command, p.container_ports = [], {}
    lab = Lab.up(c)
    try:
        pods = [Endpoint(f"{p.namespace}/{p.name}", layout.pod_ns(name, p), p.ip) for p in c.pods]
        nodes = [layout.node_ns(name, n.name) for n in c.nodes]
        print(f"{len(pods)}x{len(pods)} matrix, 2 nodes, median (min-max) of {a.runs}:")
        for port in (("TCP", 80), ("UDP", 5353)):
            took, open_cells = [], 0
            for _ in range(a.runs):
                t = time.perf_counter()
                (m,) = probe(pods, pods, [port])
                took.append(time.perf_counter() - t)
                open_cells = sum(m.allowed.values())
                forget_udp_flows(nodes, udp_flows(pods, pods, [port]))
            print(f"  probe() {port[0]}/{port[1]:<5}   {figure(took)}   {open_cells} of {len(m.allowed)} open"
                  f"   target well under 10 s")
        cli = []
        for _ in range(a.runs):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "netlab.cli", "probe", "--name", name, "--port", "80"],
                           check=True, stdout=subprocess.DEVNULL)
            cli.append(time.perf_counter() - t)
        print(f"  netlab probe --port 80   {figure(cli)}   (the whole command)")
    finally:
        lab.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
