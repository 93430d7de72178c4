#!/usr/bin/env python3
"""kube-proxy rule sync at scale, next to iptables-legacy-restore of the same text.

    python bench/proxy.py [--services 1000] [--endpoints 10] [--runs 3]

Prints, from one run: the full sync of S services x E endpoints into a fresh node
namespace by netlab (proxier.sync) and by a bare `iptables-legacy-restore` of the
identical ruleset text (the floor); then one endpoint change at that scale, from the
model change to the rules being in the kernel, next to the floor for rewriting one
chain (`iptables-legacy-restore --noflush`). Run as root; it removes all it creates.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from netlab.kernel import netns  # noqa: E402
from netlab.kube_proxy import build, proxier, to_text  # noqa: E402
from netlab.model.objects import (  # noqa: E402
    Cluster, EndpointAddress, EndpointPort, Endpoints, Node, Service, ServicePort,
)


def cluster(services: int, endpoints: int) -> Cluster:
    c = Cluster(name="bench", nodes=[Node("node1", "192.168.0.21", "172.30.76.0/24")])
    for i in range(services):
        c.services.append(Service(f"svc-{i}", "default", cluster_ip=f"10.254.{i // 250}.{i % 250 + 2}",
                                  ports=[ServicePort(80, "http", "TCP", 8080)]))
        c.endpoints.append(Endpoints(f"svc-{i}", "default",
                                     [EndpointAddress(f"10.{100 + i // 250}.{i % 250}.{j + 1}") for j in range(endpoints)],
                                     [EndpointPort(8080, "http")]))
    return c


def restore(ns: str, text: str, noflush: bool = False) -> float:
    t = time.perf_counter()
    subprocess.run(["iptables-legacy-restore", "-w"] + (["--noflush"] if noflush else []), input=text,
                   text=True, check=True, preexec_fn=netns.preexec(ns))
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--endpoints", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/proxy.py: must be run as root", file=sys.stderr)
        return 1
    c = cluster(a.services, a.endpoints)
    want = build(c, "node1", endpoints=c.endpoints)
    text = to_text(want)
    rules = text.count("\n-A ")
    names = [f"benchproxy{os.getpid()}-{i}" for i in range(2 * a.runs)]
    netns.create(names)
    try:
        floor, full, change, one_chain = [], [], [], []
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(a.runs):
                floor.append(restore(names[2 * i], text))
                cache = Path(tmp) / f"node-{i}.json"
                t = time.perf_counter()
                proxier.sync(names[2 * i + 1], want, cache)
                full.append(time.perf_counter() - t)
                # one endpoint goes away: model change -> rules -> kernel
                c.endpoints[i].addresses.pop()
                t = time.perf_counter()
                new = build(c, "node1", endpoints=c.endpoints)
                proxier.sync(names[2 * i + 1], new, cache)
                change.append(time.perf_counter() - t)
                want = new
                chain = next(ch for ch in new["nat"].chains if ch.startswith("KUBE-SVC-"))
                one = f"*nat\n:{chain} - [0:0]\n" + "\n".join(new["nat"].chains[chain]) + "\nCOMMIT\n"
                one_chain.append(restore(names[2 * i], one, noflush=True))
    finally:
        for n in names:
            netns.remove(n)
    med = statistics.median
    print(f"{a.services} services x {a.endpoints} endpoints = {rules} rules, median of {a.runs}:")
    print(f"  full sync, netlab        {med(full):6.3f} s   ({med(full) / med(floor):.2f}x the floor; target <= 1.2x)")
    print(f"  full sync, floor         {med(floor):6.3f} s   (iptables-legacy-restore of the same text)")
    print(f"  one endpoint change      {med(change) * 1000:6.0f} ms  (model -> rules in the kernel; target <= 50 ms)")
    print(f"  one-chain restore floor  {med(one_chain) * 1000:6.0f} ms  (iptables-legacy-restore --noflush of one chain "
          "at this table size)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
