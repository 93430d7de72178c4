"""The lab's record as API objects, each with the cells of its Table row: what `netlab get`
shows, made by the same functions (netlab.output, netlab.pod_phase)."""
from __future__ import annotations

import copy
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
    read_only: str = ""                         # why a write may not replace it (but scale and delete)


def uid(lab: str, resource: str, obj: dict) -> str:
    """Stable for an object's life: a new object of the same name (made later) gets another."""
    m = obj["metadata"]
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"netlab:{lab}/{resource}/{m.get('namespace', '')}/{m['name']}/"
                                              f"{m.get('creationTimestamp', '')}"))


def overlay(obj: dict, doc: dict | None) -> dict:
    """The object netlab renders with what its document (Cluster.documents) adds: the document
    fills in what the model does not keep (annotations, fields netlab ignores); the model's
    values win (allocated addresses, replicas, status). A pod template is the document's as a
    whole (the model keeps one container, not its name)."""
    if not doc:
        return obj
    same_version = doc.get("apiVersion") == obj.get("apiVersion")
    out = _under(doc if same_version else {"metadata": doc.get("metadata") or {}}, obj)
    spec = doc.get("spec")
    if same_version and isinstance(spec, dict) and obj["kind"] in ("Deployment", "Pod"):
        own = ("replicas",) if obj["kind"] == "Deployment" else ("nodeName",)
        out["spec"] = {**copy.deepcopy(spec), **{k: obj["spec"][k] for k in own if k in obj["spec"]}}
    return out


def _under(doc, obj):
    """`obj`, its maps filled in from `doc`'s (a list or a value of obj's is kept whole)."""
    if isinstance(doc, dict) and isinstance(obj, dict):
        out = copy.deepcopy(doc)
        for k, v in obj.items():
            out[k] = _under(doc.get(k), v)
        return out
    return obj


