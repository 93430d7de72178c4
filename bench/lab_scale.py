#!/usr/bin/env python3
"""The lab's own scale: N nodes x P pods up, an all-nodes connectivity sample, down.

    python bench/lab_scale.py [--nodes 10] [--pods 200] [--runs 2] [--processes] [--per-pair 2]

Writes a topology file (one deployment of N x P replicas, `containers: []`: pods without
processes unless --processes, then each runs netlab-whoami) and, per run, as a user runs it:
- `netlab up -f FILE` and `netlab down`, wall time of the whole command, and the peak RSS
  of the `netlab up` process (wait4);
- once the lab is up: for every ordered pair of nodes, --per-pair random pods of the first
  ping random pods of the second, from inside the pods' namespaces (`ip netns exec`);
  every ping must be answered;
- memory: RSS and PSS (smaps_rollup) of the lab's processes (those in its state.json and
  all under them), and the kernel's share as /proc/meminfo deltas from before `up` to
  after it: MemAvailable's drop, Slab and SUnreclaim's growth (machine-wide figures: other
  work on the machine shows in them too);
- after `netlab down`, how long the kernel goes on freeing the namespaces (it frees them
  in a workqueue after their last reference goes): until /proc/slabinfo's net_namespace
  count is back at its level before `up`.
Then the floor: `ip -batch` making and removing the same namespaces, docker0s, veths
(into docker0, hairpin), pod addresses and default routes, and its meminfo deltas.
Prints a table of medians (min-max). Run as root on an otherwise quiet machine; it removes
all it creates, on failure and Ctrl-C too.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from netlab import layout  # noqa: E402
from netlab.kernel.process import descendants  # noqa: E402
from netlab.model import topology  # noqa: E402
from netlab.state import LabRecord  # noqa: E402

import ip_floor  # noqa: E402

NETLAB = [sys.executable, "-m", "netlab.cli"]
RUN_DIR = "/run/netlab"
MIN_AVAILABLE_MIB = 2048      # stop before the machine runs short


def topology_doc(nodes: int, pods: int, processes: bool) -> dict:
    containers = ([{"name": "web", "command": ["netlab-whoami", "--port", "8080"],
                    "ports": [{"containerPort": 8080}]}] if processes else [])
    return {"nodes": [{"name": f"node{i + 1}", "ip": f"192.168.0.{21 + i}", "podCIDR": f"172.30.{i}.0/24"}
                      for i in range(nodes)],
            "cluster": {"clusterCIDR": "172.30.0.0/16"},
            "deployments": [{"name": "web", "replicas": nodes * pods, "containers": containers}]}


def meminfo() -> dict[str, int]:
    """/proc/meminfo in KiB."""
    with open("/proc/meminfo") as f:
        return {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in f)}


def netns_count() -> int:
    """Network namespaces the kernel holds (live or not yet freed): net_namespace objects."""
    with open("/proc/slabinfo") as f:
        for line in f:
            if line.startswith("net_namespace "):
                return int(line.split()[1])
    return -1


def settle(level: int, timeout: float = 120.0) -> float:
    """Seconds until the kernel is back at `level` namespaces: until its count of them last
    fell, if it stops falling above that for 3 s (others' namespaces come and go too)."""
    t = time.perf_counter()
    last, last_fell = netns_count(), t
    while last > level and time.perf_counter() - last_fell < 3 and time.perf_counter() - t < timeout:
        time.sleep(0.05)
        now = netns_count()
        if now < last:
            last, last_fell = now, time.perf_counter()
    return last_fell - t


def check_memory() -> None:
    mib = meminfo()["MemAvailable"] // 1024
    if mib < MIN_AVAILABLE_MIB:
        raise SystemExit(f"bench/lab_scale.py: only {mib} MiB available, stopping (needs {MIN_AVAILABLE_MIB})")


def timed(argv: list[str], log: str) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in KiB, output) of a command that must succeed."""
    t = time.perf_counter()
    with open(log, "w") as out:
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            _, status, usage = os.wait4(p.pid, 0)
        except BaseException:       # Ctrl-C: let it stop before the clean-up starts
            p.terminate()
            p.wait()
            raise
    p.returncode = os.waitstatus_to_exitcode(status)
    took = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(f"bench/lab_scale.py: {' '.join(argv[2:])} failed ({p.returncode}), see {log}")
    with open(log) as f:
        return took, usage.ru_maxrss, f.read()


def steps(output: str) -> dict[str, float]:
    """The steps `netlab up` prints with their seconds ("  namespaces (2015)   1.602s")."""
    return {m[1]: float(m[2]) for m in re.finditer(r"^  (\S.*?)\s+(\d+\.\d+)s$", output, re.M)}


def lab_memory(name: str) -> tuple[int, int, int]:
    """(processes, RSS KiB, PSS KiB) of the lab's recorded processes and all under them."""
    with open(f"{RUN_DIR}/{name}/state.json") as f:
        procs = json.load(f)["procs"]
    pids = {pid for p in procs.values() for pid in (p["pid"], *descendants(p["pid"]))}
    rss = pss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                fields = {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in f if ":" in line[:20])}
        except OSError:
            continue
        rss, pss = rss + fields.get("Rss", 0), pss + fields.get("Pss", 0)
    return len(pids), rss, pss


