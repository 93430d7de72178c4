#!/usr/bin/env python3
"""NetworkPolicy enforcement: applying policies, next to the kernel's floor, and probing.

    python bench/policy.py [--runs 3] [--pods 500] [--policies 200] [--probe 30]

Prints, median (min-max) of --runs, from the same run:
- apply: --policies NetworkPolicies applied at once to a running lab of --pods pods over 2
  nodes (`policy: enforce`; pods without processes), through the lab's own path (what
  `netlab apply` does after reading the file: store, rules, ipsets, one restore per node);
- the floor: `ipset restore` and `iptables-legacy-restore` of the identical sets and filter
  table into empty namespaces, node by node side by side as the lab writes them;
- their ratio (the issue's target: apply <= 1.3x the floor);
- probe: a --probe x --probe matrix on 80/TCP with real connections (target: <= 10 s),
  with half the cells blocked by a policy.
Run as root; it removes all it creates.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from netlab import layout  # noqa: E402
from netlab.dataplane import _merged  # noqa: E402
from netlab.kernel import netns  # noqa: E402
from netlab.kube_proxy.rules import build_nodes, to_text  # noqa: E402
from netlab.lab import Lab  # noqa: E402
from netlab.model import topology  # noqa: E402
from netlab.model.objects import (LabelSelector, NetworkPolicy, PolicyPeer, PolicyPort,  # noqa: E402
                                  PolicyRule, Requirement)
from netlab.policy import ipsets, rules  # noqa: E402

NAMESPACES = [f"team-{i}" for i in range(10)]


def figure(values: list[float]) -> str:
    return f"{statistics.median(values):7.3f} s ({min(values):.3f}-{max(values):.3f})"


def cluster(name: str, pods: int, processes: bool):
    """2 nodes; pods spread over 10 namespaces, labelled app-0..app-24 and a tier."""
    doc = {"nodes": [{"name": f"node{i + 1}", "ip": f"192.168.0.{21 + i}", "podCIDR": f"172.30.{2 * i}.0/23"}
                     for i in range(2)],
           "cluster": {"clusterCIDR": "172.30.0.0/16"}, "policy": "enforce",
           "pods": [{"name": f"p{i}", "namespace": NAMESPACES[i % 10], "node": f"node{i % 2 + 1}",
                     "labels": {"app": f"app-{i % 25}", "tier": ["web", "api", "db"][i % 3]}}
                    for i in range(pods)]}
    c = topology.parse(doc, name, time.time())
    if not processes:
        for p in c.pods:
            p.command, p.container_ports = [], {}
    c.namespace_labels = {ns: {"team": ns, "stage": ["dev", "prod"][i % 2]} for i, ns in enumerate(NAMESPACES)}
    return c


def policies(n: int) -> list[NetworkPolicy]:
    """A mix of the forms users write: pod selectors, namespace selectors, both, ipBlocks, ports."""
    r = random.Random(1)
    out = []
    for i in range(n):
        peers = [PolicyPeer(LabelSelector({"app": f"app-{r.randrange(25)}"})),
                 PolicyPeer(LabelSelector({"tier": "web"}), LabelSelector({"stage": "prod"})),
                 PolicyPeer(None, LabelSelector(match_expressions=[
                     Requirement("team", "In", r.sample(NAMESPACES, 3))]))]
        if i % 4 == 0:
            peers.append(PolicyPeer(ip_block=rules_block(r)))
        ports = [PolicyPort("TCP", r.choice([80, 443, 8080])), PolicyPort("UDP", 53)]
        egress = [PolicyRule([peers[0]], ports[:1])] if i % 3 == 0 else []
        out.append(NetworkPolicy(f"np-{i}", NAMESPACES[i % 10], LabelSelector({"app": f"app-{i % 25}"}),
                                 ["Ingress", "Egress"] if egress else ["Ingress"],
                                 [PolicyRule(peers[:2], ports), PolicyRule(peers[2:], [])], egress))
    return out


def rules_block(r: random.Random):
    from netlab.model.objects import IPBlock
    return IPBlock("192.168.0.0/24", [f"192.168.0.{r.randrange(1, 255)}/32"])


def apply_time(name: str, pods: int, n: int) -> tuple[float, dict]:
    c = cluster(name, pods, processes=False)
    lab = Lab.up(c)
    try:
        want = policies(n)
        t = time.perf_counter()
        lab.update(lambda c: c.network_policies.extend(want))
        took = time.perf_counter() - t
        return took, lab.cluster().to_dict()
    finally:
        lab.down()


def floor_time(name: str, state: dict) -> float:
    """The same sets and filter table written into fresh namespaces (what the kernel's tools take)."""
    from netlab.model.objects import Cluster
    c = Cluster.from_dict(state)
    nodes = [n.name for n in c.nodes]
    kube = build_nodes(c, nodes, precision=c.probability_decimals, endpoints=c.endpoints)
    inputs = {}
    for node in nodes:
        np = rules.build(c, node)
        filt = _merged(kube[node]["filter"], np)
        inputs[node] = (ipsets.plan({}, np.sets)[0], to_text({"nat": kube[node]["nat"], "filter": filt}))
    spaces = {node: f"{name}-floor-{node}" for node in nodes}
    netns.create(list(spaces.values()))
    try:
        def write(node: str) -> None:
            sets, tables = inputs[node]
            ns = spaces[node]
            subprocess.run(["ipset", "restore"], input=sets, text=True, check=True, preexec_fn=netns.preexec(ns))
            subprocess.run(["iptables-legacy-restore", "-w"], input=tables, text=True, check=True,
                           preexec_fn=netns.preexec(ns))
        t = time.perf_counter()
        with ThreadPoolExecutor(len(nodes)) as pool:
            list(pool.map(write, nodes))
        return time.perf_counter() - t
    finally:
        netns.remove_all(list(spaces.values()))


def probe_time(name: str, size: int) -> tuple[float, int]:
    from netlab.probe import reach
    c = cluster(name, size, processes=True)
    half = NetworkPolicy("half", NAMESPACES[0], LabelSelector(), ["Ingress"])
    c.namespace_labels = {}
    for i, p in enumerate(c.pods):      # two namespaces: one isolated by `half`
        p.namespace = NAMESPACES[i % 2]
    c.network_policies = [half]
    lab = Lab.up(c)
    try:
        c = lab.cluster()
        eps = [reach.Endpoint(f"{p.namespace}/{p.name}", layout.pod_ns(c.name, p), p.ip) for p in c.pods]
        t = time.perf_counter()
        m, = reach.probe(eps, eps, [("TCP", 8080)], timeout=1.0)
        took = time.perf_counter() - t
        return took, sum(m.allowed.values())
    finally:
        lab.down()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pods", type=int, default=500)
    ap.add_argument("--policies", type=int, default=200)
    ap.add_argument("--probe", type=int, default=30)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/policy.py: must be run as root (it builds labs)", file=sys.stderr)
        return 1
    applies, floors = [], []
    for run in range(a.runs):
        took, state = apply_time(f"bp{os.getpid() % 1000}r{run}", a.pods, a.policies)
        applies.append(took)
        floors.append(floor_time(f"bf{os.getpid() % 1000}r{run}", state))
    from netlab.model.objects import Cluster
    c = Cluster.from_dict(state)
    sizes = [rules.build(c, n.name) for n in c.nodes]
    chains = sum(len(s.chains) for s in sizes)
    lines = sum(len(r) for s in sizes for r in s.chains.values())
    members = sum(len(x.members) for s in sizes for x in s.sets.values())
    print(f"{a.policies} NetworkPolicies over {a.pods} pods, 2 nodes: {chains} chains, {lines} rules, "
          f"{sum(len(s.sets) for s in sizes)} ipsets ({members} members) in all; median (min-max) of {a.runs}")
    print(f"  apply (the lab's path)                  {figure(applies)}")
    print(f"  floor (ipset + iptables-legacy-restore) {figure(floors)}")
    print(f"  ratio                                   {statistics.median(applies) / statistics.median(floors):7.2f}x")
    probes = []
    for run in range(a.runs if a.probe else 0):
        took, open_cells = probe_time(f"bq{os.getpid() % 1000}r{run}", a.probe)
        probes.append(took)
    if probes:
        print(f"  probe {a.probe}x{a.probe} on 8080/TCP ({open_cells} of {a.probe * a.probe} open)  {figure(probes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
