"""Which pods an update keeps, stops and starts: the kubelet's and the controllers' decision
as a pure function of the pods before and after."""
from __future__ import annotations

from dataclasses import dataclass

from netlab.model.objects import Pod


def key(p: Pod) -> tuple[str, str]:
    return (p.namespace, p.name)


@dataclass
class Rollout:
    keep: list[Pod]       # the new cluster's pods that run on as they are
    stop: list[Pod]       # the old cluster's pods that go
    start: list[Pod]      # the new cluster's pods that come


def plan(old: list[Pod], new: list[Pod]) -> Rollout:
    """A pod keeps running if it is still there on the same node, with the same address and
    spec; one whose place or spec changed is replaced (the old one goes, a new one comes)."""
    was = {key(p): p for p in old}
    same = {key(p) for p in new
            if key(p) in was and (p.node, p.ip, p.spec()) == (was[key(p)].node, was[key(p)].ip, was[key(p)].spec())}
    return Rollout(keep=[p for p in new if key(p) in same],
                   stop=[p for p in old if key(p) not in same],
                   start=[p for p in new if key(p) not in same])


def initially_ready(p: Pod) -> bool:
    """A new pod with ports is ready once they answer, one with nothing to run never is,
    one with a command and no ports as soon as it runs."""
    return bool(p.command) and not p.container_ports
