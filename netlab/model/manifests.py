"""Kubernetes manifests in: YAML documents -> model objects (pure but for reading files).

Errors name file, document, field and reason on one line; fields netlab does not
implement are named in warnings, never dropped silently.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from netlab.errors import ModelError
from netlab.model import yamlio
from netlab.model.objects import (
    Deployment, EndpointAddress, EndpointPort, Endpoints, Pod, Service, ServicePort,
)

KINDS = {("v1", "Service"), ("v1", "Endpoints"), ("v1", "Pod"), ("v1", "Namespace"), ("apps/v1", "Deployment")}

# Fields netlab understands, per kind; anything else is warned about.
_KNOWN = {
    "metadata": {"name", "namespace", "labels", "annotations", "generateName", "uid", "resourceVersion",
                 "creationTimestamp"},
    "Service.spec": {"type", "clusterIP", "ports", "selector", "sessionAffinity", "sessionAffinityConfig",
                     "externalTrafficPolicy", "externalIPs", "externalName", "loadBalancerIP", "clusterIPs"},
    "Service.port": {"name", "protocol", "port", "targetPort", "nodePort"},
    "Deployment.spec": {"replicas", "selector", "template", "strategy"},
    "Pod.spec": {"containers", "nodeName", "restartPolicy"},
    "container": {"name", "image", "command", "args", "ports", "imagePullPolicy", "env"},
}


@dataclass
class Manifest:
    kind: str
    obj: object                      # Service, Endpoints, Pod, Deployment, or a namespace name
    where: str                       # "file.yaml: document 2"
    warnings: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        ns = getattr(self.obj, "namespace", "")
        return (self.kind, ns, getattr(self.obj, "name", self.obj))


class _Doc:
    """One document being read: collects warnings, raises errors with their place."""

    def __init__(self, where: str, doc: dict):
        self.where, self.doc, self.warnings, self.unknown = where, doc, [], []

    def fail(self, path: str, msg: str):
        raise ModelError(f"{self.where}: {path}: {msg}" if self.where else f"{path}: {msg}")

    def get(self, obj: dict, key: str, path: str, kind, default=None, required=False):
        value = obj.get(key, default) if isinstance(obj, dict) else default
        where = f"{path}.{key}" if path else key
        if value is None:
            if required:
                self.fail(where, "required field is missing")
            return default
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            self.fail(where, f"{value!r} must be a {names}")
        return value

    def known(self, obj: dict, allowed: str, path: str) -> None:
        for key in obj:
            if key not in _KNOWN[allowed]:
                self.unknown.append(f"{path}.{key}")
                self.warnings.append(f"{self.where}: {path}.{key} is not implemented by netlab and was ignored")


def _labels(d: _Doc, obj: dict, path: str) -> dict[str, str]:
    labels = d.get(obj, "labels", path, dict, {}) or {}
    return {str(k): str(v) for k, v in labels.items()}


def _meta(d: _Doc) -> tuple[str, str, dict]:
    meta = d.get(d.doc, "metadata", "", dict, required=True)
    d.known(meta, "metadata", "metadata")
    name = d.get(meta, "name", "metadata", str, required=True)
    namespace = d.get(meta, "namespace", "metadata", str, "default")
    return name, namespace, meta


def _containers(d: _Doc, spec: dict, path: str) -> tuple[dict[str, int], list[str], dict[str, str]]:
    """(container ports by name, the first container's command + args, its env)."""
    containers = d.get(spec, "containers", path, list, [])
    ports: dict[str, int] = {}
    command: list[str] = []
    env: dict[str, str] = {}
    for i, c in enumerate(containers):
        cpath = f"{path}.containers[{i}]"
        if not isinstance(c, dict):
            d.fail(cpath, "must be a mapping")
        d.known(c, "container", cpath)
        for j, p in enumerate(d.get(c, "ports", cpath, list, [])):
            number = d.get(p, "containerPort", f"{cpath}.ports[{j}]", int, required=True)
            ports[d.get(p, "name", f"{cpath}.ports[{j}]", str, "")] = number
        if i == 0:
            command = [str(x) for x in d.get(c, "command", cpath, list, []) + d.get(c, "args", cpath, list, [])]
            for j, e in enumerate(d.get(c, "env", cpath, list, [])):
                epath = f"{cpath}.env[{j}]"
                if "valueFrom" in (e if isinstance(e, dict) else {}):
                    d.warnings.append(f"{d.where}: {epath}.valueFrom is not implemented by netlab and was ignored")
                    continue
                env[d.get(e, "name", epath, str, required=True)] = str(d.get(e, "value", epath, (str, int, float), ""))
        elif c.get("command"):
            d.warnings.append(f"{d.where}: {cpath}.command: netlab runs the first container's command only")
    return ports, command, env


def containers(spec: dict, where: str) -> tuple[dict[str, int], list[str], dict[str, str]]:
    """A `containers` list outside a manifest (topology files): ports, command, env."""
    d = _Doc("", {})
    out = _containers(d, spec, where)
    if d.unknown:        # topology files are netlab's own: an unknown field is an error there
        raise ModelError(f"{d.unknown[0]} is not a field netlab knows")
    return out


def _service(d: _Doc) -> Service:
    name, ns, meta = _meta(d)
    spec = d.get(d.doc, "spec", "", dict, {})
    d.known(spec, "Service.spec", "spec")
    ports = []
    for i, p in enumerate(d.get(spec, "ports", "spec", list, [])):
        path = f"spec.ports[{i}]"
        if not isinstance(p, dict):
            d.fail(path, "must be a mapping")
        d.known(p, "Service.port", path)
        port = d.get(p, "port", path, int, required=True)
        ports.append(ServicePort(port, d.get(p, "name", path, str, ""), d.get(p, "protocol", path, str, "TCP"),
                                 d.get(p, "targetPort", path, (int, str), port),
                                 d.get(p, "nodePort", path, int)))
    affinity = d.get(spec, "sessionAffinityConfig", "spec", dict, {})
    timeout = d.get(d.get(affinity, "clientIP", "spec.sessionAffinityConfig", dict, {}), "timeoutSeconds",
                    "spec.sessionAffinityConfig.clientIP", int, 10800)
    selector = d.get(spec, "selector", "spec", dict)
    return Service(name, ns, type=d.get(spec, "type", "spec", str, "ClusterIP"),
                   cluster_ip=d.get(spec, "clusterIP", "spec", str), ports=ports,
                   selector={str(k): str(v) for k, v in selector.items()} if selector else None,
                   session_affinity=d.get(spec, "sessionAffinity", "spec", str, "None"), affinity_timeout=timeout,
                   external_traffic_policy=d.get(spec, "externalTrafficPolicy", "spec", str, "Cluster"),
                   external_ips=[str(x) for x in d.get(spec, "externalIPs", "spec", list, [])],
                   external_name=d.get(spec, "externalName", "spec", str),
                   load_balancer_ip=d.get(spec, "loadBalancerIP", "spec", str),
                   labels=_labels(d, meta, "metadata"))


def _endpoints(d: _Doc) -> Endpoints:
    name, ns, _ = _meta(d)
    subsets = d.get(d.doc, "subsets", "", list, [])
    addresses, ports = [], None
    for i, s in enumerate(subsets):
        path = f"subsets[{i}]"
        these = [EndpointPort(d.get(p, "port", f"{path}.ports[{j}]", int, required=True),
                              d.get(p, "name", f"{path}.ports[{j}]", str, ""),
                              d.get(p, "protocol", f"{path}.ports[{j}]", str, "TCP"))
                 for j, p in enumerate(d.get(s, "ports", path, list, []))]
        if ports is not None and these != ports:
            d.fail(f"{path}.ports", "netlab keeps one set of ports per Endpoints; give every subset the same ports")
        ports = these
        for j, a in enumerate(d.get(s, "addresses", path, list, [])):
            addresses.append(EndpointAddress(d.get(a, "ip", f"{path}.addresses[{j}]", str, required=True),
                                             node=d.get(a, "nodeName", f"{path}.addresses[{j}]", str),
                                             hostname=d.get(a, "hostname", f"{path}.addresses[{j}]", str)))
        for j, a in enumerate(d.get(s, "notReadyAddresses", path, list, [])):
            addresses.append(EndpointAddress(d.get(a, "ip", f"{path}.notReadyAddresses[{j}]", str, required=True),
                                             ready=False))
    return Endpoints(name, ns, addresses, ports or [])


def _deployment(d: _Doc) -> Deployment:
    name, ns, _ = _meta(d)
    spec = d.get(d.doc, "spec", "", dict, required=True)
    d.known(spec, "Deployment.spec", "spec")
    template = d.get(spec, "template", "spec", dict, required=True)
    labels = _labels(d, d.get(template, "metadata", "spec.template", dict, {}), "spec.template.metadata")
    match = d.get(d.get(spec, "selector", "spec", dict, {}), "matchLabels", "spec.selector", dict, {})
    match = {str(k): str(v) for k, v in match.items()}
    if any(labels.get(k) != v for k, v in match.items()):
        d.fail("spec.selector.matchLabels", "does not match spec.template.metadata.labels")
    pod_spec = d.get(template, "spec", "spec.template", dict, {})
    d.known(pod_spec, "Pod.spec", "spec.template.spec")
    ports, command, env = _containers(d, pod_spec, "spec.template.spec")
    replicas = d.get(spec, "replicas", "spec", int, 1)
    if replicas < 0:
        d.fail("spec.replicas", f"{replicas} must be >= 0")
    return Deployment(name, ns, replicas, labels or {"app": name}, container_ports=ports, command=command, env=env)


def _pod(d: _Doc) -> Pod:
    name, ns, meta = _meta(d)
    spec = d.get(d.doc, "spec", "", dict, {})
    d.known(spec, "Pod.spec", "spec")
    ports, command, env = _containers(d, spec, "spec")
    return Pod(name, ns, d.get(spec, "nodeName", "spec", str, ""), "", _labels(d, meta, "metadata"),
               container_ports=ports, command=command, env=env)


_READERS = {"Service": _service, "Endpoints": _endpoints, "Deployment": _deployment, "Pod": _pod}


def parse_document(doc, where: str) -> Manifest | None:
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise ModelError(f"{where}: must be a mapping (a Kubernetes object)")
    d = _Doc(where, doc)
    api, kind = doc.get("apiVersion"), doc.get("kind")
    if not kind:
        d.fail("kind", "required field is missing")
    if (api, kind) not in KINDS:
        known = ", ".join(f"{a} {k}" for a, k in sorted(KINDS))
        d.fail("kind", f"{api} {kind} is not supported (known: {known})")
    if kind == "Namespace":
        name, _, _ = _meta(d)
        return Manifest(kind, name, where, d.warnings)
    obj = _READERS[kind](d)
    return Manifest(kind, obj, where, d.warnings)


def files(path: str | Path) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        return sorted(x for x in p.iterdir() if x.suffix in (".yaml", ".yml", ".json"))
    if not p.exists():
        raise ModelError(f"{p}: no such file or directory")
    return [p]


def load(path: str | Path) -> list[Manifest]:
    """Every object of a file (multi-document) or a directory of files, in order."""
    out = []
    for f in files(path):
        for i, doc in enumerate(yamlio.read(f, all_documents=True), 1):
            m = parse_document(doc, f"{f}: document {i}")
            if m is not None:
                out.append(m)
    return out


def apply_to(cluster, manifests: list[Manifest]) -> None:
    """Create or replace each object in the cluster (what the API server stores)."""
    for m in manifests:
        if m.kind == "Namespace":
            continue
        if m.kind == "Service":
            old = _pop(cluster.services, m.obj)
            if old is not None and not m.obj.cluster_ip:
                m.obj.cluster_ip = old.cluster_ip          # a service keeps its address across applies
            if old is not None and m.obj.type == "LoadBalancer" and not m.obj.load_balancer_ip:
                m.obj.load_balancer_ip = old.load_balancer_ip
            if old is not None:
                m.obj.created = old.created
            cluster.services.append(m.obj)
        elif m.kind == "Endpoints":
            _pop(cluster.endpoints, m.obj)
            cluster.endpoints.append(m.obj)
        elif m.kind == "Deployment":
            old = _pop(cluster.deployments, m.obj)
            if old is not None:
                m.obj.template_hash, m.obj.next_ordinal = old.template_hash, old.next_ordinal
                same = (old.labels, old.container_ports, old.command, old.env) == \
                       (m.obj.labels, m.obj.container_ports, m.obj.command, m.obj.env)
                if not same:   # a new template: the old pods go, new ones come (Recreate)
                    cluster.pods = [p for p in cluster.pods
                                    if not (p.owner == old.name and p.namespace == old.namespace)]
                    m.obj.template_hash = ""
            cluster.deployments.append(m.obj)
        elif m.kind == "Pod":
            old = _pop(cluster.pods, m.obj)
            if old is not None and (old.command, old.container_ports, old.env) == \
                    (m.obj.command, m.obj.container_ports, m.obj.env) \
                    and m.obj.node in ("", old.node):
                old.labels = m.obj.labels                   # same spec: it keeps running where it is
                m.obj = old
            cluster.pods.append(m.obj)


def delete_from(cluster, manifests: list[Manifest]) -> list[str]:
    """Remove each object; returns what was not there (kubectl's NotFound)."""
    missing = []
    lists = {"Service": cluster.services, "Endpoints": cluster.endpoints, "Deployment": cluster.deployments,
             "Pod": cluster.pods}
    for m in manifests:
        if m.kind == "Namespace":
            continue
        if _pop(lists[m.kind], m.obj) is None:
            missing.append(f"{m.kind} {m.obj.namespace}/{m.obj.name}")
        elif m.kind == "Deployment":
            cluster.pods = [p for p in cluster.pods if not (p.owner == m.obj.name and p.namespace == m.obj.namespace)]
        elif m.kind == "Service":
            _pop(cluster.endpoints, m.obj)
    return missing


def _pop(items: list, obj):
    for i, x in enumerate(items):
        if x.name == obj.name and x.namespace == obj.namespace:
            return items.pop(i)
    return None
