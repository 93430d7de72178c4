"""What `get` prints: kubectl's tables, and its JSON/YAML objects (pure)."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from collections.abc import Collection
from typing import Any
from ipaddress import ip_address

import yaml

from netlab.model import images
from netlab.model.names import host_port
from netlab.model.objects import Cluster, Node, Pod
from netlab.model.secrets import redacted


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns padded to their widest cell, three spaces apart, as kubectl prints them."""
    cells = [headers] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


def listing(headers: list[str], objects, row, all_ns: bool) -> str:
    """kubectl get's table: a row per object; with --all-namespaces a NAMESPACE column first."""
    if all_ns:
        return table(["NAMESPACE", *headers], [[o.namespace, *row(o)] for o in objects])
    return table(headers, [row(o) for o in objects])


def age(created: float, now: float | None = None) -> str:
    """kubectl's short ages: 45s, 12m, 5h, 3d."""
    s = max(0, int((now if now is not None else time.time()) - created))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size * (2 if unit != "m" else 1):
            return f"{s // size}{unit}"
    return f"{s}s"


def timestamp(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# Each kind's columns: (the headers of `get`, the ones -o wide adds); *_cells give a row's
# cells, the wide ones included (the API server's Tables send them all, kubectl -o wide shows them).
POD_COLUMNS = (["NAME", "READY", "STATUS", "RESTARTS", "AGE"], ["IP", "NODE"])


def pod_cells(c: Cluster, p: Pod, status, now: float) -> list[str]:
    phase, ready, restarts = status(p)
    # the seed's nodes are known by their IPs
    return [p.name, ready, phase, str(restarts), age(p.created, now), p.ip, c.node(p.node).ip]


def _narrow(columns: tuple[list[str], list[str]], wide: bool):
    """The headers, and what part of a row's cells, `get` shows (with -o wide or without)."""
    headers, more = columns
    return (headers + more, None) if wide else (headers, len(headers))


def pod_rows(c: Cluster, pods: list[Pod], wide: bool, all_ns: bool, status, now: float) -> str:
    headers, end = _narrow(POD_COLUMNS, wide)
    return listing(headers, pods, lambda p: pod_cells(c, p, status, now)[:end], all_ns)


NODE_COLUMNS = (["NAME", "STATUS", "ROLES", "AGE", "VERSION"], ["INTERNAL-IP", "POD-CIDR", "KERNEL-VERSION"])


def node_cells(n: Node, created: float, now: float, kernel: str, not_ready: Collection[str] = ()) -> list[str]:
    return [n.name, "NotReady" if n.name in not_ready else "Ready", "<none>", age(created, now), "netlab",
            n.ip, n.pod_cidr, kernel]


def node_rows(c: Cluster, nodes: list[Node], wide: bool, created: float, now: float, kernel: str,
              not_ready: Collection[str] = ()) -> str:
    headers, end = _narrow(NODE_COLUMNS, wide)
    return table(headers, [node_cells(n, created, now, kernel, not_ready)[:end] for n in nodes])


def pod_object(c: Cluster, p: Pod, phase: str, ready: bool, restarts: int, waiting: str | None = None,
               containers: list[dict] | None = None) -> dict:
    """A v1 Pod; `waiting`: the reason its container is not running (NoCommand, ...);
    `containers`: a pod of several containers, each one's status (netlab.pod_status)."""
    meta: dict[str, Any] = {"name": p.name, "namespace": p.namespace, "labels": dict(p.labels),
                            "creationTimestamp": timestamp(p.created)}
    if p.owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                    "name": p.name.rsplit("-", 1)[0], "controller": True}]
    condition = {"type": "Ready", "status": "True" if ready else "False"}
    container = {"name": p.owner or p.name, "ready": ready, "restartCount": restarts}
    if waiting:
        condition["reason"] = "ContainersNotReady"
        container["state"] = {"waiting": {"reason": waiting, **({"message": m} if (m := images.message(waiting))
                                                                 else {})}}
    specs, statuses = [], [container]
    if containers:
        specs = [{"name": x["name"], "command": list(x.get("command", [])),
                  "ports": [{**({"name": n} if n else {}), "containerPort": port, "protocol": proto}
                            for n, port, proto in x.get("ports", [])]} for x in containers]
        statuses = [{"name": x["name"], "ready": bool(x.get("ready")), "restartCount": int(x.get("restarts", 0)),
                     "state": {"running": {"startedAt": timestamp(x.get("started", 0))}} if x.get("state") == "running"
                     else {"waiting": {"reason": x.get("reason", "")}}} for x in containers]
        if not all(x["ready"] for x in statuses) and not waiting:
            condition["reason"] = "ContainersNotReady"
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": meta,
        "spec": {"nodeName": p.node, "containers": specs, "terminationGracePeriodSeconds": p.termination_grace_period},
        "status": {"phase": phase, "podIP": p.ip, "podIPs": [{"ip": p.ip}],
                   "hostIP": c.node(p.node).ip,
                   "conditions": [condition],
                   "containerStatuses": statuses},
    }


