"""What the deployment controller and the scheduler do: replicas become pods.

Pure: takes a cluster, returns the pods to add and to remove.
"""
from __future__ import annotations

import copy

from collections import Counter
from collections.abc import Iterable

from netlab.cni import ipam
from netlab.model import fields, names
from netlab.model.objects import Cluster, Deployment, Pod


# What a pod netlab makes without a spec of the user's runs (node add's pods, a topology
# file's deployments and pods without `containers`): netlab-whoami, answering with its name.
DEFAULT_PORT = 8080


def default_spec() -> dict:
    return {"command": ["netlab-whoami", "--port", str(DEFAULT_PORT)], "container_ports": {"http": DEFAULT_PORT}}


def _place(cluster: Cluster, dep: Deployment) -> str:
    """Spread replicas: the node with fewest pods of this deployment, then fewest pods."""
    mine = Counter(p.node for p in cluster.pods if p.owner == dep.name and p.namespace == dep.namespace)
    total = Counter(p.node for p in cluster.pods)
    return min(cluster.nodes, key=lambda n: (mine[n.name], total[n.name], n.name)).name


def new_pod(cluster: Cluster, dep: Deployment, now: float) -> Pod:
    if not dep.template_hash:
        dep.template_hash = names.template_hash(cluster.name, dep.namespace, dep.name)
    taken = {p.name for p in cluster.pods if p.namespace == dep.namespace}
    while True:
        suffix = names.pod_suffix(cluster.name, dep.namespace, dep.name, dep.next_ordinal)
        dep.next_ordinal += 1
        name = names.pod_name(dep.name, dep.template_hash, suffix)
        if name not in taken:
            break
    node = cluster.node(_place(cluster, dep))
    used = {p.ip for p in cluster.pods_on(node.name)}
    return Pod(name=name, namespace=dep.namespace, node=node.name,
               ip=ipam.allocate(node.pod_cidr, used), labels=dict(dep.labels),
               owner=dep.name, created=now, **copy.deepcopy(dep.template()))


def replicas_problem(cluster: Cluster, pods: Iterable[Pod], dep: Deployment) -> str | None:
    """More replicas than the nodes' pod subnets have addresses for (IPAM would fail half-way
    through): `pods` are the cluster's, of which `dep`'s own are replaced, not added to."""
    room = sum(ipam.size(n.pod_cidr) for n in cluster.nodes)
    free = room - sum(1 for p in pods if (p.namespace, p.owner) != (dep.namespace, dep.name))
    if dep.replicas <= free:
        return None
    subnets = "its node's podCIDR has" if len(cluster.nodes) == 1 else f"its {len(cluster.nodes)} nodes' podCIDRs have"
    return f"{dep.replicas} is more pods than the lab can hold: {subnets} {max(free, 0)} free addresses " \
           "(netlab node add makes room)"


def scale(cluster: Cluster, now: float) -> tuple[list[Pod], list[Pod]]:
    """Bring every deployment to its replica count, in place; returns (added, removed)."""
    added: list[Pod] = []
    removed: list[Pod] = []
    for i, dep in enumerate(cluster.deployments):
        owned = [p for p in cluster.pods if p.owner == dep.name and p.namespace == dep.namespace]
        if len(owned) < dep.replicas:    # before any pod is made: IPAM would fail half-way
            fields.check(f"deployments[{i}].replicas", replicas_problem(cluster, cluster.pods, dep))
        while len(owned) < dep.replicas:
            pod = new_pod(cluster, dep, now)
            cluster.pods.append(pod)
            owned.append(pod)
            added.append(pod)
        # Newest pods go first, as the ReplicaSet controller prefers.
        for pod in sorted(owned, key=lambda p: (p.created, p.name))[dep.replicas:][::-1]:
            cluster.pods.remove(pod)
            removed.append(pod)
    return added, removed


def schedule(cluster: Cluster) -> None:
    """Give bare pods a node (by their fixed IP, else the emptiest node) and an address."""
    for pod in cluster.pods:
        if not pod.node:
            by_ip = [n for n in cluster.nodes if pod.ip and ipam.in_subnet(pod.ip, n.pod_cidr)]
            total = Counter(p.node for p in cluster.pods)
            pod.node = (by_ip[0] if by_ip else min(cluster.nodes, key=lambda n: (total[n.name], n.name))).name
        if not pod.ip:
            node = cluster.node(pod.node)
            pod.ip = ipam.allocate(node.pod_cidr, {p.ip for p in cluster.pods_on(pod.node) if p.ip})


def bare_pod(cluster: Cluster, node: str, now: float, namespace: str = "default") -> Pod:
    """A pod owned by no deployment, on a given node (what `kubectl run` makes)."""
    taken = {p.name for p in cluster.pods if p.namespace == namespace}
    ordinal = 0
    while True:
        name = f"pod-{node}-{names.pod_suffix(cluster.name, namespace, node, ordinal)}"
        ordinal += 1
        if name not in taken:
            break
    n = cluster.node(node)
    pod = Pod(name, namespace, node, ipam.allocate(n.pod_cidr, {p.ip for p in cluster.pods_on(node)}),
              {"run": f"pod-{node}"}, created=now, **default_spec())
    cluster.pods.append(pod)
    return pod
