"""The kinds the lab's API serves, its discovery documents, Status errors and Table columns (pure)."""
from __future__ import annotations

from dataclasses import dataclass

from netlab import output
from netlab.api import event_items
from netlab.api.objects import INGRESS_V1BETA1

READ = ["get", "list", "watch"]
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-netlab", "gitCommit": "netlab",
           "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "n/a",
           "compiler": "netlab", "platform": "linux/amd64"}


@dataclass(frozen=True)
class Resource:
    name: str                   # plural, as in URLs: pods
    singular: str
    kind: str
    group: str                  # "" for the core group
    version: str
    namespaced: bool
    short: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()        # fieldSelector labels beyond metadata.name and metadata.namespace
    stored: str = ""                    # the store's name of its objects, if not `name` (another version's)
    writable: bool = True               # False: read-only here (nodes: netlab node add/remove)

    @property
    def store_name(self) -> str:
        return self.stored or self.name

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """As error messages name it: pods, deployments.apps."""
        return f"{self.name}.{self.group}" if self.group else self.name

    @property
    def supported_fields(self) -> tuple[str, ...]:
        return ("metadata.name", "metadata.namespace", *self.fields) if self.namespaced \
            else ("metadata.name", *self.fields)


# as the API server selects events (source is source.component: see selectors.ALIASES)
EVENT_FIELDS = ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                "reason", "reportingComponent", "source", "type")
RESOURCES = [
    Resource("pods", "pod", "Pod", "", "v1", True, ("po",), ("spec.nodeName", "status.phase", "status.podIP")),
    Resource("services", "service", "Service", "", "v1", True, ("svc",), ("spec.type", "spec.clusterIP")),
    Resource("endpoints", "endpoints", "Endpoints", "", "v1", True, ("ep",)),
    Resource("namespaces", "namespace", "Namespace", "", "v1", False, ("ns",), ("status.phase",)),
    Resource("nodes", "node", "Node", "", "v1", False, ("no",), writable=False),
    Resource("configmaps", "configmap", "ConfigMap", "", "v1", True, ("cm",)),
    Resource("secrets", "secret", "Secret", "", "v1", True, (), ("type",)),
    Resource("deployments", "deployment", "Deployment", "apps", "v1", True, ("deploy",)),
    Resource("ingresses", "ingress", "Ingress", "networking.k8s.io", "v1", True, ("ing",)),
    # the walk-through's Ingress (extensions/v1beta1): served for kubectl apply of its files
    Resource("ingresses", "ingress", "Ingress", "extensions", "v1beta1", True, ("ing",), stored=INGRESS_V1BETA1),
    Resource("ingressclasses", "ingressclass", "IngressClass", "networking.k8s.io", "v1", False),
    Resource("networkpolicies", "networkpolicy", "NetworkPolicy", "networking.k8s.io", "v1", True, ("netpol",)),
    Resource("events", "event", "Event", "", "v1", True, ("ev",), EVENT_FIELDS, writable=False),   # the lab's own
]
WITH_STATUS = ("pods", "services", "nodes", "namespaces", "deployments", "ingresses")    # a status subresource
BY_PATH = {(r.group, r.version, r.name): r for r in RESOURCES}
GROUPS = list(dict.fromkeys((r.group, r.version) for r in RESOURCES if r.group))


def resource_list(group: str, version: str) -> dict | None:
    """/api/v1 or /apis/GROUP/VERSION: an APIResourceList (None: no such group version)."""
    found = [r for r in RESOURCES if (r.group, r.version) == (group, version)]
    if not found:
        return None
    items = []
    for r in found:
        items.append({"name": r.name, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
                      "verbs": list(VERBS if r.writable else READ),
                      **({"shortNames": list(r.short)} if r.short else {}),
                      **({"categories": ["all"]} if r.name in ("pods", "services", "deployments") else {})})
        if r.name in WITH_STATUS:
            items.append({"name": f"{r.name}/status", "singularName": "", "namespaced": r.namespaced,
                          "kind": r.kind, "verbs": ["get"]})
        if r.name == "pods":
            items.append({"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod",
                          "verbs": ["get"]})
        if r.name == "deployments":
            items.append({"name": "deployments/scale", "singularName": "", "namespaced": True, "group": "autoscaling",
                          "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": found[0].group_version,
            "resources": items}


def api_versions(address: str) -> dict:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]}


