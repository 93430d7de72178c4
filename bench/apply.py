#!/usr/bin/env python3
"""`netlab apply -f` at scale, next to the kernel's floor for the same rules, from one run.

    python bench/apply.py [--services 1000] [--endpoints 10] [--runs 3]

Writes one file of S Services (no clusterIP: netlab allocates them) and S hand-written
Endpoints of E addresses each (2 x S documents), brings up the seed lab under a name of
its own, and times, median (min-max) of --runs, as a user times the commands:
- `netlab apply -f FILE` into the fresh lab (every object created, both nodes' rules);
- the same command again (every object unchanged);
- the floor: `iptables-legacy-restore` of the nat tables that apply left on node1 and
  node2 (read back with iptables-legacy-save) into two fresh namespaces, one after the other.
Run as root; it removes all it creates.
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
from netlab.kernel import netns  # noqa: E402

NETLAB = [sys.executable, "-m", "netlab.cli"]


def manifest(services: int, endpoints: int) -> str:
    """S Services and their Endpoints (addresses outside the cluster, as for a database)."""
    docs = []
    for i in range(services):
        docs.append(f"apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\n  namespace: default\n"
                    f"spec:\n  ports:\n  - name: http\n    port: 80\n    protocol: TCP\n    targetPort: 8080\n")
        addresses = "".join(f"  - ip: 10.{100 + i // 250}.{i % 250}.{j + 1}\n" for j in range(endpoints))
        docs.append(f"apiVersion: v1\nkind: Endpoints\nmetadata:\n  name: svc-{i}\n  namespace: default\n"
                    f"subsets:\n- addresses:\n{addresses}  ports:\n  - name: http\n    port: 8080\n"
                    f"    protocol: TCP\n")
    return "---\n".join(docs)


def timed(argv: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    r = subprocess.run(argv, check=True, capture_output=True, text=True)
    return time.perf_counter() - t, r.stdout


def nat_table(ns: str) -> str:
    return subprocess.run(["iptables-legacy-save", "-t", "nat"], check=True, capture_output=True, text=True,
                          preexec_fn=netns.preexec(ns)).stdout


def restore_floor(tables: list[str], names: list[str]) -> float:
    t = time.perf_counter()
    for ns, text in zip(names, tables):
        subprocess.run(["iptables-legacy-restore", "-w"], input=text, text=True, check=True,
                       preexec_fn=netns.preexec(ns))
    return time.perf_counter() - t


def figure(values: list[float]) -> str:
    return f"{statistics.median(values):6.3f} s ({min(values):.3f}-{max(values):.3f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--endpoints", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/apply.py: must be run as root", file=sys.stderr)
        return 1
    name = f"benchapply{os.getpid() % 10000}"
    created, unchanged, floor, rules = [], [], [], 0
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(manifest(a.services, a.endpoints))
        f.flush()
        for run in range(a.runs):
            subprocess.run(NETLAB + ["up", "--name", name], check=True, capture_output=True)
            fresh = [f"{name}-floor{run}-{i}" for i in (1, 2)]
            try:
                seconds, out = timed(NETLAB + ["apply", "--name", name, "-f", f.name])
                assert out.count(" created\n") == 2 * a.services, out[-300:]
                created.append(seconds)
                seconds, out = timed(NETLAB + ["apply", "--name", name, "-f", f.name])
                assert out.count(" unchanged\n") == 2 * a.services, out[-300:]
                unchanged.append(seconds)
                tables = [nat_table(layout.node_ns(name, node)) for node in ("node1", "node2")]
                rules = tables[0].count("\n-A ")
                netns.create(fresh)
                floor.append(restore_floor(tables, fresh))
            finally:
                for ns in fresh:
                    if netns.exists(ns):
                        netns.remove(ns)
                subprocess.run(NETLAB + ["down", "--name", name], check=True, capture_output=True)
    med = statistics.median
    print(f"{a.services} services x {a.endpoints} endpoints ({2 * a.services} documents, {rules} nat rules "
          f"per node), median (min-max) of {a.runs}:")
    print(f"  netlab apply, all created    {figure(created)}   ({med(created) / med(floor):.2f}x the floor; "
          "target <= 3x)")
    print(f"  netlab apply, all unchanged  {figure(unchanged)}   ({med(unchanged) / med(floor):.2f}x)")
    print(f"  floor                        {figure(floor)}   (iptables-legacy-restore of both nodes' nat "
          "tables into two namespaces)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