def describe_pod(c: Cluster, p: Pod, phase: str, ready: bool, restarts: int, waiting: str | None = None,
                 containers: list[dict] | None = None) -> str:
    """kubectl describe pod, for the one container netlab runs: what it runs instead of
    its image (never pulled), and why it waits, if it does; for a pod of several
    containers (`containers`: their statuses), each of them as its runtime started it."""
    node = c.node(p.node)
    out = [f"Name:\t{p.name}", f"Namespace:\t{p.namespace}", f"Node:\t{p.node}/{node.ip}",
           *_multiline("Labels", p.labels), "Annotations:\t<none>", f"Status:\t{phase}", f"IP:\t{p.ip}"]
    if p.owner:
        out.append(f"Controlled By:\tReplicaSet/{p.name.rsplit('-', 1)[0]}")
    if containers:
        out += ["Containers:", *(line for x in containers for line in _container_lines(p, x)),
                "Conditions:", "  Type\tStatus", f"  Ready \t{ready}", "Events:\t<none>"]
        return _describe(out)
    out += ["Containers:", f"  {p.owner or p.name}:",
            f"    Image:\t{p.image or '<none>'} (not pulled: it runs {images.runs(p.command)})"]
    if p.command:
        out += ["    Command:", *(f"      {arg}" for arg in p.command)]
    ports = sorted(set(p.container_ports.values()))
    out.append(f"    Port:\t{', '.join(f'{n}/TCP' for n in ports) or '<none>'}")
    if waiting:
        out += ["    State:\tWaiting", f"      Reason:\t{waiting}"]
        if images.message(waiting):
            out.append(f"      Message:\t{images.message(waiting)}")
    else:
        out.append(f"    State:\t{'Running' if phase == 'Running' else phase}")
    out += [f"    Ready:\t{ready}", f"    Restart Count:\t{restarts}",
            "Conditions:", "  Type\tStatus", f"  Ready \t{ready}", "Events:\t<none>"]
    return _describe(out)


def _program(name: str) -> str:
    return f"netlab's {name}" if name.startswith("netlab-") else f"the host's {name}"


def _container_lines(p: Pod, x: dict) -> list[str]:
    """One container of a pod of several, as describe pod shows it."""
    command = list(x.get("command", []))
    out = [f"  {x['name']}:",
           f"    Image:\t<none> (not pulled: {p.command[0] if p.command else 'the pod'} runs "
           f"{_program(command[0]) if command else 'it'})"]
    if command:
        out += ["    Command:", *(f"      {arg}" for arg in command)]
    ports = [f"{port}/{proto}" for _, port, proto in x.get("ports", [])]
    out.append(f"    {'Ports' if len(ports) > 1 else 'Port'}:\t{', '.join(ports) or '<none>'}")
    if x.get("state") == "running":
        out += ["    State:\tRunning", f"      Started:\t{timestamp(x.get('started', 0))}"]
    else:
        out += ["    State:\tWaiting", f"      Reason:\t{x.get('reason', '')}"]
    if x.get("last"):
        out += ["    Last State:\tTerminated", f"      Reason:\t{x['last']}"]
    return out + [f"    Ready:\t{bool(x.get('ready'))}", f"    Restart Count:\t{int(x.get('restarts', 0))}"]