def ingress_v1beta1(obj: dict) -> dict:
    """A networking.k8s.io/v1 Ingress in the walk-through's form, extensions/v1beta1 (backends
    as serviceName and servicePort)."""
    def backend(b: dict) -> dict:
        svc = b.get("service")
        if svc is None:
            return copy.deepcopy(b)
        port = svc.get("port", {})
        return {"serviceName": svc["name"], "servicePort": port.get("number", port.get("name"))}
    out = copy.deepcopy(obj)
    out["apiVersion"] = "extensions/v1beta1"
    spec = out["spec"]
    if "defaultBackend" in spec:
        spec["backend"] = backend(spec.pop("defaultBackend"))
    for rule in spec.get("rules", []):
        for path in rule.get("http", {}).get("paths", []):
            path["backend"] = backend(path["backend"])
    return out


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
            obj["spec"] = {**obj["spec"], **pod_spec(p, obj["status"]["containerStatuses"][0]["name"])}
            if values[0] == "Running":
                obj["status"]["containerStatuses"][0].setdefault(
                    "state", {"running": {"startedAt": output.timestamp(p.created)}})
        for ref in obj["metadata"].get("ownerReferences", []):     # (the ReplicaSet is not served)
            ref["uid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"netlab:{name}/replicasets/{p.namespace}/{ref['name']}"))
            ref["blockOwnerDeletion"] = True
        template = _template(c.document("Deployment", p.namespace, p.owner)) if p.owner else None
        if template and len(template.get("containers") or []) == len(obj["spec"]["containers"]):
            obj["spec"] = {**template, "nodeName": p.node}       # its Deployment's template, as given
            for cs, spec in zip(obj["status"]["containerStatuses"], template["containers"]):
                cs["name"] = spec.get("name", cs["name"])
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
    for item, d in zip(out["deployments"], c.deployments):
        if d.containers:        # a manifest cannot say what its runtime does with several containers
            item.read_only = f"its {len(d.containers)} containers are started by netlab's {d.command[0]}"
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
    for items in out.values():
        for item in items:
            doc = c.document(item.obj["kind"], *item.key)
            if doc:
                item.obj = overlay(item.obj, {k: v for k, v in doc.items() if k != "stringData"})
    out[INGRESS_V1BETA1] = [Item(i.key, ingress_v1beta1(i.obj), i.cells) for i in out["ingresses"]]
    for item in out[INGRESS_V1BETA1]:
        doc = c.document("Ingress", *item.key)
        if doc and doc.get("apiVersion") == "extensions/v1beta1":
            # as given: kubectl has no strategic merge for this old version, and its merge patch
            # would replace the rules for netlab's defaults (pathType) in them
            rendered = overlay(item.obj, doc)
            item.obj = {**rendered, "spec": {**rendered["spec"], **copy.deepcopy(doc.get("spec") or {})}}
    return out


INGRESS_V1BETA1 = "ingresses.v1beta1.extensions"      # the walk-through's form of the same Ingresses


def _template(doc: dict | None) -> dict | None:
    spec = ((doc or {}).get("spec") or {}).get("template", {}).get("spec")
    return copy.deepcopy(spec) if isinstance(spec, dict) else None


def _pod_cells(c: Cluster, p, shown: tuple, now: float) -> list[str]:
    """netlab's wide row, then NOMINATED NODE and READINESS GATES (kubectl -o wide shows them)."""
    return output.pod_cells(c, p, lambda _: shown, now) + ["<none>", "<none>"]


def _namespace_cells(ns: str, created: float, now: float) -> list[str]:
    return [ns, "Active", output.age(created, now)]


def pod_spec(spec, container: str) -> dict:
    """A one-container pod's spec (or a pod template's) from what the model keeps of it."""
    c: dict = {"name": container, "image": spec.image or ""}
    if spec.command:
        c["command"] = list(spec.command)
    if spec.container_ports:
        c["ports"] = [{**({"name": n} if n else {}), "containerPort": port, "protocol": "TCP"}
                      for n, port in sorted(spec.container_ports.items(), key=lambda x: x[1])]
    env = [{"name": k, "value": v} for k, v in spec.env.items()]
    for k, ref in spec.env_refs.items():
        if ref.kind == "Field":
            env.append({"name": k, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": ref.key}}})
        else:
            which = "secretKeyRef" if ref.kind == "Secret" else "configMapKeyRef"
            env.append({"name": k, "valueFrom": {which: {"name": ref.name, "key": ref.key,
                                                         **({"optional": True} if ref.optional else {})}}})
    if env:
        c["env"] = env
    if spec.env_from:
        c["envFrom"] = [{**({"prefix": e.prefix} if e.prefix else {}),
                         ("secretRef" if e.kind == "Secret" else "configMapRef"):
                             {"name": e.name, **({"optional": True} if e.optional else {})}} for e in spec.env_from]
    if spec.volumes:
        c["volumeMounts"] = [{"name": v.name, "mountPath": v.mount_path, "readOnly": True} for v in spec.volumes]
    caps = {k: list(v) for k, v in (("add", spec.cap_add), ("drop", spec.cap_drop)) if v}
    if caps:
        c["securityContext"] = {"capabilities": caps}
    # several containers (the DNS add-on's): the first runs the pod's runtime, which starts them all
    others = [{"name": n, "image": spec.image or ""} for n in spec.containers[1:]]
    if spec.containers:
        c["name"] = spec.containers[0]
    out: dict = {"containers": [c, *others], "terminationGracePeriodSeconds": spec.termination_grace_period}
    if spec.run_as_user is not None:
        out["securityContext"] = {"runAsUser": spec.run_as_user}
    if spec.volumes:
        out["volumes"] = [_volume(v) for v in spec.volumes]
    return out


def _volume(v) -> dict:
    items = [{"key": k, "path": path} for k, path in v.items.items()]
    source = {"secretName": v.source} if v.kind == "Secret" else {"name": v.source}
    key = "secret" if v.kind == "Secret" else "configMap"
    return {"name": v.name, key: {**source, **({"items": items} if items else {}),
                                  **({"optional": True} if v.optional else {})}}


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
    # its own time once stored (a lab from before that kept none: its first pod's, or the lab's)
    first = d.created or min((p.created for p in pods), default=created)
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": d.name, "namespace": d.namespace, "labels": dict(d.labels),
                         "creationTimestamp": output.timestamp(first)},
            "spec": {"replicas": d.replicas, "selector": {"matchLabels": dict(d.labels)},
                     "template": {"metadata": {"labels": dict(d.labels)}, "spec": pod_spec(d, d.name)}},
            "status": {"replicas": len(pods), "updatedReplicas": len(pods), "readyReplicas": ready,
                       "availableReplicas": ready}}
