#!/usr/bin/env python3
"""Seed lab `up` until the walk-through's request returns products read from the database.

    python bench/app.py [--runs 3]

One cold run (a new MariaDB template: what the first `up` on a machine pays) and
--runs warm ones (the template reused), each from the start of `up` to the first
answer of business-manager -> data-product -> mysql -> MariaDB, asked from a node1 pod.
Run as root; it removes all it creates.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def one_run(name: str, env: dict) -> tuple[float, float]:
    """(seconds until `up` returned, seconds until the first end-to-end answer)."""
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "netlab.cli", "up", "--name", name], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    up = time.perf_counter() - t
    try:
        while True:
            r = subprocess.run(["ip", "netns", "exec", f"{name}-default.business-manager-666f454f7f-7l86b",
                                "curl", "-s", "-m", "2", "http://business-manager/api/v1/product/list"],
                               capture_output=True, text=True)
            try:
                if json.loads(r.stdout)["products"]:
                    return up, time.perf_counter() - t
            except (ValueError, KeyError):
                time.sleep(0.02)
    finally:
        subprocess.run([sys.executable, "-m", "netlab.cli", "down", "--name", name], env=env,
                       stdout=subprocess.DEVNULL)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/app.py: must be run as root", file=sys.stderr)
        return 1
    name = f"benchapp{os.getpid() % 1000}"
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        cold = one_run(name, {**os.environ, "NETLAB_DB_TEMPLATE": f"{tmp}/template"})
    warm = [one_run(name, dict(os.environ)) for _ in range(a.runs)]
    print("seed lab, from `netlab up` to the first answer with products from the database:")
    print(f"  cold (MariaDB template made)  up {cold[0]:5.2f} s, first answer {cold[1]:5.2f} s")
    print(f"  warm, median of {a.runs}           up {statistics.median(w[0] for w in warm):5.2f} s, "
          f"first answer {statistics.median(w[1] for w in warm):5.2f} s   (target <= 3 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
