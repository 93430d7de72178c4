#!/usr/bin/env python3
"""netlab trace and netlab graph on the seed lab, as a user times them (the whole command).

    python bench/trace.py [--runs 5]

Prints, median (min-max) of --runs: `netlab trace` from business-manager on node1 to
`data-product` by name (DNS, rules, conntrack, captures; the endpoint is random, so some
runs cross to node2), the same trace to data-product's pod on node2 (always cross-node), and
`netlab graph -o FILE.svg`. Targets: trace <= 1 s, graph <= 0.5 s. Run as root.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

NETLAB = [sys.executable, "-m", "netlab.cli"]


def timed(argv: list[str]) -> float:
    t = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True)
    took = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"bench/trace.py: {' '.join(argv[2:])} failed: {(r.stdout + r.stderr).strip()[-400:]}")
    return took


def figure(values: list[float]) -> str:
    return f"{statistics.median(values):6.3f} s ({min(values):.3f}-{max(values):.3f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/trace.py: must be run as root (it builds a lab)", file=sys.stderr)
        return 1
    name = f"bt{os.getpid() % 10000}"
    subprocess.run(NETLAB + ["up", "--name", name], check=True, capture_output=True)    # as a user starts it
    try:
        bm = "business-manager-666f454f7f-7l86b"
        by_name = [timed(NETLAB + ["trace", "--name", name, bm, "data-product"]) for _ in range(a.runs)]
        cross = [timed(NETLAB + ["trace", "--name", name, bm, "data-product-6664c6dcb9-tkmms"]) for _ in range(a.runs)]
        with tempfile.TemporaryDirectory() as d:
            graph = [timed(NETLAB + ["graph", "--name", name, "-o", f"{d}/lab.svg"]) for _ in range(a.runs)]
    finally:
        subprocess.run(NETLAB + ["down", "--name", name], check=False, capture_output=True)
    print(f"seed lab, median (min-max) of {a.runs}, the whole command:")
    print(f"  netlab trace {bm} data-product        {figure(by_name)}   (target <= 1 s)")
    print(f"  netlab trace ... data-product pod on node2  {figure(cross)}")
    print(f"  netlab graph -o lab.svg                     {figure(graph)}   (target <= 0.5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