def _group(group: str, version: str) -> dict:
    gv = {"groupVersion": f"{group}/{version}", "version": version}
    return {"name": group, "versions": [gv], "preferredVersion": gv}


def group_list() -> dict:
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g, v) for g, v in GROUPS]}


def group(name: str) -> dict | None:
    for g, v in GROUPS:
        if g == name:
            return {"kind": "APIGroup", "apiVersion": "v1", **_group(g, v)}
    return None


# ---- errors -------------------------------------------------------------------------------

REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
           406: "NotAcceptable", 409: "Conflict", 410: "Expired", 415: "UnsupportedMediaType", 422: "Invalid",
           500: "InternalError"}


def status(code: int, message: str, details: dict | None = None, reason: str | None = None) -> dict:
    """A v1 Status, as the API server answers an error."""
    out = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
           "reason": reason or REASONS.get(code, ""), "code": code}
    if details:
        out["details"] = details
    return out


def not_found(r: Resource, name: str) -> dict:
    details = {"name": name, **({"group": r.group} if r.group else {}), "kind": r.name}
    return status(404, f'{r.qualified} "{name}" not found', details)


# ---- Tables: the columns kubectl get shows (priority 1: only with -o wide) --------------------

def _columns(names: list[str], wide: list[str], descriptions: dict[str, str] | None = None) -> list[dict]:
    d = descriptions or {}
    return [{"name": n, "type": "string", "format": "name" if n == "Name" else "", "description": d.get(n, n),
             "priority": 1 if i >= len(names) else 0} for i, n in enumerate(names + wide)]


def _titled(headers: tuple[list[str], list[str]]) -> tuple[list[str], list[str]]:
    """netlab's headers as the API server names its columns (kubectl prints them upper-cased)."""
    def title(h: str) -> str:
        return {"CLUSTER-IP": "Cluster-IP", "EXTERNAL-IP": "External-IP", "PORT(S)": "Port(s)", "IP": "IP",
                "INTERNAL-IP": "Internal-IP", "POD-CIDR": "Pod-CIDR", "UP-TO-DATE": "Up-to-date",
                "POD-SELECTOR": "Pod-Selector", "KERNEL-VERSION": "Kernel-Version"}.get(h, h.title())
    return [title(h) for h in headers[0]], [title(h) for h in headers[1]]


# pods: netlab's wide columns, then the two more kubectl -o wide shows
POD_TABLE = (_titled(output.POD_COLUMNS)[0], _titled(output.POD_COLUMNS)[1] + ["Nominated Node", "Readiness Gates"])
COLUMNS = {
    "pods": _columns(*POD_TABLE),
    "services": _columns(*_titled(output.SERVICE_COLUMNS)),
    "endpoints": _columns(*_titled(output.ENDPOINTS_COLUMNS)),
    "nodes": _columns(*_titled(output.NODE_COLUMNS)),
    "namespaces": _columns(["Name", "Status", "Age"], []),
    "deployments": _columns(*_titled(output.DEPLOYMENT_COLUMNS)),
    "ingresses": _columns(*_titled(output.INGRESS_COLUMNS)),
    "ingressclasses": _columns(["Name", "Controller", "Parameters", "Age"], []),
    "networkpolicies": _columns(*_titled(output.NETWORKPOLICY_COLUMNS)),
    "configmaps": _columns(*_titled(output.CONFIGMAP_COLUMNS)),
    "secrets": _columns(*_titled(output.SECRET_COLUMNS)),
    "events": [{"name": n, "type": "integer" if n == "Count" else "string", "format": "name" if n == "Name" else "",
                "description": n, "priority": p} for n, p in event_items.COLUMNS],
}


def partial(obj: dict) -> dict:
    """A row's object when kubectl asks for its metadata only (includeObject=Metadata, the default)."""
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}


def table(resource: str, rows: list[tuple[list[str], dict]], resource_version: str, include: str = "Metadata",
          version: str = "v1") -> dict:
    """A meta.k8s.io Table: (cells, object) per row; include: Object, Metadata or None."""
    def row(cells: list[str], obj: dict) -> dict:
        out: dict = {"cells": cells}
        if include == "Object":
            out["object"] = obj
        elif include != "None":
            out["object"] = partial(obj)
        return out
    return {"kind": "Table", "apiVersion": f"meta.k8s.io/{version}", "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": COLUMNS[resource], "rows": [row(c, o) for c, o in rows]}
