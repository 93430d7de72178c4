#!/usr/bin/env python3
"""The seed request through the ingress, against the same request sent straight to a pod.

    python bench/ingress.py [--seconds 10] [--connections 32]

Brings up a seed lab, then measures with wrk:
  ingress  from `client`: node1:30799 (NodePort) -> nginx -> business-manager Service -> a pod
  direct   from node1: a business-manager pod's IP, port 8080
Both answer GET /api/v1/product/list, which business-manager serves by asking data-product,
which reads MariaDB: the difference between the two is the cost of the NodePort, ingress
and Service hops. Each is run paced at about 100 requests/s (4 connections, each waiting
35 ms between requests; wrk has no fixed-rate mode) and unpaced (--connections) for the
saturation rate. Run as root; it removes all it creates.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from netlab import layout  # noqa: E402
from netlab.lab import Lab  # noqa: E402

HOST, PATH = "business-manager.default", "/api/v1/product/list"
PACED = 'function delay() return 35 end\n'


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(ns: str, url: str, seconds: int, connections: int, script: str | None, host: str | None) -> dict:
    cmd = ["ip", "netns", "exec", ns, "wrk", "--latency", "-t", "2" if connections > 1 else "1",
           "-c", str(connections), "-d", f"{seconds}s", "--timeout", "5s"]
    if host:
        cmd += ["-H", f"Host: {host}"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {int(p): _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rate": rate, "p50": pct[50], "p99": pct[99], "non2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(1) if socket_errors else ""}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/ingress.py: must be run as root", file=sys.stderr)
        return 1
    if not shutil.which("wrk"):
        print("bench/ingress.py: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    from netlab.model.seed import seed_cluster
    import time
    lab = Lab.up(seed_cluster(f"benching{os.getpid() % 1000}", time.time()))
    try:
        c = lab.cluster()
        pod = next(p for p in c.pods if p.name.startswith("business-manager-") and p.node == "node1")
        client, node1 = layout.host_ns(c.name, "client"), layout.node_ns(c.name, "node1")
        paths = {"ingress": (client, f"http://{c.nodes[0].ip}:30799{PATH}", HOST),
                 "direct": (node1, f"http://{pod.ip}:8080{PATH}", None)}
        with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
            script.write(PACED)
            script.flush()
            for name, (ns, url, host) in paths.items():        # warm up: connections, caches
                wrk(ns, url, 2, 4, None, host)
            results = {(name, mode): wrk(ns, url, a.seconds, conns, lua, host)
                       for mode, conns, lua in (("paced", 4, script.name), ("saturated", a.connections, None))
                       for name, (ns, url, host) in paths.items()}
    finally:
        lab.down()
    print(f"GET {PATH} (business-manager -> data-product -> MariaDB), wrk {a.seconds} s each, 2 cores")
    print(f"{'path':<48} {'mode':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    labels = {"ingress": "client -> NodePort -> nginx -> Service -> pod",
              "direct": "node1 -> pod IP:8080"}
    for (name, mode), r in results.items():
        print(f"{labels[name]:<48} {mode:<10} {r['rate']:8.0f} {r['p50']:8.2f} {r['p99']:8.2f} "
              f"{r['non2xx']:7d} {r['socket_errors']}")
    hop = results[("ingress", "paced")]["p50"] - results[("direct", "paced")]["p50"]
    print(f"ingress path p50 minus direct p50 at ~100 requests/s: {hop:.2f} ms (target <= 2 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