def node_object(n: Node, created: float, down: str | None = None) -> dict:
    """A v1 Node; `down`: why it is not Ready (its kubelet or flanneld is not running)."""
    ready = {"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": down} if down \
        else {"type": "Ready", "status": "True"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": n.name, "labels": {"kubernetes.io/hostname": n.name},
                     "creationTimestamp": timestamp(created)},
        "spec": {"podCIDR": n.pod_cidr, "podCIDRs": [n.pod_cidr]},
        "status": {"addresses": [{"type": "InternalIP", "address": n.ip},
                                 {"type": "Hostname", "address": n.name}],
                   "conditions": [ready]},
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (a ConfigMap's files) as literal blocks, as kubectl -o yaml writes them."""


_Dumper.add_representer(str, lambda dumper, s: dumper.represent_scalar(
    "tag:yaml.org,2002:str", s, style="|" if "\n" in s else None))


def as_list(items: list[dict], fmt: str) -> str:
    doc = {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}
    if fmt == "json":
        return json.dumps(doc, indent=4)
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False).rstrip()


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


SERVICE_COLUMNS = (["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], ["SELECTOR"])


def service_cells(s, now: float) -> list[str]:
    return [s.name, s.type, s.cluster_ip or "<none>", external_ip(s), _ports(s), age(s.created, now),
            selector_text(s.selector)]


def service_rows(services, wide: bool, all_ns: bool, now: float) -> str:
    headers, end = _narrow(SERVICE_COLUMNS, wide)
    return listing(headers, services, lambda s: service_cells(s, now)[:end], all_ns)


def endpoint_list(ep, port_name: str | None = None, limit: int | None = 3) -> str:
    """"ip:port,ip:port,... + N more..." as kubectl prints Endpoints."""
    if ep is None:
        return "<none>"
    ports = [p for p in ep.ports if port_name is None or p.name == port_name]
    items = [host_port(a.ip, p.port) for p in ports for a in ep.addresses if a.ready]
    if not items:
        return "<none>"
    if limit and len(items) > limit:
        return ",".join(items[:limit]) + f" + {len(items) - limit} more..."
    return ",".join(items)


ENDPOINTS_COLUMNS: tuple[list[str], list[str]] = (["NAME", "ENDPOINTS", "AGE"], [])


def endpoints_cells(e, created: dict, now: float) -> list[str]:
    """`created`: (namespace, name) -> the creation time of the Service the Endpoints are of."""
    return [e.name, endpoint_list(e), age(created.get((e.namespace, e.name), now), now)]


def endpoints_rows(endpoints, all_ns: bool, created: dict, now: float) -> str:
    return listing(ENDPOINTS_COLUMNS[0], endpoints, lambda e: endpoints_cells(e, created, now), all_ns)


DEPLOYMENT_COLUMNS: tuple[list[str], list[str]] = (["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], [])


def deployment_cells(c: Cluster, d, now: float) -> list[str]:
    pods = [p for p in c.pods if p.owner == d.name and p.namespace == d.namespace]
    ready = sum(p.ready for p in pods)
    first = min((p.created for p in pods), default=now)
    return [d.name, f"{ready}/{d.replicas}", str(len(pods)), str(ready), age(first, now)]


def deployment_rows(c: Cluster, deployments, all_ns: bool, now: float) -> str:
    return listing(DEPLOYMENT_COLUMNS[0], deployments, lambda d: deployment_cells(c, d, now), all_ns)


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
    if svc.health_check_node_port:
        spec["healthCheckNodePort"] = svc.health_check_node_port
    if svc.load_balancer_source_ranges:
        spec["loadBalancerSourceRanges"] = list(svc.load_balancer_source_ranges)
    if svc.type != "ExternalName":
        spec["internalTrafficPolicy"] = svc.internal_traffic_policy
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


# ---- describe's layout: Go's text/tabwriter as kubectl sets it up -------------------------

def _escaped(text: str) -> str:
    """What kubectl's describe writers do to terminal control characters."""
    return text.replace("\x1b", "^[").replace("\r", "\\r")


def tabbed(text: str, padding: int = 2) -> str:
    """`text` laid out as kubectl describe's tabwriter does (minwidth 0, padding 2, spaces).

    A tab ends a cell; the text after a line's last tab is not a cell and is never padded.
    Consecutive lines that have a cell in a column form a block, padded to its widest cell
    plus `padding`; a line without that cell ends the block (so a line with no tab ends them
    all). Padding is kept where kubectl writes it, trailing spaces included.
    """
    lines = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []

    def write(widths: list[int], start: int, end: int) -> None:
        for cells in lines[start:end]:
            out.append("".join(c.ljust(widths[j]) if j < len(widths) else c for j, c in enumerate(cells)))

    def block(widths: list[int], start: int, end: int) -> None:
        column, this = len(widths), start
        while this < end:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write(widths, start, this)
            start, width = this, 0
            while this < end and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            block(widths + [width], start, this)
            start = this
        write(widths, start, end)

    block([], 0, len(lines))
    return "\n".join(out)


def _describe(lines: list[str]) -> str:
    """kubectl describe's text from the lines its writers produce (tabs mark the columns)."""
    return tabbed(_escaped("\n".join(lines)))


def _multiline(title: str, items: dict[str, str], annotations: bool = False) -> list[str]:
    """Labels or annotations as kubectl describe prints them: sorted, one a line, or <none>."""
    keys = sorted(k for k in items if not (annotations and k == LAST_APPLIED))
    if not keys:
        return [f"{title}:\t<none>"]
    out = []
    for i, key in enumerate(keys):
        lead = f"{title}:\t" if i == 0 else "\t"
        if not annotations:
            out.append(f"{lead}{key}={items[key]}")
            continue
        value = items[key].removesuffix("\n")
        if len(value) + len(key) + 2 > MAX_ANNOTATION or "\n" in value:
            out.append(f"{lead}{key}:")
            out += [f"\t  {s[:MAX_ANNOTATION - 2] + '...' if len(s) > MAX_ANNOTATION - 2 else s}"
                    for s in value.split("\n")]
        else:
            out.append(f"{lead}{key}: {value}")
    return out


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"   # describe never shows it
MAX_ANNOTATION = 140


def _sorted(value):
    """Keys in the order kubectl prints them (it prints objects as sorted maps)."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _meta(name: str, namespace: str | None, created: float, labels=None, annotations=None) -> dict:
    meta: dict[str, Any] = {"name": name, "creationTimestamp": timestamp(created)}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


# ---- ingresses and ingress classes --------------------------------------------------------

LOAD_BALANCER_WIDTH = 16


def _addresses(address: str) -> list[str]:
    """The lab's comma-separated ingress addresses, each once."""
    return list(dict.fromkeys(a.strip() for a in (address or "").split(",") if a.strip()))


def ingress_address(address: str, wide: bool = True) -> str:
    """ADDRESS as kubectl prints it: sorted, comma-joined, clipped to 16 characters unless wide."""
    text = ",".join(sorted(_addresses(address)))
    if not wide and len(text) > LOAD_BALANCER_WIDTH:
        text = text[:LOAD_BALANCER_WIDTH - 3] + "..."
    return text


def ingress_hosts(ing) -> str:
    """HOSTS: up to three rule hosts, `*` when no rule names one, "+ N more..." past three rules' worth."""
    hosts: list[str] = []
    more = False
    for rule in ing.rules:
        if len(hosts) == 3:
            more = True
        if not more and rule.host:
            hosts.append(rule.host)
    if not hosts:
        return "*"
    return ",".join(hosts) + (f" + {len(ing.rules) - 3} more..." if more else "")


INGRESS_COLUMNS: tuple[list[str], list[str]] = (["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"], [])


def ingress_cells(ing, now: float, address: str, wide: bool = False) -> list[str]:
    return [ing.name, ing.class_name or "<none>", ingress_hosts(ing), ingress_address(address, wide),
            "80, 443" if ing.tls else "80", age(ing.created, now)]


def ingress_rows(ingresses, all_ns: bool, now: float, address: str, wide: bool = False) -> str:
    return listing(INGRESS_COLUMNS[0], ingresses, lambda ing: ingress_cells(ing, now, address, wide), all_ns)


def _backend_object(b) -> dict:
    port = {"number": b.port} if isinstance(b.port, int) else {"name": b.port}
    return {"service": {"name": b.service, "port": port}}


def _load_balancer_entry(a: str) -> dict:
    try:
        ip_address(a)
        return {"ip": a}
    except ValueError:
        return {"hostname": a}


def ingress_object(ing, address: str) -> dict:
    spec: dict = {}
    if ing.class_name:
        spec["ingressClassName"] = ing.class_name
    if ing.default_backend is not None:
        spec["defaultBackend"] = _backend_object(ing.default_backend)
    if ing.rules:
        rules = []
        for r in ing.rules:
            rule: dict = {"host": r.host} if r.host else {}
            if r.paths:
                rule["http"] = {"paths": [{"path": p.path, "pathType": p.path_type,
                                           "backend": _backend_object(p.backend)} for p in r.paths]}
            rules.append(rule)
        spec["rules"] = rules
    if ing.tls:
        spec["tls"] = [{**({"hosts": list(t.hosts)} if t.hosts else {}),
                        **({"secretName": t.secret} if t.secret else {})} for t in ing.tls]
    lb = [_load_balancer_entry(a) for a in _addresses(address)]
    return _sorted({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                    "metadata": _meta(ing.name, ing.namespace, ing.created, ing.labels, ing.annotations),
                    "spec": spec, "status": {"loadBalancer": {"ingress": lb} if lb else {}}})


def _endpoints_text(ep, port_name: str) -> str:
    """kubectl's formatEndpoints: ready ip:port of the endpoint port named like the service port."""
    if not ep.addresses:                      # an Endpoints object with no subsets
        return "<none>"
    ready = [a.ip for a in ep.addresses if a.ready]
    if ep.ports:
        items = [host_port(ip, p.port) for p in ep.ports if p.name == port_name for ip in ready]
    else:                                     # headless, no ports: the addresses alone
        items = ready
    if len(items) > 3:
        return ",".join(items[:3]) + f" + {len(items) - 3} more..."
    return ",".join(items)


def _describe_backend(b, namespace: str, services, endpoints) -> str:
    """`service:port (endpoints)`, or the error kubectl 1.2x shows in their place."""
    head = f"{b.service}:{b.port}"
    ep = next((e for e in endpoints if (e.namespace, e.name) == (namespace, b.service)), None)
    if ep is None:
        return f'{head} (<error: endpoints "{b.service}" not found>)'
    svc = next((s for s in services if (s.namespace, s.name) == (namespace, b.service)), None)
    if svc is None:
        return f'{head}(<error: services "{b.service}" not found>)'     # kubectl leaves out the space here
    port_name = ""
    for p in svc.ports:
        if (isinstance(b.port, int) and b.port == p.port) or (isinstance(b.port, str) and b.port == p.name):
            port_name = p.name
    return f"{head} ({_endpoints_text(ep, port_name)})"


def describe_ingress(ing, services, endpoints, address: str) -> str:
    """kubectl describe ingress (networking.k8s.io/v1), from the Services and Endpoints of the lab."""
    default = "<default>"
    if ing.default_backend is not None:
        default = _describe_backend(ing.default_backend, ing.namespace, services, endpoints)
    out = [f"Name:\t{ing.name}", *_multiline("Labels", ing.labels), f"Namespace:\t{ing.namespace}",
           f"Address:\t{ingress_address(address)}", f"Ingress Class:\t{ing.class_name or '<none>'}",
           f"Default backend:\t{default}"]
    if ing.tls:
        out.append("TLS:")
        out += [f"  {t.secret} terminates {','.join(t.hosts)}" if t.secret else f"  SNI routes {','.join(t.hosts)}"
                for t in ing.tls]
    out += ["Rules:", "  Host\tPath\tBackends", "  ----\t----\t--------"]
    http_rules = [r for r in ing.rules if r.paths]           # a rule without http is not listed
    for r in http_rules:
        out.append(f"  {r.host or '*'}\t")
        out += [f"    \t{p.path} \t{_describe_backend(p.backend, ing.namespace, services, endpoints)}"
                for p in r.paths]
    if not http_rules:
        out.append(f"  *\t*\t{default}")
    out += _multiline("Annotations", ing.annotations, annotations=True)
    out.append("Events:\t<none>")
    return _describe(out)


DEFAULT_CLASS = "ingressclass.kubernetes.io/is-default-class"


def ingressclass_rows(classes, now: float, created: float) -> str:
    """kubectl get ingressclass; `created` is the lab's creation time (classes keep none)."""
    return table(["NAME", "CONTROLLER", "PARAMETERS", "AGE"],
                 [[ic.name, ic.controller, "<none>", age(created, now)] for ic in classes])


def ingressclass_object(ic, created: float) -> dict:
    return _sorted({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                    "metadata": _meta(ic.name, None, created,
                                      annotations={DEFAULT_CLASS: "true"} if ic.default else None),
                    "spec": {"controller": ic.controller}})


# ---- secrets and config maps ----------------------------------------------------------------

SECRET_COLUMNS: tuple[list[str], list[str]] = (["NAME", "TYPE", "DATA", "AGE"], [])


def secret_cells(s, now: float) -> list[str]:
    return [s.name, s.type, str(len(s.data)), age(s.created, now)]


def secret_rows(secrets, all_ns: bool, now: float) -> str:
    return listing(SECRET_COLUMNS[0], secrets, lambda s: secret_cells(s, now), all_ns)


def secret_object(secret) -> dict:
    """The Secret as `get -o yaml|json` shows it: values base64-encoded, as stored."""
    obj = {"apiVersion": "v1", "kind": "Secret", "type": secret.type,
           "metadata": _meta(secret.name, secret.namespace, secret.created, secret.labels)}
    if secret.data:
        obj["data"] = dict(secret.data)
    return _sorted(obj)


def describe_secret(secret) -> str:
    """kubectl describe secret: each key's size, never its value."""
    sizes = redacted(secret)
    out = [f"Name:\t{secret.name}", f"Namespace:\t{secret.namespace}", *_multiline("Labels", secret.labels),
           "Annotations:\t<none>", "", f"Type:\t{secret.type}", "", "Data", "===="]
    out += [f"{key}:\t{sizes[key]} bytes" for key in sorted(sizes)]
    return _describe(out)


CONFIGMAP_COLUMNS: tuple[list[str], list[str]] = (["NAME", "DATA", "AGE"], [])


def configmap_cells(m, now: float) -> list[str]:
    return [m.name, str(len(m.data)), age(m.created, now)]


def configmap_rows(config_maps, all_ns: bool, now: float) -> str:
    return listing(CONFIGMAP_COLUMNS[0], config_maps, lambda m: configmap_cells(m, now), all_ns)


def configmap_object(cm) -> dict:
    obj = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": _meta(cm.name, cm.namespace, cm.created, cm.labels)}
    if cm.data:
        obj["data"] = dict(cm.data)
    return _sorted(obj)


def describe_configmap(cm) -> str:
    """kubectl (1.2x) describe configmap: each key, a ---- rule and its value as it is."""
    out = [f"Name:\t{cm.name}", f"Namespace:\t{cm.namespace}", *_multiline("Labels", cm.labels),
           "Annotations:\t<none>", "", "Data", "===="]
    for key in sorted(cm.data):
        out += [f"{key}:", "----", cm.data[key]]
    out += ["", "BinaryData", "====", "", "Events:\t<none>"]
    return _describe(out)


NETWORKPOLICY_COLUMNS: tuple[list[str], list[str]] = (["NAME", "POD-SELECTOR", "AGE"], [])


def networkpolicy_cells(p, now: float) -> list[str]:
    from netlab.model import selectors
    return [p.name, selectors.text(p.pod_selector), age(p.created, now)]


def networkpolicy_rows(policies, all_ns: bool, now: float) -> str:
    return listing(NETWORKPOLICY_COLUMNS[0], policies, lambda p: networkpolicy_cells(p, now), all_ns)


def go_time(t: float) -> str:
    """A creation time as Go's time.Time prints it (metav1.Time: whole seconds, in the local zone)."""
    return datetime.fromtimestamp(int(t)).astimezone().strftime("%Y-%m-%d %H:%M:%S %z %Z")


def describe_networkpolicy(p) -> str:
    """kubectl (1.2x) describe networkpolicy. Only Name..Annotations go through the tabwriter's
    columns; the spec's lines are written with fixed indents (PodSelector's value after its
    `: ` and a second indent). 1.2x prints an endPort's range as its first port alone (1.31 and
    later print `To Port Range: 5000-5010/TCP`)."""
    from netlab.model import selectors
    empty = not p.pod_selector.match_labels and not p.pod_selector.match_expressions
    pods = "<none> (Allowing the specific traffic to all pods in this namespace)" if empty \
        else selectors.text(p.pod_selector)
    out = [f"Name:\t{p.name}", f"Namespace:\t{p.namespace}", f"Created on:\t{go_time(p.created)}",
           *_multiline("Labels", p.labels), "Annotations:\t<none>", "Spec:", f"  PodSelector:     {pods}"]
    for kind, rules, peers, side in (("ingress", p.ingress, "From", "source"),
                                     ("egress", p.egress, "To", "destination")):
        if kind.capitalize() not in p.policy_types:
            out.append(f"  Not affecting {kind} traffic")
            continue
        out.append(f"  Allowing {kind} traffic:")
        if not rules:
            out.append(f"    <none> (Selected pods are isolated for {kind} connectivity)")
        for i, rule in enumerate(rules):
            if i:
                out.append("    ----------")
            out += ([f"    To Port: {'<nil>' if x.port is None else x.port}/{x.protocol}" for x in rule.ports]
                    or ["    To Port: <any> (traffic allowed to all ports)"])
            if not rule.peers:
                out.append(f"    {peers}: <any> (traffic not restricted by {side})")
            for peer in rule.peers:
                out.append(f"    {peers}:")
                if peer.namespace_selector is not None:
                    out.append(f"      NamespaceSelector: {selectors.text(peer.namespace_selector)}")
                if peer.pod_selector is not None:
                    out.append(f"      PodSelector: {selectors.text(peer.pod_selector)}")
                if peer.ip_block is not None and peer.namespace_selector is None and peer.pod_selector is None:
                    out += ["      IPBlock:", f"        CIDR: {peer.ip_block.cidr}",
                            f"        Except: {', '.join(peer.ip_block.excepts)}"]
    out.append(f"  Policy Types: {', '.join(p.policy_types) or '<none>'}")
    return _describe(out)


def _selector_object(sel) -> dict:
    out: dict[str, Any] = {}
    if sel.match_labels:
        out["matchLabels"] = dict(sel.match_labels)
    if sel.match_expressions:
        out["matchExpressions"] = [{"key": r.key, "operator": r.operator, **({"values": r.values} if r.values else {})}
                                   for r in sel.match_expressions]
    return out


def _peer_object(peer) -> dict:
    if peer.ip_block is not None:
        block: dict[str, Any] = {"cidr": peer.ip_block.cidr}
        if peer.ip_block.excepts:
            block["except"] = list(peer.ip_block.excepts)
        return {"ipBlock": block}
    out = {}
    if peer.pod_selector is not None:
        out["podSelector"] = _selector_object(peer.pod_selector)
    if peer.namespace_selector is not None:
        out["namespaceSelector"] = _selector_object(peer.namespace_selector)
    return out


def _rule_object(rule, peers_key: str) -> dict:
    out: dict[str, Any] = {}
    if rule.peers:
        out[peers_key] = [_peer_object(p) for p in rule.peers]
    if rule.ports:
        out["ports"] = [{"protocol": p.protocol, **({"port": p.port} if p.port is not None else {}),
                         **({"endPort": p.end_port} if p.end_port is not None else {})} for p in rule.ports]
    return out


def networkpolicy_object(p) -> dict:
    spec: dict[str, Any] = {"podSelector": _selector_object(p.pod_selector), "policyTypes": list(p.policy_types)}
    if p.ingress:
        spec["ingress"] = [_rule_object(r, "from") for r in p.ingress]
    if p.egress:
        spec["egress"] = [_rule_object(r, "to") for r in p.egress]
    return _sorted({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": _meta(p.name, p.namespace, p.created, p.labels), "spec": spec})
