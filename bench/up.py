#!/usr/bin/env python3
"""Lab build and removal times, next to the kernel floor for the same objects.

    python bench/up.py [--runs 5] [--pods 250]

Prints: the seed lab's `netlab up` / `netlab down` (the command a user types, and the
library call without Python's start-up), median of --runs; a 2-node lab with --pods pods
per node, up and down; and the floor: `ip -batch` creating the same namespaces, bridge,
veths into it and pod addresses, run here. Run as root; it removes all it creates.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from netlab import layout  # noqa: E402
from netlab.cni import bridge as cni  # noqa: E402
from netlab.kernel import netns  # noqa: E402
from netlab.lab import Lab  # noqa: E402
from netlab.model import topology  # noqa: E402
from netlab.model.seed import seed_cluster  # noqa: E402


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "netlab.cli", *args], check=True, stdout=subprocess.DEVNULL)


def big_cluster(name: str, pods_per_node: int):
    doc = {"nodes": [{"name": "node1", "ip": "192.168.0.21", "podCIDR": "172.30.0.0/23"},
                     {"name": "node2", "ip": "192.168.0.22", "podCIDR": "172.30.2.0/23"}],
           "deployments": [{"name": "web", "replicas": 2 * pods_per_node}]}
    return topology.parse(doc, name, time.time())


def ip_batch(ns: str | None, lines: list[str]) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".ip") as f:
        f.write("\n".join(lines) + "\n")
        f.flush()
        subprocess.run(["ip", *(["-n", ns] if ns else []), "-batch", f.name], check=True)


def floor(c) -> tuple[float, float]:
    """ip -batch for the same namespaces, docker0s, veths (ports, hairpin) and pod addresses.
    Returns (namespaces+veths+ports, pod-side addresses and routes)."""
    nodes = [layout.node_ns(c.name, n.name) for n in c.nodes]
    pods = [cni.pod_net(c, p) for p in c.pods]
    t = time.perf_counter()
    ip_batch(None, [f"netns add {n}" for n in nodes + [p.netns for p in pods]])
    for node, ns in zip(c.nodes, nodes):
        lines = [f"link add docker0 mtu {cni.MTU} type bridge", f"addr add {cni.bridge_address(node)} dev docker0",
                 "link set docker0 up"]
        for p in pods:
            if p.node == node.name:
                lines += [f"link add {p.veth} mtu {cni.MTU} type veth peer name eth0 mtu {cni.MTU} netns {p.netns}",
                          f"link set {p.veth} master docker0 up", f"link set {p.veth} type bridge_slave hairpin on"]
        ip_batch(ns, lines)
    ports = time.perf_counter() - t
    t = time.perf_counter()
    for p in pods:
        ip_batch(p.netns, ["link set lo up", f"addr add {p.address} dev eth0", "link set eth0 up",
                           f"route add default via {p.gateway} dev eth0"])
    addresses = time.perf_counter() - t
    for n in nodes + [p.netns for p in pods]:
        netns.remove(n)
    return ports, addresses


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--pods", type=int, default=250, help="pods per node in the large lab")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/up.py: must be run as root", file=sys.stderr)
        return 1
    name = f"bench{os.getpid() % 10000}"

    cli_up, cli_down, lib_up, lib_down = [], [], [], []
    for _ in range(a.runs):
        cli_up.append(timed(lambda: cli("up", "--name", name)))
        cli_down.append(timed(lambda: cli("down", "--name", name)))
        lab = None

        def up():
            nonlocal lab
            lab = Lab.up(seed_cluster(name, time.time()))
        lib_up.append(timed(up))
        lib_down.append(timed(lab.down))
    med = statistics.median
    print(f"seed lab, median of {a.runs}:")
    print(f"  netlab up    {med(cli_up):6.3f} s   (library call {med(lib_up):6.3f} s)   target <= 1.0 s")
    print(f"  netlab down  {med(cli_down):6.3f} s   (library call {med(lib_down):6.3f} s)   target <= 0.5 s")

    c = big_cluster(name, a.pods)
    lab = None

    def up_big():
        nonlocal lab
        lab = Lab.up(c)
    t_up = timed(up_big)
    t_down = timed(lab.down)
    ports, addrs = floor(big_cluster(name, a.pods))
    total = ports + addrs
    print(f"2 nodes x {a.pods} pods ({2 * a.pods} pods), one run:")
    print(f"  netlab up    {t_up:6.3f} s   ({t_up / total:.2f}x the floor; target <= 2x)")
    print(f"  netlab down  {t_down:6.3f} s")
    print(f"  floor (ip -batch) {total:6.3f} s = {ports:.3f} s namespaces+veths+ports "
          f"+ {addrs:.3f} s pod addresses and routes (one ip -batch per pod)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
