#!/usr/bin/env python3
"""Scaling both shop deployments under load: failed requests, and how long each scale takes.

    python bench/scale.py [--connections 20] [--rounds 1] [--timeout 2s]

Brings up a seed lab and runs wrk (keep-alive) from `client` through the ingress (node1:30799),
from node1 to the business-manager Service and from node2 to the data-product Service; meanwhile
it scales business-manager then data-product 3 -> 1 -> 5 -> 3 each, one command after the other
as a user types `netlab scale deployment X --replicas N`. Prints each wrk's requests, socket
errors (connect, read, write, timeout) and non-2xx answers, each scale command's duration, and
a scale-down's once the load has stopped. Run as root; it removes all it creates.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time

# the repository instead of bench/ (whose dns.py would stand for dnspython in the pods forked from us)
sys.path[0] = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

from netlab import layout  # noqa: E402
from netlab.lab import Lab  # noqa: E402

HOST, PATH = "business-manager.default", "/api/v1/product/list"
STEPS = [(dep, n) for dep in ("business-manager", "data-product") for n in (1, 5, 3)]


def wrk_command(ns: str, url: str, connections: int, timeout: str, host: str | None) -> list[str]:
    """wrk until interrupted (SIGINT: it prints its figures), keep-alive."""
    return ["ip", "netns", "exec", ns, "wrk", "-t", "2", "-c", str(connections), "-d", "600s",
            "--timeout", timeout, *(["-H", f"Host: {host}"] if host else []), url]


def wrk_figures(out: str) -> dict:
    """requests, connect/read/write/timeout socket errors and non-2xx answers from wrk's report."""
    found = {"requests": int(re.search(r"(\d+) requests in", out).group(1)), "non2xx": 0,
             "connect": 0, "read": 0, "write": 0, "timeout": 0}
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if errors:
        found.update(zip(("connect", "read", "write", "timeout"), map(int, errors.groups())))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        found["non2xx"] = int(non2xx.group(1))
    return found


def scale(lab: str, dep: str, n: int) -> float:
    t = time.monotonic()
    subprocess.run([sys.executable, "-m", "netlab.cli", "scale", "deployment", dep, "--replicas", str(n),
                    "--name", lab], check=True, capture_output=True)
    return time.monotonic() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--timeout", default="2s", help="wrk's: a request unanswered this long fails")
    a = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("wrk"):
        print("bench/scale.py: must be run as root, with wrk installed", file=sys.stderr)
        return 1
    from netlab.model.seed import seed_cluster
    lab = Lab.up(seed_cluster(f"bscale{os.getpid() % 1000}", time.time()))
    try:
        c = lab.cluster()
        ip = {s.name: s.cluster_ip for s in c.services}
        targets = {"ingress (client -> node1:30799)": (layout.host_ns(c.name, "client"),
                                                       f"http://{c.nodes[0].ip}:30799{PATH}", HOST),
                   "business-manager Service (node1)": (layout.node_ns(c.name, "node1"),
                                                        f"http://{ip['business-manager']}{PATH}", None),
                   "data-product Service (node2)": (layout.node_ns(c.name, "node2"),
                                                    f"http://{ip['data-product']}:50051{PATH}", None)}
        loads = {name: subprocess.Popen(wrk_command(ns, url, a.connections, a.timeout, host),
                                        stdout=subprocess.PIPE, text=True)
                 for name, (ns, url, host) in targets.items()}
        try:
            time.sleep(1)
            took = [(dep, n, scale(c.name, dep, n)) for _ in range(a.rounds) for dep, n in STEPS]
            time.sleep(1)
        finally:
            for w in loads.values():
                w.send_signal(signal.SIGINT)
            figures = {name: wrk_figures(w.communicate(timeout=30)[0]) for name, w in loads.items()}
        quiet = [(dep, n, scale(c.name, dep, n)) for dep, n in (("business-manager", 1), ("business-manager", 3))]
    finally:
        lab.down()
    print(f"wrk -c {a.connections} (each) while scaling {', '.join(f'{d}->{n}' for d, n in STEPS)} x{a.rounds}")
    for name, f in figures.items():
        failed = f["connect"] + f["read"] + f["write"] + f["timeout"] + f["non2xx"]
        print(f"  {name:<34} requests {f['requests']:6d}  failed {failed:4d} (connect {f['connect']}, read {f['read']},"
              f" write {f['write']}, timeout {f['timeout']}, non-2xx {f['non2xx']})")
    for dep, n, s in took:
        print(f"  scale {dep:<17} --replicas {n}  {s:6.2f} s")
    print("without load:")
    for dep, n, s in quiet:
        print(f"  scale {dep:<17} --replicas {n}  {s:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
