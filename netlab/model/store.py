"""The API server's store: manifests applied to and deleted from a cluster (pure).

Objects are found by (namespace, name) in dictionaries built once per batch, so applying
2,000 documents costs 2,000 lookups, not 2,000 scans of growing lists. A replaced object
moves to the end of its list, as a delete and a create would.

`apply` says per object what `kubectl apply` says: `created` (it was not there),
`configured` (it changed) or `unchanged`, comparing what the store held before with what
it holds after the control plane admitted the change (allocated addresses, kept creation
times and pod template hashes included), leaving out status: readiness, restarts, age.
"""
from __future__ import annotations

from netlab.errors import ModelError
from netlab.model import controller, fields, services, validate
from netlab.model import endpoints as ep_controller
from netlab.model.manifests import Manifest
from netlab.model.objects import Cluster, document_key, plain

LISTS = {"Service": "services", "Endpoints": "endpoints", "Deployment": "deployments", "Pod": "pods",
         "Secret": "secrets", "ConfigMap": "config_maps", "EndpointSlice": "endpoint_slices",
         "Ingress": "ingresses", "IngressClass": "ingress_classes", "NetworkPolicy": "network_policies"}
# replaced in place; a changed pod is a new pod
_KEEP_CREATED = ("Service", "Deployment", "Secret", "ConfigMap", "Ingress", "NetworkPolicy")
_STATUS = ("created", "ready", "restarts")                       # not the user's: never makes a change
_BUILT_IN_NAMESPACES = ("default", "kube-system", "kube-public")


def _key(obj) -> tuple[str, str]:
    return (getattr(obj, "namespace", ""), obj.name)


