#!/usr/bin/env python3
"""How long `netlab graph` takes on the seed lab.

    python bench/graph.py [--runs 5]

Prints, median (min-max) of --runs:
- `netlab graph -o FILE.svg` as a user times it (the whole command: start-up, reading the
  lab's record, the DOT, Graphviz's dot drawing it), and the same with -o FILE.png;
- the pure `netlab.graph.dot(cluster)` alone (the record's cluster, read once), and
  `graph.render` of its text to SVG (dot's share).
Target: the command <= 0.5 s. Run as root; it brings a seed lab up and removes it.
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

from netlab import graph  # noqa: E402
from netlab.state import LabRecord  # noqa: E402

NETLAB = [sys.executable, "-m", "netlab.cli"]


def timed(argv: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def figure(values: list[float]) -> str:
    return f"{statistics.median(values):7.4f} s ({min(values):.4f}-{max(values):.4f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/graph.py: must be run as root", file=sys.stderr)
        return 1
    name = f"bench{os.getpid() % 10000}"
    subprocess.run(NETLAB + ["up", "--name", name], check=True, stdout=subprocess.DEVNULL)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            svg, png = os.path.join(tmp, "g.svg"), os.path.join(tmp, "g.png")
            cmd_svg = [timed(NETLAB + ["graph", "--name", name, "-o", svg]) for _ in range(a.runs)]
            cmd_png = [timed(NETLAB + ["graph", "--name", name, "-o", png]) for _ in range(a.runs)]
            size = os.path.getsize(svg)
        cluster = LabRecord(name).cluster()
        pure, drawn = [], []
        for _ in range(a.runs):
            t = time.perf_counter()
            text = graph.dot(cluster)
            pure.append(time.perf_counter() - t)
            t = time.perf_counter()
            graph.render(text, "svg")
            drawn.append(time.perf_counter() - t)
    finally:
        subprocess.run(NETLAB + ["down", "--name", name], check=True, stdout=subprocess.DEVNULL)
    print(f"seed lab ({len(cluster.pods)} pods, {len(cluster.services)} services), median (min-max) of {a.runs}:")
    print(f"  netlab graph -o FILE.svg   {figure(cmd_svg)}   target <= 0.5 s   ({size} bytes)")
    print(f"  netlab graph -o FILE.png   {figure(cmd_png)}")
    print(f"  graph.dot(cluster), pure   {figure(pure)}   ({len(text)} characters of DOT)")
    print(f"  graph.render(text, 'svg')  {figure(drawn)}   (Graphviz's dot)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
