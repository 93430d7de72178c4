"""What the deployment controller and the scheduler do: replicas become pods.

Pure: takes a cluster, returns the pods to add and to remove.
"""
from __future__ import annotations

import copy

from collections import Counter

from netlab.cni import ipam
from netlab.model import names
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


def scale(cluster: Cluster, now: float) -> tuple[list[Pod], list[Pod]]:
    """Bring every deployment to its replica count, in place; returns (added, removed)."""
    added: list[Pod] = []
    removed: list[Pod] = []
    for dep in cluster.deployments:
        owned = [p for p in cluster.pods if p.owner == dep.name and p.namespace == dep.namespace]
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
