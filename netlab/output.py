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


# ---- services and endpoints ---------------------------------------------------------

def _ports(svc) -> str:
    if not svc.ports:
        return "<none>"
    return ",".join(f"{p.port}:{p.node_port}/{p.protocol}" if p.node_port else f"{p.port}/{p.protocol}"
                    for p in svc.ports)


def external_ip(svc) -> str:
    if svc.type == "ExternalName":
        return svc.external_name or "<none>"
    ips = ([svc.load_balancer_ip] if svc.type == "LoadBalancer" and svc.load_balancer_ip else []) + svc.external_ips
    if svc.type == "LoadBalancer" and not svc.load_balancer_ip:
        return "<pending>"
    return ",".join(ips) or "<none>"


def selector_text(selector) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((selector or {}).items())) or "<none>"


def service_rows(services, wide: bool, all_ns: bool, now: float) -> str:
    headers = ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    if wide:
        headers.append("SELECTOR")
    if all_ns:
        headers.insert(0, "NAMESPACE")
    rows = []
    for s in services:
        row = [s.name, s.type, s.cluster_ip or "<none>", external_ip(s), _ports(s), age(s.created, now)]
        if wide:
            row.append(selector_text(s.selector))
        if all_ns:
            row.insert(0, s.namespace)
        rows.append(row)
    return table(headers, rows)


def endpoint_list(ep, port_name: str | None = None, limit: int | None = 3) -> str:
    """"ip:port,ip:port,... + N more..." as kubectl prints Endpoints."""
    if ep is None:
        return "<none>"
    ports = [p for p in ep.ports if port_name is None or p.name == port_name]
    items = [f"{a.ip}:{p.port}" for p in ports for a in ep.addresses if a.ready]
    if not items:
        return "<none>"
    if limit and len(items) > limit:
        return ",".join(items[:limit]) + f" + {len(items) - limit} more..."
    return ",".join(items)


def endpoints_rows(endpoints, all_ns: bool, created: dict, now: float) -> str:
    headers = ["NAME", "ENDPOINTS", "AGE"]
    if all_ns:
        headers.insert(0, "NAMESPACE")
    rows = []
    for e in endpoints:
        row = [e.name, endpoint_list(e), age(created.get((e.namespace, e.name), now), now)]
        if all_ns:
            row.insert(0, e.namespace)
        rows.append(row)
    return table(headers, rows)


def deployment_rows(c: Cluster, deployments, all_ns: bool, now: float) -> str:
    headers = ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    if all_ns:
        headers.insert(0, "NAMESPACE")
    rows = []
    for d in deployments:
        pods = [p for p in c.pods if p.owner == d.name and p.namespace == d.namespace]
        ready = sum(p.ready for p in pods)
        first = min((p.created for p in pods), default=now)
        row = [d.name, f"{ready}/{d.replicas}", str(len(pods)), str(ready), age(first, now)]
        if all_ns:
            row.insert(0, d.namespace)
        rows.append(row)
    return table(headers, rows)


def describe_service(svc, ep) -> str:
    """kubectl describe svc, with the fields the walk-through quotes."""
    def line(key, value):
        return f"{key + ':':<26}{value}"
    out = [line("Name", svc.name), line("Namespace", svc.namespace),
           line("Labels", selector_text(svc.labels)), line("Annotations", "<none>"),
           line("Selector", selector_text(svc.selector)), line("Type", svc.type)]
    if svc.type == "ExternalName":
        out.append(line("External Name", svc.external_name))
    else:
        out.append(line("IP", svc.cluster_ip or "None"))
    if svc.external_ips:
        out.append(line("External IPs", ",".join(svc.external_ips)))
    if svc.type == "LoadBalancer":
        out.append(line("LoadBalancer Ingress", svc.load_balancer_ip or "<pending>"))
    for p in svc.ports:
        name = p.name or "<unset>"
        out.append(line("Port", f"{name}  {p.port}/{p.protocol}"))
        target = p.target_port or p.port
        out.append(line("TargetPort", f"{target}/{p.protocol}"))
        if p.node_port:
            out.append(line("NodePort", f"{name}  {p.node_port}/{p.protocol}"))
        out.append(line("Endpoints", endpoint_list(ep, p.name, limit=None)))
    out.append(line("Session Affinity", svc.session_affinity))
    if svc.type in ("NodePort", "LoadBalancer"):
        out.append(line("External Traffic Policy", svc.external_traffic_policy))
    out.append(line("Events", "<none>"))
    return "\n".join(out)


def service_object(svc, now: float) -> dict:
    spec = {"type": svc.type, "ports": [
        {k: v for k, v in (("name", p.name or None), ("protocol", p.protocol), ("port", p.port),
                           ("targetPort", p.target_port or p.port), ("nodePort", p.node_port)) if v is not None}
        for p in svc.ports], "sessionAffinity": svc.session_affinity}
    if svc.cluster_ip:
        spec["clusterIP"] = svc.cluster_ip
    if svc.selector:
        spec["selector"] = dict(svc.selector)
    if svc.type in ("NodePort", "LoadBalancer"):
        spec["externalTrafficPolicy"] = svc.external_traffic_policy
    if svc.external_ips:
        spec["externalIPs"] = list(svc.external_ips)
    if svc.external_name:
        spec["externalName"] = svc.external_name
    status = {"loadBalancer": {"ingress": [{"ip": svc.load_balancer_ip}]} if svc.load_balancer_ip else {}}
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": svc.name, "namespace": svc.namespace, "labels": dict(svc.labels),
                         "creationTimestamp": timestamp(svc.created or now)},
            "spec": spec, "status": status}


def endpoints_object(ep) -> dict:
    def address(a):
        return {"ip": a.ip, **({"nodeName": a.node} if a.node else {}),
                **({"targetRef": {"kind": "Pod", "name": a.pod, "namespace": ep.namespace}} if a.pod else {})}
    subsets = []
    if ep.addresses:
        subset = {"addresses": [address(a) for a in ep.addresses if a.ready]}
        not_ready = [address(a) for a in ep.addresses if not a.ready]
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        subset["ports"] = [{k: v for k, v in (("name", p.name or None), ("port", p.port), ("protocol", p.protocol))
                            if v is not None} for p in ep.ports]
        subsets.append(subset)
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": ep.name, "namespace": ep.namespace},
            "subsets": subsets}