def sample(c, per_pair: int, rng: random.Random) -> tuple[int, list[str]]:
    """Ping from `per_pair` random pods of each node to random pods of every other node,
    inside the source pod's namespace. Returns (sampled, failures)."""
    by_node = {n.name: [p for p in c.pods if p.node == n.name] for n in c.nodes}
    pings = [(src, rng.choice(by_node[b]))
             for a in by_node for b in by_node if a != b for src in rng.sample(by_node[a], per_pair)]

    def ping(pair) -> str | None:
        src, dst = pair
        r = subprocess.run(["ip", "netns", "exec", layout.pod_ns(c.name, src), "ping", "-c", "1", "-W", "2",
                            dst.ip], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return None if r.returncode == 0 else f"{src.name} ({src.node}) -> {dst.ip} ({dst.node})"

    with ThreadPoolExecutor(8) as pool:
        return len(pings), [f for f in pool.map(ping, pings) if f]


def floor(c) -> tuple[float, float, dict, dict]:
    """ip -batch (bench/ip_floor.py): (up s, down s, meminfo deltas, up's phases) of the same
    namespaces, docker0s, veths and pod addresses."""
    before = meminfo()
    names, phases = ip_floor.build(c)
    try:
        after = meminfo()
        t = time.perf_counter()
        ip_floor.ip_batch(None, [f"netns del {n}" for n in names])
        down = time.perf_counter() - t
    finally:
        ip_floor.remove(names)           # whatever a failure left
    return sum(phases.values()), down, deltas(before, after), phases


def deltas(before: dict, after: dict) -> dict:
    return {"MemAvailable": before["MemAvailable"] - after["MemAvailable"],
            "Slab": after["Slab"] - before["Slab"], "SUnreclaim": after["SUnreclaim"] - before["SUnreclaim"]}


def one_run(name: str, path: str, per_pair: int, rng: random.Random, logs: str, i: int) -> dict:
    check_memory()
    level = netns_count()
    before = meminfo()
    up, up_rss, out = timed(NETLAB + ["up", "-f", path, "--name", name], f"{logs}/up{i}.log")
    try:
        r = {"up": up, "up_rss": up_rss, "steps": steps(out), "kernel": deltas(before, meminfo()),
             "procs": lab_memory(name)}
        r["sampled"], r["failed"] = sample(LabRecord(name).cluster(), per_pair, rng)
        check_memory()
    finally:
        r_down = timed(NETLAB + ["down", "--name", name], f"{logs}/down{i}.log")[0]
    r["down"], r["settle"] = r_down, settle(level)
    return r


def figure(values: list[float], unit: str = "s", fmt: str = "6.2f") -> str:
    return (f"{statistics.median(values):{fmt}} {unit} ({min(values):{fmt.lstrip('0123456789')}}-"
            f"{max(values):{fmt.lstrip('0123456789')}})")


def report(a, runs: list[dict], fl: list[tuple]) -> None:
    pods = a.nodes * a.pods
    mib = lambda kib: kib / 1024         # noqa: E731
    print(f"\n{a.nodes} nodes x {a.pods} pods ({pods} pods, {'a process each' if a.processes else 'no processes'}),"
          f" median (min-max) of {len(runs)} runs:")
    print(f"  {'netlab up':<38} {figure([r['up'] for r in runs])}   / floor "
          f"{statistics.median(r['up'] for r in runs) / statistics.median(f[0] for f in fl):.2f}x")
    for step in runs[-1]["steps"]:          # as `netlab up` prints them
        print(f"    {step:<36} {figure([r['steps'].get(step, 0) for r in runs])}")
    print(f"    {'the rest (CLI, model, API server)':<36} {figure([r['up'] - sum(r['steps'].values()) for r in runs])}")
    print(f"  {'netlab down':<38} {figure([r['down'] for r in runs])}")
    print(f"  {'kernel frees namespaces after':<38} {figure([r['settle'] for r in runs])}")
    print(f"  {'ip -batch floor: up':<38} {figure([f[0] for f in fl])}")
    for phase in fl[-1][3]:
        print(f"    {phase:<36} {figure([f[3][phase] for f in fl])}")
    print(f"  {'ip -batch floor: down':<38} {figure([f[1] for f in fl])}")
    print(f"  {'kernel frees them after':<38} {figure([f[4] for f in fl])}")
    sampled, failed = sum(r["sampled"] for r in runs), sum(len(r["failed"]) for r in runs)
    print(f"  {'connectivity sample':<38} {sampled} pod->pod pings over {a.nodes * (a.nodes - 1)} node pairs"
          f" x {len(runs)} runs, {failed} failed")
    print("memory:")
    print(f"  {'netlab up process, peak RSS':<38} {figure([mib(r['up_rss']) for r in runs], 'MiB', '6.0f')}")
    count = runs[-1]["procs"][0]
    print(f"  {f'lab processes ({count}), RSS':<38} {figure([mib(r['procs'][1]) for r in runs], 'MiB', '6.0f')}")
    print(f"  {f'lab processes ({count}), PSS':<38} {figure([mib(r['procs'][2]) for r in runs], 'MiB', '6.0f')}")
    for key in ("MemAvailable", "Slab", "SUnreclaim"):
        what = "drop (all)" if key == "MemAvailable" else "growth"
        lab, flo = [mib(r["kernel"][key]) for r in runs], [mib(f[2][key]) for f in fl]
        print(f"  {f'kernel: {key} {what}':<38} {figure(lab, 'MiB', '6.0f')}   floor {figure(flo, 'MiB', '4.0f')}"
              f"   ({statistics.median(lab) * 1024 / pods:.0f} KiB a pod)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--pods", type=int, default=200, help="pods per node (at most 253: a /24 each)")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--processes", action="store_true", help="each pod runs netlab-whoami")
    ap.add_argument("--per-pair", type=int, default=2, help="pings per ordered pair of nodes")
    ap.add_argument("--seed", type=int, default=16)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/lab_scale.py: must be run as root", file=sys.stderr)
        return 1
    name = f"scale{os.getpid()}"
    rng = random.Random(a.seed)
    with tempfile.TemporaryDirectory(prefix="lab_scale.") as tmp:
        path = os.path.join(tmp, "topology.json")       # JSON is YAML
        doc = topology_doc(a.nodes, a.pods, a.processes)
        with open(path, "w") as f:
            json.dump(doc, f)
        c = topology.parse(doc, name, time.time())      # the floor's objects: the same names and addresses
        runs, fl = [], []
        try:
            for i in range(a.runs):
                r = one_run(name, path, a.per_pair, rng, tmp, i)
                runs.append(r)
                print(f"run {i + 1}: up {r['up']:.2f} s, down {r['down']:.2f} s (+{r['settle']:.1f} s kernel),"
                      f" {r['sampled']} pings, {len(r['failed'])} failed", flush=True)
                for failure in r["failed"][:10]:
                    print(f"  failed: {failure}")
                check_memory()
                level = netns_count()
                fl.append((*floor(c), settle(level)))
                print(f"  floor: up {fl[-1][0]:.2f} s, down {fl[-1][1]:.2f} s (+{fl[-1][4]:.1f} s kernel)",
                      flush=True)
        finally:
            subprocess.run(NETLAB + ["clean", "--name", name], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if runs:
            report(a, runs, fl)
    return 1 if any(r["failed"] for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
