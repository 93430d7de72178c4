"""Topology files: netlab's own YAML describing nodes, underlay, deployments and pods,
and Kubernetes manifests to apply on top (`manifests:`, paths relative to the file)."""
from __future__ import annotations

from pathlib import Path

from netlab.errors import ModelError
from netlab.model import controller, fields, manifests, store, yamlio
from netlab.model.objects import Cluster, Deployment, Host, Node, Pod, PodSpec
from netlab.model.validate import validate

_DEFAULT_HOSTS = [Host("client", "192.168.0.100"), Host("db", "192.168.0.103")]

# field name in the file -> (attribute, type, required)
_SCHEMA: dict[str, dict[str, tuple[str, type, bool]]] = {   # section -> key -> (attribute, type, required)
    "cluster": {"clusterCIDR": ("cluster_cidr", str, False), "serviceCIDR": ("service_cidr", str, False),
                "flannelMode": ("flannel_mode", str, False), "dnsDomain": ("dns_domain", str, False),
                "probabilityDecimals": ("probability_decimals", int, False),
                "dnsUpstream": ("dns_upstream", str, False),
                "proxyMode": ("proxy_mode", str, False), "iptablesBackend": ("iptables_backend", str, False)},
    "underlay": {"cidr": ("underlay_cidr", str, False), "router": ("router", str, False),
                 "hosts": ("hosts", list, False)},
    "nodes": {"name": ("name", str, True), "ip": ("ip", str, True), "podCIDR": ("pod_cidr", str, True)},
    "underlay.hosts": {"name": ("name", str, True), "ip": ("ip", str, True)},
    "deployments": {"name": ("name", str, True), "namespace": ("namespace", str, False),
                    "replicas": ("replicas", int, False), "labels": ("labels", dict, False),
                    "containers": ("containers", list, False)},
    "pods": {"name": ("name", str, True), "namespace": ("namespace", str, False),
             "node": ("node", str, False), "ip": ("ip", str, False), "labels": ("labels", dict, False),
             "containers": ("containers", list, False)},
}
_TOP = {"cluster", "underlay", "nodes", "deployments", "pods", "manifests", "policy"}


def _spec(f: dict, where: str) -> PodSpec:
    """A deployment's or pod's `containers`; without them, netlab's default (netlab-whoami)."""
    return manifests.containers(f, where) if "containers" in f else PodSpec(**controller.default_spec())


def _fields(doc, section: str, where: str) -> dict:
    return fields.Reader("", {}, strict=True).fields(doc, _SCHEMA[section], where)


def _list(doc: dict, key: str, where: str) -> list:
    value = doc.get(key) or []
    if not isinstance(value, list):
        raise ModelError(f"{where}: must be a list")
    return value


def parse(doc, name: str = "seed", now: float = 0.0) -> Cluster:
    """A parsed YAML document -> a validated cluster with every pod named, placed and addressed."""
    if not isinstance(doc, dict):
        raise ModelError("the file must hold a mapping with nodes, deployments, pods, ...")
    fields.Reader("", doc, strict=True).known(doc, sorted(_TOP), "")
    c = Cluster(name=name, flannel_mode="routes")
    c.policy = fields.Reader("", doc, strict=True).get(doc, "policy", "", str, "none")
    for attr, value in _fields(doc.get("cluster") or {}, "cluster", "cluster").items():
        setattr(c, attr, value)
    underlay = _fields(doc.get("underlay") or {}, "underlay", "underlay")
    hosts = underlay.pop("hosts", None)
    for attr, value in underlay.items():
        setattr(c, attr, value)
    if hosts is None:
        c.hosts = [Host(h.name, h.ip) for h in _DEFAULT_HOSTS]
    else:
        c.hosts = [Host(**_fields(h, "underlay.hosts", f"underlay.hosts[{i}]")) for i, h in enumerate(hosts)]
    c.nodes = [Node(**_fields(n, "nodes", f"nodes[{i}]")) for i, n in enumerate(_list(doc, "nodes", "nodes"))]
    for i, d in enumerate(_list(doc, "deployments", "deployments")):
        f = _fields(d, "deployments", f"deployments[{i}]")
        labels = f.get("labels") or {"app": f["name"]}
        spec = _spec(f, f"deployments[{i}]")
        c.deployments.append(Deployment(f["name"], f.get("namespace", "default"), f.get("replicas", 1),
                                        {str(k): str(v) for k, v in labels.items()}, **spec.template()))
    for i, p in enumerate(_list(doc, "pods", "pods")):
        f = _fields(p, "pods", f"pods[{i}]")
        spec = _spec(f, f"pods[{i}]")
        c.pods.append(Pod(f["name"], f.get("namespace", "default"), f.get("node", ""), f.get("ip", ""),
                          {str(k): str(v) for k, v in (f.get("labels") or {}).items()}, created=now,
                          **spec.template()))
    validate(c)
    controller.schedule(c)
    controller.scale(c, now)
    return validate(c)


def is_topology(path: str | Path) -> bool:
    """A topology file, rather than Kubernetes manifests (a directory, or documents with a kind)?"""
    path = Path(path)
    if path.is_dir():
        return False
    docs = [d for d in yamlio.read(path, all_documents=True) if d is not None]
    return not (docs and isinstance(docs[0], dict) and "kind" in docs[0] and "apiVersion" in docs[0])


def load(path: str | Path, name: str = "seed", now: float = 0.0, warn=lambda line: None) -> Cluster:
    path = Path(path)
    doc = yamlio.read(path)
    refs = doc.pop("manifests", None) if isinstance(doc, dict) else None
    try:
        c = parse(doc, name, now)
        if refs is not None and (not isinstance(refs, list) or not all(isinstance(r, str) for r in refs)):
            raise ModelError(f"manifests: {refs!r} must be a list of files or directories")
    except ModelError as e:
        raise ModelError(f"{yamlio.name(path)}: {e}") from None
    for ref in refs or []:
        items = manifests.load(path.parent / ref)
        for m in items:
            for w in m.warnings:
                warn(w)
        store.apply(c, items)
    if refs:
        validate(c, yamlio.name(path))
    return c
