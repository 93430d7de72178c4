#!/usr/bin/env python3
"""Lab build and removal times, next to Mininet and the kernel floor, from the same run.

    python bench/up.py [--runs 3] [--pods 60] [--nodes 3] [--no-mininet] [--floor-pods 250]

Prints, median (min-max) of --runs:
- the seed lab's `netlab up` and `netlab down` as a user times them (the whole command),
  their sum, and next to it Mininet 2.3 starting and stopping 12 bare hosts on two Linux
  bridges (`mn --topo linear,2,6 --switch lxbr --controller none --test none`; Debian's
  mininet and bridge-utils are installed when missing);
- the CLI's start-up: `netlab get pods` and `netlab --help` on the running seed lab;
- a lab of --nodes x --pods pods from a topology file, without processes (the network
  alone) and with a small Python server in every pod (netlab-whoami), up and down, and
  the pods' processes' memory together (PSS: shared pages counted once);
- the floor: `ip -batch` creating 2 nodes x --floor-pods pods' namespaces, bridge, veths
  and addresses, next to netlab's up of the same lab (network only).
Run as root; it removes all it creates.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from netlab.lab import Lab  # noqa: E402
from netlab.model import topology  # noqa: E402

import ip_floor  # noqa: E402

NETLAB = [sys.executable, "-m", "netlab.cli"]
MININET = ["mn", "--topo", "linear,2,6", "--switch", "lxbr", "--controller", "none", "--test", "none"]


def timed(argv: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def figure(values: list[float]) -> str:
    return f"{statistics.median(values):6.3f} s ({min(values):.3f}-{max(values):.3f})"


def ensure_mininet() -> bool:
    if shutil.which("mn") and shutil.which("brctl"):
        return True
    print("installing Debian's mininet and bridge-utils (apt) ...", flush=True)
    r = subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "mininet", "bridge-utils"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return r.returncode == 0 and bool(shutil.which("mn"))


def topology_lab(name: str, nodes: int, pods: int, processes: bool):
    """nodes x pods of a topology file's deployment: each pod runs netlab-whoami, or nothing."""
    doc = {"nodes": [{"name": f"node{i + 1}", "ip": f"192.168.0.{21 + i}", "podCIDR": f"172.30.{i}.0/24"}
                     for i in range(nodes)],
           "cluster": {"clusterCIDR": "172.30.0.0/16"},
           "deployments": [{"name": "web", "replicas": nodes * pods,
                            "containers": [{"name": "web", "command": ["netlab-whoami", "--port", "8080"],
                                            "ports": [{"containerPort": 8080}]}]}]}
    c = topology.parse(doc, name, time.time())
    if not processes:
        for p in c.pods:
            p.command, p.container_ports = [], {}
    return c


def pss_kib(name: str) -> tuple[int, int]:
    """(pods, PSS in KiB) of the lab's pods' processes (smaps_rollup): each recorded one
    and all under it (a pod's shim, its PID 1 and what that started)."""
    from netlab.kernel.process import descendants
    state = Lab(name).state()
    total, count = 0, 0
    for key, proc in state["procs"].items():
        if not key.startswith("pod/"):
            continue
        count += 1
        for pid in (proc["pid"], *descendants(proc["pid"])):
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    total += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
            except (OSError, StopIteration):
                continue
    return count, total


def floor(c) -> float:
    """ip -batch for the same namespaces, docker0s, veths (ports, hairpin) and pod addresses."""
    names, phases = ip_floor.build(c)
    ip_floor.remove(names)
    return sum(phases.values())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--nodes", type=int, default=3, help="nodes of the topology lab")
    ap.add_argument("--pods", type=int, default=60, help="pods per node of the topology lab")
    ap.add_argument("--floor-pods", type=int, default=250, help="pods per node for the ip -batch floor")
    ap.add_argument("--no-mininet", action="store_true", help="skip Mininet")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/up.py: must be run as root", file=sys.stderr)
        return 1
    name = f"bench{os.getpid() % 10000}"
    mininet = not a.no_mininet and ensure_mininet()

    up, down, mn, get, helptime = [], [], [], [], []
    for _ in range(a.runs):       # interleaved, so both see the same machine
        up.append(timed(NETLAB + ["up", "--name", name]))
        get.append(timed(NETLAB + ["get", "pods", "--name", name]))
        helptime.append(timed(NETLAB + ["--help"]))
        down.append(timed(NETLAB + ["down", "--name", name]))
        if mininet:
            mn.append(timed(MININET))
    print(f"seed lab, median (min-max) of {a.runs}, as a user times the commands:")
    print(f"  netlab up            {figure(up)}")
    print(f"  netlab down          {figure(down)}")
    total = [u + d for u, d in zip(up, down)]
    print(f"  up + down            {figure(total)}")
    if mn:
        ratio = statistics.median(total) / statistics.median(mn)
        print(f"  Mininet start+stop   {figure(mn)}   (12 hosts, 2 bridges)")
        print(f"  ratio                {ratio:6.2f}x   target <= 1.0x")
    print(f"  netlab get pods      {figure(get)}   target < 0.15 s")
    print(f"  netlab --help        {figure(helptime)}")

    print(f"{a.nodes} nodes x {a.pods} pods (a topology's deployment), library calls, median of {a.runs}:")
    results = {}
    for processes in (False, True):
        ups, downs, mem = [], [], []
        for _ in range(a.runs):
            c = topology_lab(name, a.nodes, a.pods, processes)
            t = time.perf_counter()
            lab = Lab.up(c)
            ups.append(time.perf_counter() - t)
            if processes:
                mem.append(pss_kib(name))
            t = time.perf_counter()
            lab.down()
            downs.append(time.perf_counter() - t)
        results[processes] = statistics.median(ups)
        what = "with a process per pod" if processes else "network only         "
        print(f"  {what}  up {figure(ups)}   down {figure(downs)}")
        if processes:
            count, kib = mem[-1]
            print(f"  pods' processes: {count}, PSS together {kib / 1024:.0f} MiB "
                  f"({kib / max(count, 1) / 1024:.2f} MiB each)   target < 512 MiB")
    print(f"  up with processes / network only: {results[True] / results[False]:.2f}x   target <= 1.5x")

    c = topology.parse({"nodes": [{"name": "node1", "ip": "192.168.0.21", "podCIDR": "172.30.0.0/23"},
                                  {"name": "node2", "ip": "192.168.0.22", "podCIDR": "172.30.2.0/23"}],
                        "deployments": [{"name": "web", "replicas": 2 * a.floor_pods}]}, name, time.time())
    t = time.perf_counter()
    lab = Lab.up(c)
    t_up = time.perf_counter() - t
    t = time.perf_counter()
    lab.down()
    t_down = time.perf_counter() - t
    c = topology.parse({"nodes": [{"name": "node1", "ip": "192.168.0.21", "podCIDR": "172.30.0.0/23"},
                                  {"name": "node2", "ip": "192.168.0.22", "podCIDR": "172.30.2.0/23"}],
                        "deployments": [{"name": "web", "replicas": 2 * a.floor_pods}]}, name, time.time())
    f = floor(c)
    print(f"2 nodes x {a.floor_pods} pods, network only, one run (library call):")
    print(f"  netlab up {t_up:6.3f} s, down {t_down:6.3f} s; ip -batch floor {f:6.3f} s ({t_up / f:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
