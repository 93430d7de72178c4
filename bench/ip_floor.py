"""The kernel's floor for a lab's network: the same namespaces, docker0s (address, up),
veths (into docker0, up, hairpin) and pods' eth0 addresses and default routes, made with
`ip -batch` (used by bench/up.py and bench/lab_scale.py)."""
from __future__ import annotations

import subprocess
import time

from netlab import layout
from netlab.cni import bridge as cni
from netlab.kernel import netns

PHASES = ("namespaces", "node side: docker0, veths", "pod side: eth0, address, route")


def ip_batch(ns: str | None, lines: list[str]) -> None:
    subprocess.run(["ip", *(["-n", ns] if ns else []), "-batch", "-"], input="\n".join(lines) + "\n",
                   text=True, check=True)


def build(c) -> tuple[list[str], dict[str, float]]:
    """Makes cluster `c`'s network objects; (the namespaces made, seconds per phase).
    On failure it removes what it made."""
    nodes = [layout.node_ns(c.name, n.name) for n in c.nodes]
    pods = [cni.pod_net(c, p) for p in c.pods]
    names = nodes + [p.netns for p in pods]
    times = [time.perf_counter()]
    try:
        ip_batch(None, [f"netns add {n}" for n in names])
        times.append(time.perf_counter())
        for node, ns in zip(c.nodes, nodes):
            lines = [f"link add docker0 mtu {cni.MTU} type bridge", f"addr add {cni.bridge_address(node)} dev docker0",
                     "link set docker0 up"]
            for p in pods:
                if p.node == node.name:
                    lines += [f"link add {p.veth} mtu {cni.MTU} type veth peer name eth0 mtu {cni.MTU} netns {p.netns}",
                              f"link set {p.veth} master docker0 up", f"link set {p.veth} type bridge_slave hairpin on"]
            ip_batch(ns, lines)
        times.append(time.perf_counter())
        for p in pods:          # one `ip -n` each: -batch cannot change namespace between lines
            ip_batch(p.netns, ["link set lo up", f"addr add {p.address} dev eth0", "link set eth0 up",
                               f"route add default via {p.gateway} dev eth0"])
        times.append(time.perf_counter())
    except BaseException:
        remove(names)
        raise
    return names, {phase: b - a for phase, a, b in zip(PHASES, times, times[1:])}


def remove(names: list[str]) -> None:
    """Whatever of these namespaces exists."""
    for n in names:
        if netns.exists(n):
            netns.remove(n)
