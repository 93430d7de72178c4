"""What `get` prints: kubectl's tables, and its JSON/YAML objects (pure)."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import yaml

from netlab.model.objects import Cluster, Node, Pod


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns padded to their widest cell, three spaces apart, as kubectl prints them."""
    cells = [headers] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


def age(created: float, now: float | None = None) -> str:
    """kubectl's short ages: 45s, 12m, 5h, 3d."""
    s = max(0, int((now if now is not None else time.time()) - created))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size * (2 if unit != "m" else 1):
            return f"{s // size}{unit}"
    return f"{s}s"


def timestamp(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod_rows(c: Cluster, pods: list[Pod], wide: bool, all_ns: bool, status, now: float) -> str:
    headers = ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    if wide:
        headers += ["IP", "NODE"]
    if all_ns:
        headers.insert(0, "NAMESPACE")
    rows = []
    for p in pods:
        phase, ready, restarts = status(p)
        row = [p.name, ready, phase, str(restarts), age(p.created, now)]
        if wide:
            row += [p.ip, c.node(p.node).ip]     # the seed's nodes are known by their IPs
        if all_ns:
            row.insert(0, p.namespace)
        rows.append(row)
    return table(headers, rows)


def node_rows(c: Cluster, nodes: list[Node], wide: bool, created: float, now: float, kernel: str) -> str:
    headers = ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    if wide:
        headers += ["INTERNAL-IP", "POD-CIDR", "KERNEL-VERSION"]
    rows = []
    for n in nodes:
        row = [n.name, "Ready", "<none>", age(created, now), "netlab"]
        if wide:
            row += [n.ip, n.pod_cidr, kernel]
        rows.append(row)
    return table(headers, rows)


def pod_object(c: Cluster, p: Pod, phase: str, ready: bool, restarts: int) -> dict:
    meta = {"name": p.name, "namespace": p.namespace, "labels": dict(p.labels),
            "creationTimestamp": timestamp(p.created)}
    if p.owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                    "name": p.name.rsplit("-", 1)[0], "controller": True}]
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": meta,
        "spec": {"nodeName": p.node, "containers": []},
        "status": {"phase": phase, "podIP": p.ip, "podIPs": [{"ip": p.ip}],
                   "hostIP": c.node(p.node).ip,
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                   "containerStatuses": [{"name": p.owner or p.name, "ready": ready,
                                          "restartCount": restarts}]},
    }


def node_object(n: Node, created: float) -> dict:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": n.name, "labels": {"kubernetes.io/hostname": n.name},
                     "creationTimestamp": timestamp(created)},
        "spec": {"podCIDR": n.pod_cidr, "podCIDRs": [n.pod_cidr]},
        "status": {"addresses": [{"type": "InternalIP", "address": n.ip},
                                 {"type": "Hostname", "address": n.name}],
                   "conditions": [{"type": "Ready", "status": "True"}]},
    }


def as_list(items: list[dict], fmt: str) -> str:
    doc = {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}
    if fmt == "json":
        return json.dumps(doc, indent=4)
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False).rstrip()
