"""The lab's record as API objects, each with the cells of its Table row: what `netlab get`
shows, made by the same functions (netlab.output, netlab.pod_phase)."""
from __future__ import annotations

import platform
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Callable

from netlab import output, pod_phase
from netlab.model.objects import Cluster
from netlab.state import LabRecord

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public")      # as netlab admits them


@dataclass
class Item:
    key: tuple[str, str]                        # (namespace or "", name)
    obj: dict                                   # the API object (without metadata.resourceVersion)
    cells: Callable[[float], list[str]]         # its Table row at a given time (AGE moves on)


def uid(lab: str, resource: str, obj: dict) -> str:
    """Stable for an object's life: a new object of the same name (made later) gets another."""
    m = obj["metadata"]
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"netlab:{lab}/{resource}/{m.get('namespace', '')}/{m['name']}/"
                                              f"{m.get('creationTimestamp', '')}"))


def _item(lab: str, resource: str, obj: dict, cells: Callable[[float], list[str]]) -> Item:
    meta = obj["metadata"]
    meta["uid"] = uid(lab, resource, obj)
    return Item((meta.get("namespace", ""), meta["name"]), obj, cells)


def namespaces(c: Cluster) -> list[str]:
    used = [x.namespace for kind in (c.pods, c.services, c.deployments, c.secrets, c.config_maps, c.ingresses,
                                     c.network_policies) for x in kind]
    return sorted(set(DEFAULT_NAMESPACES) | set(c.namespaces) | set(used))


def build(lab: LabRecord, state: dict) -> dict[str, list[Item]]:
    """Every served kind's objects in the lab's state (read once by the caller)."""
    c = Cluster.from_dict(state["cluster"])
    created = float(state.get("created", 0))
    name = lab.name
    status = pod_phase.status(lab, state)
    phase = pod_phase.phase(lab, state)
    down = lab.nodes_down(c) if state.get("procs") else {}
    kernel = platform.release()
    address = ",".join(n.ip for n in c.nodes)       # the ingress-nginx NodePort: every node (as netlab get)
    svc_created = {(s.namespace, s.name): s.created for s in c.services}
    out: dict[str, list[Item]] = {}

    def pod_item(p):
        values = phase(p)
        shown = status(p)
        obj = output.pod_object(c, p, *values)
        if not obj["spec"]["containers"]:       # one container: kubectl logs and exec take the first
            obj["spec"]["containers"] = [{"name": obj["status"]["containerStatuses"][0]["name"],
                                          "image": p.image or "", **({"command": list(p.command)} if p.command else {}),
                                          "ports": [{"containerPort": n, "protocol": "TCP"}
                                                    for n in sorted(set(p.container_ports.values()))]}]
        for ref in obj["metadata"].get("ownerReferences", []):     # (the ReplicaSet is not served)
            ref["uid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"netlab:{name}/replicasets/{p.namespace}/{ref['name']}"))
            ref["blockOwnerDeletion"] = True
        for cs in obj["status"]["containerStatuses"]:       # what clients require of a container's status
            cs.setdefault("image", p.image or "")
            cs.setdefault("imageID", "")
        return _item(name, "pods", obj, partial(_pod_cells, c, p, shown))
    out["pods"] = [pod_item(p) for p in c.pods]
    out["services"] = [_item(name, "services", output.service_object(s, created),
                             partial(output.service_cells, s)) for s in c.services]
    out["endpoints"] = [_item(name, "endpoints", _with_created(output.endpoints_object(e),
                                                               svc_created.get((e.namespace, e.name))),
                              partial(output.endpoints_cells, e, svc_created)) for e in c.endpoints]
    out["nodes"] = [_item(name, "nodes", output.node_object(n, created, down.get(n.name)),
                          partial(output.node_cells, n, created, kernel=kernel, not_ready=down)) for n in c.nodes]
    out["namespaces"] = [_item(name, "namespaces", _namespace(c, ns, created),
                               partial(_namespace_cells, ns, created)) for ns in namespaces(c)]
    out["deployments"] = [_item(name, "deployments", _deployment(c, d, created),
                                partial(output.deployment_cells, c, d)) for d in c.deployments]
    # the API server's Tables are made wide (kubectl hides the priority columns): ADDRESS is not clipped
    out["ingresses"] = [_item(name, "ingresses", output.ingress_object(i, address),
                              partial(output.ingress_cells, i, address=address, wide=True)) for i in c.ingresses]
    out["ingressclasses"] = [_item(name, "ingressclasses", output.ingressclass_object(x, created),
                                   partial(_ingressclass_cells, x, created))
                             for x in c.ingress_classes]
    out["networkpolicies"] = [_item(name, "networkpolicies", output.networkpolicy_object(p),
                                    partial(output.networkpolicy_cells, p)) for p in c.network_policies]
    out["configmaps"] = [_item(name, "configmaps", output.configmap_object(m),
                               partial(output.configmap_cells, m)) for m in c.config_maps]
    out["secrets"] = [_item(name, "secrets", output.secret_object(s),
                            partial(output.secret_cells, s)) for s in c.secrets]
    return out


def _pod_cells(c: Cluster, p, shown: tuple, now: float) -> list[str]:
    """netlab's wide row, then NOMINATED NODE and READINESS GATES (kubectl -o wide shows them)."""
    return output.pod_cells(c, p, lambda _: shown, now) + ["<none>", "<none>"]


def _namespace_cells(ns: str, created: float, now: float) -> list[str]:
    return [ns, "Active", output.age(created, now)]


def _ingressclass_cells(x, created: float, now: float) -> list[str]:
    return [x.name, x.controller, "<none>", output.age(created, now)]


def _with_created(obj: dict, created: float | None) -> dict:
    if created:
        obj["metadata"]["creationTimestamp"] = output.timestamp(created)
    return obj


def _namespace(c: Cluster, ns: str, created: float) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "labels": c.namespace_labels_of(ns),
                         "creationTimestamp": output.timestamp(created)},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def _deployment(c: Cluster, d, created: float) -> dict:
    """An apps/v1 Deployment: replicas and the pods' labels; status from its pods."""
    pods = [p for p in c.pods if p.owner == d.name and p.namespace == d.namespace]
    ready = sum(p.ready for p in pods)
    first = min((p.created for p in pods), default=created)
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": d.name, "namespace": d.namespace, "labels": dict(d.labels),
                         "creationTimestamp": output.timestamp(first)},
            "spec": {"replicas": d.replicas, "selector": {"matchLabels": dict(d.labels)},
                     "template": {"metadata": {"labels": dict(d.labels)},
                                  "spec": {"containers": [{"name": d.name, "image": d.image or "",
                                                           **({"command": list(d.command)} if d.command else {})}]}}},
            "status": {"replicas": len(pods), "updatedReplicas": len(pods), "readyReplicas": ready,
                       "availableReplicas": ready}}