class _Lists:
    """The cluster's lists, by kind, as dictionaries by (namespace, name) while a batch is
    applied; `done` writes them back in their order."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._by_list: dict[str, dict] = {}

    def of(self, kind: str) -> dict:
        attr = LISTS[kind]
        if attr not in self._by_list:
            self._by_list[attr] = {_key(x): x for x in getattr(self.cluster, attr)}
        return self._by_list[attr]

    def done(self) -> None:
        for attr, objects in self._by_list.items():
            setattr(self.cluster, attr, list(objects.values()))


class _Admission:
    """What the API server checks of an object against the cluster as it stores it, each
    problem one line naming the object's file and document: its namespace exists (or this
    apply makes it), a Service's fields against the other Services, a Pod's name and node, a
    Deployment's replicas against the pod subnets' room."""

    def __init__(self, cluster, lists: _Lists, manifests: list[Manifest]) -> None:
        self.cluster, self.lists = cluster, lists
        self.namespaces = _namespaces(cluster) | {m.obj.name for m in manifests if m.kind == "Namespace"}
        self.taken = services.Taken(cluster.services)

    def check(self, m: Manifest) -> None:
        try:
            self._check(m)
        except ModelError as e:
            raise ModelError(f"{m.where}: {e}") from None

    def _check(self, m: Manifest) -> None:
        ns = getattr(m.obj, "namespace", "")
        if m.kind not in ("IngressClass", "Namespace") and ns not in self.namespaces:
            fields.fail("metadata.namespace", f'namespaces "{ns}" not found (apply a Namespace named {ns} '
                                              "first, or in the same apply)")
        if m.kind == "Service":
            services.validate_service(self.cluster, m.obj, self.taken)
            self.taken.add(m.obj)
        elif m.kind == "Pod":
            fields.check("metadata.name", validate.pod_name(self.cluster, m.obj.name))
            if m.obj.node:
                fields.check("spec.nodeName", validate.unknown_node(self.cluster, m.obj.node))
        elif m.kind == "Deployment":
            fields.check("spec.replicas", controller.replicas_problem(self.cluster, self.lists.of("Pod").values(),
                                                                      m.obj))


def apply(cluster, manifests: list[Manifest]) -> None:
    """Create or replace each object in the cluster (what the API server stores), each
    admitted first (_Admission): the first that is not raises, naming its file."""
    lists = _Lists(cluster)
    admission = _Admission(cluster, lists, manifests)
    try:
        for m in manifests:
            if m.doc:
                cluster.documents[document_key(*m.key)] = m.doc
            if m.kind == "Namespace":
                if m.obj.name not in cluster.namespaces:
                    cluster.namespaces.append(m.obj.name)
                cluster.namespace_labels[m.obj.name] = dict(m.obj.labels)
                continue
            admission.check(m)
            _apply_one(lists, m)
    finally:
        lists.done()


def _apply_one(lists: _Lists, m: Manifest) -> None:
    items = lists.of(m.kind)
    key = _key(m.obj)
    if m.kind == "EndpointSlice":
        old_slice = items.get(key)
        for slice_ in (old_slice, m.obj):
            if slice_ is not None:
                _forget_slice_endpoints(lists, slice_.namespace, slice_.service)
    old = items.pop(key, None)
    if m.kind == "Service":
        if old is not None and not m.obj.cluster_ip:
            m.obj.cluster_ip = old.cluster_ip          # a service keeps its address across applies
        if old is not None and m.obj.type == "LoadBalancer" and not m.obj.load_balancer_ip:
            m.obj.load_balancer_ip = old.load_balancer_ip
    elif m.kind == "Secret" and old is not None and old.type != m.obj.type:
        items[key] = old
        raise ModelError(f"{m.where}: type: field is immutable ({old.type!r} in the cluster); "
                         "delete the Secret to change its type")
    elif m.kind == "Deployment" and old is not None:
        m.obj.template_hash, m.obj.next_ordinal = old.template_hash, old.next_ordinal
        if (old.labels, old.spec()) != (m.obj.labels, m.obj.spec()):
            _remove_pods_of(lists, old)                 # a new template: the old pods go, new ones come (Recreate)
            m.obj.template_hash = ""
    elif m.kind == "Pod" and old is not None:
        if old.spec() == m.obj.spec() and m.obj.node in ("", old.node):
            old.labels = m.obj.labels                   # same spec: it keeps running where it is
            m.obj = old
    if old is not None and m.kind in _KEEP_CREATED:
        m.obj.created = old.created
    items[key] = m.obj


def delete(cluster, manifests: list[Manifest]) -> list[str]:
    """Remove each object; returns what was not there (kubectl's NotFound), as "<Kind> <namespace>/<name>"
    (an IngressClass has the namespace "")."""
    lists = _Lists(cluster)
    missing = []
    try:
        for m in manifests:
            if not _remove(cluster, lists, m.kind, getattr(m.obj, "namespace", ""), m.obj.name):
                missing.append(f"{m.kind} {m.key[1]}/{m.key[2]}")
    finally:
        lists.done()
    return missing


def remove(cluster, kind: str, namespace: str, name: str) -> bool:
    """Delete one object by its kind and name, as `delete` does; False if it was not there.
    A Deployment's pods go with it, a Service's Endpoints with the Service; a Deployment's pod
    deleted alone is made again by its controller when the cluster is admitted."""
    lists = _Lists(cluster)
    try:
        return _remove(cluster, lists, kind, namespace, name)
    finally:
        lists.done()


class NotFoundError(ModelError):
    """No such object (the API's 404)."""


def scale(cluster, namespace: str, name: str, replicas: int) -> None:
    """A Deployment's replicas set (its controller then makes or removes pods), checked
    against the pod subnets' room as an apply is."""
    dep = next((d for d in cluster.deployments if d.name == name and d.namespace == namespace), None)
    if dep is None:
        raise NotFoundError(f'deployments.apps "{name}" not found in namespace {namespace!r}')
    if replicas < 0:
        raise ModelError(f"spec.replicas: {replicas} must be greater than or equal to 0")
    dep.replicas = replicas
    problem = controller.replicas_problem(cluster, cluster.pods, dep)
    if problem:
        raise ModelError(f"spec.replicas: {problem}")
    doc = cluster.documents.get(document_key("Deployment", namespace, name))
    if doc is not None and isinstance(doc.get("spec"), dict):
        doc["spec"]["replicas"] = replicas      # (what the API serves reads the model's anyway)


def _remove(cluster, lists: _Lists, kind: str, namespace: str, name: str) -> bool:
    cluster.documents.pop(document_key(kind, namespace, name), None)
    if kind == "Namespace":
        there = name in cluster.namespaces
        if there:
            cluster.namespaces.remove(name)
        cluster.namespace_labels.pop(name, None)
        return there
    items, key = lists.of(kind), (namespace, name)
    if kind == "EndpointSlice" and key in items:
        _forget_slice_endpoints(lists, namespace, items[key].service)
    old = items.pop(key, None)
    if old is None:
        return False
    if kind == "Deployment":
        _remove_pods_of(lists, old)
    elif kind == "Service":
        lists.of("Endpoints").pop(key, None)
        cluster.documents.pop(document_key("Endpoints", namespace, name), None)
    return True


def _remove_pods_of(lists: _Lists, deployment) -> None:
    pods = lists.of("Pod")
    for key in [k for k, p in pods.items() if p.owner == deployment.name and p.namespace == deployment.namespace]:
        del pods[key]


def _forget_slice_endpoints(lists: _Lists, namespace: str, service: str) -> None:
    """Drop the Endpoints that derive_endpoints made from a Service's EndpointSlices (the lab stores
    them with the hand-written ones): they are made again from the changed slices. An Endpoints
    object that differs from what the slices give was written by hand and stays."""
    svc = lists.of("Service").get((namespace, service))
    endpoints = lists.of("Endpoints")
    stored = endpoints.get((namespace, service))
    if svc is None or stored is None or ep_controller.has_selector(svc):
        return
    slices = [s for s in lists.of("EndpointSlice").values() if s.namespace == namespace and s.service == service]
    if stored == ep_controller.slice_endpoints(svc, slices):
        del endpoints[(namespace, service)]


# ---------------------------------------------------------------- what apply says

def _namespaces(cluster) -> set[str]:
    return {obj.namespace for attr in LISTS.values() for obj in getattr(cluster, attr)
            if getattr(obj, "namespace", "")} | set(_BUILT_IN_NAMESPACES) | set(cluster.namespaces)


def _stored(obj) -> dict:
    return {k: v for k, v in plain(obj).items() if k not in _STATUS}


def _annotations(cluster, m: Manifest) -> dict:
    doc = cluster.documents.get(document_key(*m.key)) or {}
    return (doc.get("metadata") or {}).get("annotations") or {}


def snapshot(cluster, manifests: list[Manifest]) -> dict[tuple, dict | None]:
    """What the store holds for each manifest's object before an apply (None: nothing),
    taken apart from the objects, which the apply goes on to change."""
    lists = _Lists(cluster)
    namespaces = _namespaces(cluster) if any(m.kind == "Namespace" for m in manifests) else set()
    out: dict[tuple, dict | None] = {}
    for m in manifests:
        if m.kind == "Namespace":
            held = cluster.namespace_labels_of(m.obj.name) if m.obj.name in namespaces else None
        else:
            old = lists.of(m.kind).get(_key(m.obj))
            held = None if old is None else _stored(old)
        out[m.key] = None if held is None else {"object": held, "annotations": _annotations(cluster, m)}
    return out


def outcomes(before: dict[tuple, dict | None], cluster, manifests: list[Manifest]) -> list[str]:
    """created, configured or unchanged for each manifest: `before` from snapshot(), `cluster`
    as the control plane left it after the apply."""
    lists = _Lists(cluster)
    out = []
    for m in manifests:
        was = before.get(m.key)
        if was is None:
            out.append("created")
            continue
        if m.kind == "Namespace":          # a Namespace's labels are all netlab models of it
            same = cluster.namespace_labels_of(m.obj.name) == was["object"]
        else:
            now = lists.of(m.kind).get(_key(m.obj))
            same = now is not None and _stored(now) == was["object"]
        out.append("unchanged" if same and _annotations(cluster, m) == was["annotations"] else "configured")
    return out
