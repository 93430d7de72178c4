"""Kubernetes manifests in: YAML documents -> model objects (pure but for reading files).

Errors name file, document, field and reason on one line:
    m.yaml: document 2: spec.rules[0].http.paths[0].pathType: required field is missing
Fields netlab does not implement are named in warnings, never dropped silently:
    m.yaml: document 2: spec.ipFamilyPolicy is not implemented by netlab and was ignored

Kinds: v1 Service, Endpoints, Pod, Namespace, Secret, ConfigMap; apps/v1 Deployment;
discovery.k8s.io/v1 EndpointSlice; networking.k8s.io/v1 Ingress and IngressClass;
extensions/v1beta1 and networking.k8s.io/v1beta1 Ingress; networking.k8s.io/v1 NetworkPolicy. `load` is all or nothing:
every document of every file is read before anything is returned.
Secret values never appear in a message.
"""
from __future__ import annotations

import base64
import binascii
import json
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any
from ipaddress import IPv4Address, ip_address
from pathlib import Path

from netlab.errors import ModelError
from netlab.model import capabilities, fields, names, netpol, selectors, yamlio
from netlab.model.fields import Reader
from netlab.state import RUN_DIR
from netlab.model.objects import (
    PodSpec,
    NAMESPACE_NAME_LABEL, ConfigMap, Deployment, EndpointAddress, EndpointPort, Endpoints, EndpointSlice, EnvFrom,
    Ingress, IngressBackend, IngressClass, IngressPath, IngressRule, IngressTLS, KeyRef, Namespace, NetworkPolicy,
    Pod, Secret, Service, ServicePort, Volume,
)

INGRESS_APIS = ("networking.k8s.io/v1", "networking.k8s.io/v1beta1", "extensions/v1beta1")
KINDS = {("v1", "Service"), ("v1", "Endpoints"), ("v1", "Pod"), ("v1", "Namespace"), ("apps/v1", "Deployment"),
         ("v1", "Secret"), ("v1", "ConfigMap"), ("discovery.k8s.io/v1", "EndpointSlice"),
         ("networking.k8s.io/v1", "IngressClass"), ("networking.k8s.io/v1", "NetworkPolicy"),
         *((api, "Ingress") for api in INGRESS_APIS)}

_TOP = {"apiVersion", "kind", "metadata", "status"}    # status is the server's: ignored, as the API server does
# Fields netlab understands, per kind; anything else is warned about.
_KNOWN = {
    # (ownerReferences to managedFields: the API server's, in an object read back from it)
    "metadata": {"name", "namespace", "labels", "annotations", "generateName", "uid", "resourceVersion",
                 "creationTimestamp", "ownerReferences", "finalizers", "generation", "managedFields", "selfLink"},
    "Service": _TOP | {"spec"},
    "Service.spec": {"type", "clusterIP", "ports", "selector", "sessionAffinity", "sessionAffinityConfig",
                     "externalTrafficPolicy", "externalIPs", "externalName", "loadBalancerIP", "clusterIPs",
                     "loadBalancerSourceRanges", "healthCheckNodePort", "internalTrafficPolicy"},
    "Service.port": {"name", "protocol", "port", "targetPort", "nodePort"},
    "Endpoints": _TOP | {"subsets"},
    "Namespace": _TOP | {"spec"},
    "Deployment": _TOP | {"spec"},
    "Deployment.spec": {"replicas", "selector", "template", "strategy"},
    "Pod": _TOP | {"spec"},
    "Pod.spec": {"containers", "nodeName", "restartPolicy", "volumes", "securityContext",
                 "terminationGracePeriodSeconds"},
    "container": {"name", "image", "command", "args", "ports", "imagePullPolicy", "env", "envFrom",
                  "volumeMounts", "securityContext"},
    "env": {"name", "value", "valueFrom"},
    "env.valueFrom": {"secretKeyRef", "configMapKeyRef", "fieldRef"},
    "keyRef": {"name", "key", "optional"},
    "fieldRef": {"fieldPath", "apiVersion"},
    "envFrom": {"prefix", "secretRef", "configMapRef"},
    "envFrom.ref": {"name", "optional"},
    "volume.secret": {"secretName", "items", "optional"},
    "volume.configMap": {"name", "items", "optional"},
    "volume.item": {"key", "path"},
    "volumeMount": {"name", "mountPath", "readOnly"},
    "securityContext": {"runAsUser"},
    "container.securityContext": {"runAsUser", "capabilities"},
    "capabilities": {"add", "drop"},
    "Secret": _TOP | {"type", "data", "stringData"},
    "ConfigMap": _TOP | {"data"},
    "EndpointSlice": _TOP | {"addressType", "endpoints", "ports"},
    "EndpointSlice.endpoint": {"addresses", "conditions", "nodeName", "hostname", "targetRef"},
    "EndpointSlice.conditions": {"ready"},
    "EndpointSlice.targetRef": {"kind", "name", "namespace", "uid", "resourceVersion", "apiVersion"},
    "EndpointSlice.port": {"name", "port", "protocol"},
    "Ingress": _TOP | {"spec"},
    "Ingress.spec.v1": {"ingressClassName", "defaultBackend", "rules", "tls"},
    "Ingress.spec.v1beta1": {"ingressClassName", "backend", "rules", "tls"},
    "Ingress.rule": {"host", "http"},
    "Ingress.http": {"paths"},
    "Ingress.path": {"path", "pathType", "backend"},
    "Ingress.backend.v1": {"service", "resource"},
    "Ingress.backend.v1beta1": {"serviceName", "servicePort", "resource"},
    "Ingress.service": {"name", "port"},
    "Ingress.port": {"number", "name"},
    "Ingress.tls": {"hosts", "secretName"},
    "IngressClass": _TOP | {"spec"},
    "NetworkPolicy": _TOP | {"spec"},
    "IngressClass.spec": {"controller"},
}
_FILE_MODES = ("netlab always writes 0600 files in a 0700 directory owned by the pod's user")
# Why some ignored fields are ignored, appended to their warning.
_WHY = {"defaultMode": _FILE_MODES, "mode": _FILE_MODES}

FIELD_PATHS = ("metadata.name", "metadata.namespace", "spec.nodeName", "status.hostIP", "status.podIP")
PATH_TYPES = ("Exact", "Prefix", "ImplementationSpecific")
PROTOCOLS = ("TCP", "UDP", "SCTP")
MAX_DATA = 1024 * 1024                     # bytes in a Secret or ConfigMap, as the API server limits them
# Secret types whose keys the API server requires (basic-auth needs one of its two).
SECRET_KEYS = {"kubernetes.io/tls": ("tls.crt", "tls.key"), "kubernetes.io/ssh-auth": ("ssh-privatekey",),
               "kubernetes.io/dockercfg": (".dockercfg",),
               "kubernetes.io/dockerconfigjson": (".dockerconfigjson",)}
NGINX_BREAKERS = "'\"{};$\\#"              # characters that would end a token or start a comment in nginx.conf

_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_CONTROLLER_PATH = re.compile(r"^[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$")


@dataclass
class Manifest:
    kind: str
    obj: Any          # Service, Endpoints, Pod, Deployment, Secret, ConfigMap, EndpointSlice, Ingress,
    #                   NetworkPolicy; IngressClass and Namespace (cluster-scoped: no namespace)
    where: str        # "file.yaml: document 2"
    warnings: list[str] = field(default_factory=list)
    doc: dict = field(default_factory=dict)     # the document as given, without its status (Cluster.documents)

    @property
    def key(self) -> tuple[str, str, str]:
        ns = getattr(self.obj, "namespace", "")
        return (self.kind, ns, getattr(self.obj, "name", self.obj))


# ---------------------------------------------------------------- names and checks

def _name(d: Reader, value: str, path: str, label: bool = False) -> str:
    d.check(path, fields.dns1123(value, label))
    return value


def _service_name(d: Reader, value: str, path: str) -> str:
    d.check(path, fields.service_name(value))
    return value


def _port_number(d: Reader, value: int, path: str) -> int:
    d.check(path, fields.port_number(value))
    return value


def _port_name(d: Reader, value: str, path: str) -> str:
    d.check(path, fields.port_name(value))
    return value


def _key(d: Reader, key, path: str) -> str:
    """A key of a Secret's or ConfigMap's data, as the API server validates it."""
    if isinstance(key, int) and not isinstance(key, bool):
        key = str(key)
    if not isinstance(key, str):
        d.fail(path, f"{key!r} must be a str")
    if len(key) > 253:
        d.fail(path, "a key must be no more than 253 characters")
    if not _KEY.match(key):
        d.fail(path, f"{key!r} is not a valid key (letters, digits, '-', '_' and '.')")
    if key in (".", "..") or key.startswith(".."):
        d.fail(path, f"{key!r} must not be '.' or '..' or start with '..'")
    return key


def _env_name(d: Reader, value: str, path: str) -> str:
    if not _ENV_NAME.match(value):
        d.fail(path, f"{value!r} is not a valid environment variable name (letters, digits, '_', '-' and '.', "
                     "not starting with a digit)")
    return value


def _labels(d: Reader, obj: dict, path: str) -> dict[str, str]:
    labels = d.get(obj, "labels", path, dict, {}) or {}
    return {str(k): str(v) for k, v in labels.items()}


def _annotations(d: Reader, meta: dict) -> dict[str, str]:
    """The annotations the object's behaviour reads: kubectl apply's own is the document's
    (Cluster.documents), not the model's."""
    out = {}
    for k, v in (d.get(meta, "annotations", "metadata", dict, {}) or {}).items():
        if not isinstance(v, str):
            d.fail(f"metadata.annotations[{k}]", f"{v!r} must be a str (quote it)")
        if k != LAST_APPLIED:
            out[str(k)] = v
    return out


def _meta(d: Reader, kind: str) -> tuple[str, str, dict]:
    """Name and namespace, checked as the API server checks them: a Service's name becomes a
    DNS label (DNS-1035), a Namespace's is a DNS-1123 label, others' DNS-1123 subdomains."""
    d.known(d.doc, _KNOWN[kind], "")
    meta = d.get(d.doc, "metadata", "", dict, required=True)
    d.known(meta, _KNOWN["metadata"], "metadata")
    name = d.get(meta, "name", "metadata", str, required=True)
    namespace = d.get(meta, "namespace", "metadata", str, "default")
    if kind == "Service":
        _service_name(d, name, "metadata.name")
    else:
        _name(d, name, "metadata.name", label=kind == "Namespace")
    _name(d, namespace, "metadata.namespace", label=True)
    return name, namespace, meta


# ---------------------------------------------------------------- pod specs

def _key_ref(d: Reader, ref: dict, path: str, kind: str) -> KeyRef:
    d.known(ref, _KNOWN["keyRef"], path)
    name = _name(d, d.get(ref, "name", path, str, required=True), f"{path}.name")
    key = _key(d, d.get(ref, "key", path, str, required=True), f"{path}.key")
    return KeyRef(kind, name, key, d.get(ref, "optional", path, bool, False))


def _value_from(d: Reader, vf: dict, path: str) -> KeyRef | None:
    d.known(vf, _KNOWN["env.valueFrom"], path)
    given = [k for k in ("secretKeyRef", "configMapKeyRef", "fieldRef", "resourceFieldRef") if k in vf]
    if len(given) > 1:
        d.fail(path, f"give one of secretKeyRef, configMapKeyRef or fieldRef, not {' and '.join(given)}")
    if not given:
        d.fail(path, "must give one of secretKeyRef, configMapKeyRef or fieldRef")
    source = given[0]
    if source == "resourceFieldRef":
        return None                        # warned about by known()
    ref = d.get(vf, source, path, dict, required=True)
    spath = f"{path}.{source}"
    if source == "fieldRef":
        d.known(ref, _KNOWN["fieldRef"], spath)
        fp = d.get(ref, "fieldPath", spath, str, required=True)
        if fp not in FIELD_PATHS:
            d.fail(f"{spath}.fieldPath", f"{fp!r} is not supported by netlab (supported: {', '.join(FIELD_PATHS)})")
        api = d.get(ref, "apiVersion", spath, str, "v1")
        if api != "v1":
            d.fail(f"{spath}.apiVersion", f"{api!r} is not supported (only v1)")
        return KeyRef("Field", "", fp)
    return _key_ref(d, ref, spath, "Secret" if source == "secretKeyRef" else "ConfigMap")


def _env(d: Reader, c: dict, cpath: str, out: PodSpec) -> None:
    for _, e, epath in d.items(c, "env", cpath):
        d.known(e, _KNOWN["env"], epath)
        name = _env_name(d, d.get(e, "name", epath, str, required=True), f"{epath}.name")
        vf = d.get(e, "valueFrom", epath, dict)
        # a later variable of the same name wins, as in Kubernetes
        out.env.pop(name, None)
        out.env_refs.pop(name, None)
        if vf is None:
            out.env[name] = str(d.get(e, "value", epath, (str, int, float), ""))
            continue
        if e.get("value") not in (None, ""):
            d.fail(f"{epath}.valueFrom", "may not be given when value is not empty")
        ref = _value_from(d, vf, f"{epath}.valueFrom")
        if ref is not None:
            out.env_refs[name] = ref
    for _, ef, path in d.items(c, "envFrom", cpath):
        d.known(ef, _KNOWN["envFrom"], path)
        given = [k for k in ("secretRef", "configMapRef") if k in ef]
        if len(given) != 1:
            d.fail(path, "give one of configMapRef or secretRef" + (", not both" if given else ""))
        ref = d.get(ef, given[0], path, dict, required=True)
        rpath = f"{path}.{given[0]}"
        d.known(ref, _KNOWN["envFrom.ref"], rpath)
        name = _name(d, d.get(ref, "name", rpath, str, required=True), f"{rpath}.name")
        prefix = d.get(ef, "prefix", path, str, "")
        if prefix:
            _env_name(d, prefix, f"{path}.prefix")
        out.env_from.append(EnvFrom("Secret" if given[0] == "secretRef" else "ConfigMap", name, prefix,
                                    d.get(ref, "optional", rpath, bool, False)))


@dataclass
class _Vol:
    path: str
    kind: str                      # Secret | ConfigMap | the ignored type (emptyDir, ...)
    source: str = ""
    items: dict[str, str] = field(default_factory=dict)
    optional: bool = False
    mounted: bool = False

    @property
    def usable(self) -> bool:
        return self.kind in ("Secret", "ConfigMap")


def _volume_items(d: Reader, src: dict, path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for _, item, ipath in d.items(src, "items", path):
        d.known(item, _KNOWN["volume.item"], ipath)
        key = _key(d, d.get(item, "key", ipath, str, required=True), f"{ipath}.key")
        to = d.get(item, "path", ipath, str, required=True)
        if not to:
            d.fail(f"{ipath}.path", "must not be empty")
        if to.startswith("/"):
            d.fail(f"{ipath}.path", f"{to!r} must be a relative path")
        if ".." in to.split("/"):
            d.fail(f"{ipath}.path", f"{to!r} must not contain '..'")
        if "\0" in to or posixpath.normpath(to) != to or to == ".":
            d.fail(f"{ipath}.path", f"{to!r} must be a normalised relative file path (no '.', '//' or trailing '/')")
        clash = next((other for other in out.values()
                      if other == to or other.startswith(to + "/") or to.startswith(other + "/")), None)
        if clash is not None:
            d.fail(f"{ipath}.path", f"{to!r} clashes with the path {clash!r} of another item (a file cannot be "
                                    f"a directory too)")
        if key in out:
            d.fail(f"{ipath}.key", f"{key!r} is already given by {seen[key]} (netlab writes each key once)")
        out[key], seen[key] = to, ipath
    return out


def _volumes(d: Reader, spec: dict, path: str) -> dict[str, _Vol]:
    vols: dict[str, _Vol] = {}
    for _, v, vpath in d.items(spec, "volumes", path):
        name = _name(d, d.get(v, "name", vpath, str, required=True), f"{vpath}.name", label=True)
        if name in vols:
            d.fail(f"{vpath}.name", f"{name!r} is already used by {vols[name].path}")
        types = [k for k in v if k != "name"]
        if not types:
            d.fail(vpath, "must give a volume type (secret or configMap)")
        if len(types) > 1:
            d.fail(vpath, f"may not give more than one volume type ({', '.join(types)})")
        kind = types[0]
        if kind not in ("secret", "configMap"):
            d.ignored(f"{vpath}.{kind}", ("secret", "configMap"), " (netlab makes secret and configMap volumes only)")
            vols[name] = _Vol(vpath, kind)
            continue
        spath = f"{vpath}.{kind}"
        src = d.get(v, kind, vpath, dict, required=True)
        d.known(src, _KNOWN[f"volume.{kind}"], spath)
        source_key = "secretName" if kind == "secret" else "name"
        source = _name(d, d.get(src, source_key, spath, str, required=True), f"{spath}.{source_key}")
        vols[name] = _Vol(vpath, "Secret" if kind == "secret" else "ConfigMap", source,
                          _volume_items(d, src, spath), d.get(src, "optional", spath, bool, False))
    return vols


# What a pod shares with its node and netlab (pods share the host's file system): a volume
# mounted there would hide the kernel's own files or the lab's namespaces and records.
SHARED_PATHS = ("/proc", "/sys", "/dev", "/run/netns", str(RUN_DIR))


def _shared_path(mount: str) -> str | None:
    under = next((p for p in SHARED_PATHS if mount == p or mount.startswith(p + "/")), None)
    if under is None:
        return None
    return (f"{mount!r} must not be {under} or under it: netlab pods share the host's file system, and a "
            f"volume there would hide what the kernel and netlab keep in {under}")


def _mounts(d: Reader, c: dict, cpath: str, vols: dict[str, _Vol], path: str, first: bool) -> list[Volume]:
    out: list[Volume] = []
    seen: dict[str, str] = {}
    for _, m, mpath in d.items(c, "volumeMounts", cpath):
        for refused in ("subPath", "subPathExpr"):
            if refused in m:
                d.fail(f"{mpath}.{refused}", "not supported by netlab (mount the whole volume)")
        d.known(m, _KNOWN["volumeMount"], mpath)
        name = d.get(m, "name", mpath, str, required=True)
        if name not in vols:
            d.fail(f"{mpath}.name", f"{name!r} is not the name of a volume in {fields.join(path, 'volumes')}")
        mount = d.get(m, "mountPath", mpath, str, required=True)
        where = f"{mpath}.mountPath"
        if not mount.startswith("/"):
            d.fail(where, f"{mount!r} must be an absolute path")
        if mount == "/" or posixpath.normpath(mount) == "/":
            d.fail(where, f"{mount!r} must not be '/'")
        if posixpath.normpath(mount) != mount or "\0" in mount or "//" in mount:
            d.fail(where, f"{mount!r} must be a normalised path (no '.', '..', '//' or trailing '/')")
        d.check(where, _shared_path(mount))
        if mount in seen:
            d.fail(where, f"{mount!r} is already used by {seen[mount]}")
        seen[mount] = mpath
        d.get(m, "readOnly", mpath, bool, False)       # secret and configMap volumes are read-only anyway
        if not first:
            continue
        vol = vols[name]
        if not vol.usable:
            d.warn(f"{mpath} mounts volume {name!r} ({vol.kind}), which netlab does not implement; it was ignored")
            continue
        vol.mounted = True
        out.append(Volume(name, vol.kind, vol.source, mount, dict(vol.items), vol.optional))
    return out


def _run_as_user(d: Reader, sc: dict, path: str) -> int | None:
    uid = d.get(sc, "runAsUser", path, int)
    if uid is not None and not 0 <= uid <= 2147483647:
        d.fail(f"{path}.runAsUser", f"{uid} must be between 0 and 2147483647, inclusive")
    return uid


def _capabilities(d: Reader, sc: dict, path: str) -> tuple[list[str], list[str]]:
    """securityContext.capabilities' add and drop lists, each name one the kernel knows."""
    given = d.get(sc, "capabilities", path, dict, {})
    path = fields.join(path, "capabilities")
    d.known(given, _KNOWN["capabilities"], path)
    lists = []
    for key in ("add", "drop"):
        names = []
        for i, n in enumerate(d.get(given, key, path, list, [])):
            known = capabilities.name(n) if isinstance(n, str) else None
            if known is None:
                d.fail(f"{path}.{key}[{i}]", f"{n!r} is not a Linux capability (NET_ADMIN, SYS_TIME, ALL, ...)")
            names.append(known)
        lists.append(names)
    return lists[0], lists[1]


def _grace_period(d: Reader, spec: dict, path: str) -> int:
    seconds = d.get(spec, "terminationGracePeriodSeconds", path, int, 30)
    if seconds < 0:
        d.fail(fields.join(path, "terminationGracePeriodSeconds"), f"{seconds} must be greater than or equal to 0")
    return seconds


def _pod_spec(d: Reader, spec: dict, path: str) -> PodSpec:
    """The pod spec's first container (the one netlab runs) with its volumes; ports of every container."""
    out = PodSpec(termination_grace_period=_grace_period(d, spec, path))
    vols = _volumes(d, spec, path)
    sc_path = fields.join(path, "securityContext")
    sc = d.get(spec, "securityContext", path, dict, {})
    d.known(sc, _KNOWN["securityContext"], sc_path)
    out.run_as_user = _run_as_user(d, sc, sc_path)
    for i, c, cpath in d.items(spec, "containers", path):
        d.known(c, _KNOWN["container"], cpath)
        for j, p in enumerate(d.get(c, "ports", cpath, list, [])):
            number = _port_number(d, d.get(p, "containerPort", f"{cpath}.ports[{j}]", int, required=True),
                                  f"{cpath}.ports[{j}].containerPort")
            out.container_ports[d.get(p, "name", f"{cpath}.ports[{j}]", str, "")] = number
        mounts = _mounts(d, c, cpath, vols, path, first=i == 0)
        if i == 0:
            out.command = [str(x) for x in d.get(c, "command", cpath, list, []) + d.get(c, "args", cpath, list, [])]
            out.image = d.get(c, "image", cpath, str, "")
            _env(d, c, cpath, out)
            out.volumes = mounts
            csc = d.get(c, "securityContext", cpath, dict, {})
            d.known(csc, _KNOWN["container.securityContext"], f"{cpath}.securityContext")
            uid = _run_as_user(d, csc, f"{cpath}.securityContext")
            out.run_as_user = uid if uid is not None else out.run_as_user      # the container's wins
            out.cap_add, out.cap_drop = _capabilities(d, csc, f"{cpath}.securityContext")
            continue
        if c.get("command"):
            d.warn(f"{cpath}.command: netlab runs the first container's command only")
        for key in ("env", "envFrom", "volumeMounts", "securityContext"):
            if c.get(key):
                d.warn(f"{cpath}.{key} was ignored: netlab runs the first container only")
    for name, vol in vols.items():
        if vol.usable and not vol.mounted:
            d.warn(f"{vol.path} is not mounted by the first container (the one netlab runs) and was ignored")
    return out


def containers(spec: dict, where: str) -> PodSpec:
    """A pod spec outside a manifest (a topology file's deployment or pod): its `containers`
    (and `volumes` and `securityContext`, if the topology schema passes them)."""
    d = Reader("", {}, strict=True)     # topology files are netlab's own: an unknown field is an error
    out = _pod_spec(d, spec, where)
    if d.notes:
        raise ModelError(d.notes[0])
    return out


# ---------------------------------------------------------------- v1 and apps/v1

def _service(d: Reader) -> Service:
    name, ns, meta = _meta(d, "Service")
    spec = d.get(d.doc, "spec", "", dict, {})
    d.known(spec, _KNOWN["Service.spec"], "spec")
    ports = []
    for i, p in enumerate(d.get(spec, "ports", "spec", list, [])):
        path = f"spec.ports[{i}]"
        if not isinstance(p, dict):
            d.fail(path, "must be a mapping")
        d.known(p, _KNOWN["Service.port"], path)
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
                   load_balancer_source_ranges=[str(x) for x in d.get(spec, "loadBalancerSourceRanges", "spec",
                                                                      list, [])],
                   health_check_node_port=d.get(spec, "healthCheckNodePort", "spec", int),
                   internal_traffic_policy=d.get(spec, "internalTrafficPolicy", "spec", str, "Cluster"),
                   labels=_labels(d, meta, "metadata"))


def _endpoints(d: Reader) -> Endpoints:
    name, ns, _ = _meta(d, "Endpoints")
    subsets = d.get(d.doc, "subsets", "", list, [])
    addresses, ports = [], None
    for i, s in enumerate(subsets):
        path = f"subsets[{i}]"
        these = [EndpointPort(_port_number(d, d.get(p, "port", f"{path}.ports[{j}]", int, required=True),
                                           f"{path}.ports[{j}].port"),
                              d.get(p, "name", f"{path}.ports[{j}]", str, ""),
                              d.get(p, "protocol", f"{path}.ports[{j}]", str, "TCP"))
                 for j, p in enumerate(d.get(s, "ports", path, list, []))]
        if ports is not None and these != ports:
            d.fail(f"{path}.ports", "netlab keeps one set of ports per Endpoints; give every subset the same ports")
        ports = these
        for j, a in enumerate(d.get(s, "addresses", path, list, [])):
            addresses.append(EndpointAddress(_endpoint_ip(d, a, f"{path}.addresses[{j}]"),
                                             node=d.get(a, "nodeName", f"{path}.addresses[{j}]", str),
                                             hostname=d.get(a, "hostname", f"{path}.addresses[{j}]", str)))
        for j, a in enumerate(d.get(s, "notReadyAddresses", path, list, [])):
            addresses.append(EndpointAddress(_endpoint_ip(d, a, f"{path}.notReadyAddresses[{j}]"),
                                             ready=False))
    return Endpoints(name, ns, addresses, ports or [])


def _endpoint_ip(d: Reader, address: dict, path: str) -> str:
    ip = d.get(address, "ip", path, str, required=True)
    d.check(f"{path}.ip", fields.endpoint_ip(ip))
    return ip


def _deployment(d: Reader) -> Deployment:
    name, ns, _ = _meta(d, "Deployment")
    spec = d.get(d.doc, "spec", "", dict, required=True)
    d.known(spec, _KNOWN["Deployment.spec"], "spec")
    template = d.get(spec, "template", "spec", dict, required=True)
    labels = _labels(d, d.get(template, "metadata", "spec.template", dict, {}), "spec.template.metadata")
    match = d.get(d.get(spec, "selector", "spec", dict, {}), "matchLabels", "spec.selector", dict, {})
    match = {str(k): str(v) for k, v in match.items()}
    if any(labels.get(k) != v for k, v in match.items()):
        d.fail("spec.selector.matchLabels", "does not match spec.template.metadata.labels")
    pod_spec = d.get(template, "spec", "spec.template", dict, {})
    d.known(pod_spec, _KNOWN["Pod.spec"], "spec.template.spec")
    ps = _pod_spec(d, pod_spec, "spec.template.spec")
    replicas = d.get(spec, "replicas", "spec", int, 1)
    if replicas < 0:
        d.fail("spec.replicas", f"{replicas} must be >= 0")
    return Deployment(name, ns, replicas, labels or {"app": name}, **ps.template())


def _pod(d: Reader) -> Pod:
    name, ns, meta = _meta(d, "Pod")
    spec = d.get(d.doc, "spec", "", dict, {})
    d.known(spec, _KNOWN["Pod.spec"], "spec")
    ps = _pod_spec(d, spec, "spec")
    return Pod(name, ns, d.get(spec, "nodeName", "spec", str, ""), "", _labels(d, meta, "metadata"), **ps.template())


def _data_map(d: Reader, key: str) -> dict:
    value = d.doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        d.fail(key, "must be a mapping of keys to values")
    return value


def _secret(d: Reader) -> Secret:
    name, ns, meta = _meta(d, "Secret")
    type_ = d.get(d.doc, "type", "", str, "Opaque") or "Opaque"
    data: dict[str, str] = {}
    for k, v in _data_map(d, "data").items():
        key = _key(d, k, f"data[{k}]")
        if v is not None and not isinstance(v, str):
            d.fail(f"data[{key}]", "must be a base64 string")
        try:   # Go's decoder, as the API server's, skips line breaks
            raw = base64.b64decode((v or "").replace("\n", "").replace("\r", ""), validate=True)
        except (binascii.Error, ValueError):
            d.fail(f"data[{key}]", "the value is not valid base64 (encode it, or give it in stringData)")
        data[key] = base64.b64encode(raw).decode()
    for k, v in _data_map(d, "stringData").items():     # merged over data, as the API server does
        key = _key(d, k, f"stringData[{k}]")
        if v is not None and not isinstance(v, str):
            d.fail(f"stringData[{key}]", "must be a string (quote the value)")
        data[key] = base64.b64encode((v or "").encode()).decode()
    size = sum(len(base64.b64decode(v)) for v in data.values())
    if size > MAX_DATA:
        d.fail("data", f"the Secret holds {size} bytes, more than the {MAX_DATA} the API server allows")
    for required in SECRET_KEYS.get(type_, ()):
        if required not in data:
            d.fail(f"data[{required}]", f"required field is missing (a {type_} Secret needs it)")
    if type_ == "kubernetes.io/basic-auth" and not ({"username", "password"} & set(data)):
        d.fail("data", "a kubernetes.io/basic-auth Secret needs the key username or password")
    return Secret(name, ns, type_, data, _labels(d, meta, "metadata"))


def _config_map(d: Reader) -> ConfigMap:
    name, ns, meta = _meta(d, "ConfigMap")
    data: dict[str, str] = {}
    for k, v in _data_map(d, "data").items():
        key = _key(d, k, f"data[{k}]")
        if v is not None and not isinstance(v, str):
            d.fail(f"data[{key}]", f"{v!r} must be a str (quote it)")
        data[key] = v or ""
    size = sum(len(v.encode()) for v in data.values())
    if size > MAX_DATA:
        d.fail("data", f"the ConfigMap holds {size} bytes, more than the {MAX_DATA} the API server allows")
    return ConfigMap(name, ns, data, _labels(d, meta, "metadata"))


# ---------------------------------------------------------------- discovery.k8s.io/v1

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def _slice_address(d: Reader, value, path: str) -> str:
    d.check(path, fields.endpoint_ip(value))
    return str(IPv4Address(value))


def _endpoint_slice(d: Reader) -> EndpointSlice:
    name, ns, meta = _meta(d, "EndpointSlice")
    labels = _labels(d, meta, "metadata")
    service = labels.get(SERVICE_NAME_LABEL)
    lpath = f"metadata.labels[{SERVICE_NAME_LABEL}]"
    if service is None:
        d.fail(lpath, "required field is missing (netlab gives a slice's endpoints to the Service it names)")
    _service_name(d, service, lpath)
    family = d.get(d.doc, "addressType", "", str, required=True)
    if family == "IPv6":
        d.fail("addressType", "'IPv6' is not supported by netlab: the lab is IPv4 only")
    if family == "FQDN":
        d.fail("addressType", "'FQDN' is not supported by netlab: kube-proxy ignores FQDN slices (give IPv4)")
    if family != "IPv4":
        d.fail("addressType", f"{family!r} is not one of IPv4, IPv6, FQDN")
    addresses = []
    for _, e, epath in d.items(d.doc, "endpoints", ""):
        d.known(e, _KNOWN["EndpointSlice.endpoint"], epath)
        ips = d.get(e, "addresses", epath, list, required=True)
        if not ips:
            d.fail(f"{epath}.addresses", "must have at least one address")
        ips = [_slice_address(d, ip, f"{epath}.addresses[{k}]") for k, ip in enumerate(ips)]
        cond = d.get(e, "conditions", epath, dict, {})
        d.known(cond, _KNOWN["EndpointSlice.conditions"], f"{epath}.conditions")
        ready = d.get(cond, "ready", f"{epath}.conditions", bool, True)
        hostname = d.get(e, "hostname", epath, str)
        if hostname is not None:
            _name(d, hostname, f"{epath}.hostname", label=True)
        ref = d.get(e, "targetRef", epath, dict)
        pod = None
        if ref is not None:
            rpath = f"{epath}.targetRef"
            d.known(ref, _KNOWN["EndpointSlice.targetRef"], rpath)
            kind = d.get(ref, "kind", rpath, str, "Pod")
            if kind != "Pod":
                d.fail(f"{rpath}.kind", f"{kind!r} is not supported by netlab (a targetRef names a Pod)")
            pod = d.get(ref, "name", rpath, str)
        addresses.append(EndpointAddress(ips[0], node=d.get(e, "nodeName", epath, str), pod=pod, ready=ready,
                                         hostname=hostname))
    ports = []
    for _, p, ppath in d.items(d.doc, "ports", ""):
        d.known(p, _KNOWN["EndpointSlice.port"], ppath)
        number = _port_number(d, d.get(p, "port", ppath, int, required=True), f"{ppath}.port")
        protocol = d.get(p, "protocol", ppath, str, "TCP")
        if protocol not in PROTOCOLS:
            d.fail(f"{ppath}.protocol", f"{protocol!r} is not one of {', '.join(PROTOCOLS)}")
        ports.append(EndpointPort(number, d.get(p, "name", ppath, str, ""), protocol))
    return EndpointSlice(name, ns, service, addresses, ports)


# ---------------------------------------------------------------- networking.k8s.io Ingress

def _host(d: Reader, host, path: str) -> str:
    if not isinstance(host, str):
        d.fail(path, f"{host!r} must be a str")
    try:
        ip_address(host)
        d.fail(path, f"{host!r} must be a DNS name, not an IP address")
    except ValueError:
        pass
    if ":" in host:
        d.fail(path, f"{host!r} must be a DNS name without a port")
    name = host[2:] if host.startswith("*.") else host
    if "*" in name:
        d.fail(path, f"{host!r}: a wildcard must be the whole first label ('*.example.com')")
    if len(host) > 253 or not names.is_dns1123_subdomain(name):
        d.fail(path, f"{host!r} is not a valid DNS-1123 subdomain (lower case letters, digits, '-' and '.', "
                     "starting and ending alphanumeric; '*.' may lead)")
    return host


def _ingress_path(d: Reader, value: str, path_type: str, path: str) -> str:
    if not value.startswith("/"):
        d.fail(path, f"{value!r} must be an absolute path (start with '/')")
    for ch in value:
        if ch.isspace() or ord(ch) < 32 or ord(ch) == 127 or ch in NGINX_BREAKERS:
            what = "whitespace" if ch.isspace() else "a control character" if not ch.isprintable() else repr(ch)
            d.fail(path, f"{value!r} must not contain {what} (netlab writes paths into nginx.conf, "
                         "which it would break)")
    if path_type in ("Exact", "Prefix"):    # as the API server validates them
        for seq in ("//", "/./", "/../", "%2f", "%2F"):
            if seq in value:
                d.fail(path, f"{value!r} must not contain '{seq}'")
        for suffix in ("/..", "/."):
            if value.endswith(suffix):
                d.fail(path, f"{value!r} cannot end with '{suffix}'")
    return value


def _backend(d: Reader, obj: dict, path: str, v1: bool) -> IngressBackend:
    if "resource" in obj:
        d.fail(f"{path}.resource", "a resource backend is not supported by netlab (give a service)")
    if not v1:
        d.known(obj, _KNOWN["Ingress.backend.v1beta1"], path)
        name = _service_name(d, d.get(obj, "serviceName", path, str, required=True), f"{path}.serviceName")
        port = d.get(obj, "servicePort", path, (int, str), required=True)
        ppath = f"{path}.servicePort"
        if isinstance(port, bool):
            d.fail(ppath, f"{port!r} must be a port number or a port name")
        return IngressBackend(name, _port_number(d, port, ppath) if isinstance(port, int) else
                              _port_name(d, port, ppath))
    d.known(obj, _KNOWN["Ingress.backend.v1"], path)
    svc = d.get(obj, "service", path, dict, required=True)
    spath = f"{path}.service"
    d.known(svc, _KNOWN["Ingress.service"], spath)
    name = _service_name(d, d.get(svc, "name", spath, str, required=True), f"{spath}.name")
    port = d.get(svc, "port", spath, dict, required=True)
    ppath = f"{spath}.port"
    d.known(port, _KNOWN["Ingress.port"], ppath)
    number, port_name = d.get(port, "number", ppath, int), d.get(port, "name", ppath, str)
    if number is not None and port_name is not None:
        d.fail(ppath, "give port.number or port.name, not both")
    if number is None and port_name is None:
        d.fail(ppath, "port.number or port.name is required")
    return IngressBackend(name, _port_number(d, number, f"{ppath}.number") if number is not None else
                          _port_name(d, port_name, f"{ppath}.name"))


CLASS_ANNOTATION = "kubernetes.io/ingress.class"


def _ingress(d: Reader) -> Ingress:
    name, ns, meta = _meta(d, "Ingress")
    v1 = d.doc["apiVersion"] == "networking.k8s.io/v1"
    annotations = _annotations(d, meta)
    spec = d.get(d.doc, "spec", "", dict, {})
    d.known(spec, _KNOWN["Ingress.spec.v1" if v1 else "Ingress.spec.v1beta1"], "spec")
    class_name = d.get(spec, "ingressClassName", "spec", str)
    if class_name is not None:
        _name(d, class_name, "spec.ingressClassName")
        if annotations.get(CLASS_ANNOTATION, class_name) != class_name:
            d.fail(f"metadata.annotations[{CLASS_ANNOTATION}]",
                   f"{annotations[CLASS_ANNOTATION]!r} must match spec.ingressClassName when both are given")
    default_key = "defaultBackend" if v1 else "backend"
    default = d.get(spec, default_key, "spec", dict)
    default = _backend(d, default, f"spec.{default_key}", v1) if default is not None else None
    rules = []
    for _, r, rpath in d.items(spec, "rules", "spec"):
        d.known(r, _KNOWN["Ingress.rule"], rpath)
        host = d.get(r, "host", rpath, str, "")
        if host:
            _host(d, host, f"{rpath}.host")
        paths = []
        http = d.get(r, "http", rpath, dict)
        if http is not None:
            d.known(http, _KNOWN["Ingress.http"], f"{rpath}.http")
            if not d.get(http, "paths", f"{rpath}.http", list, required=True):
                d.fail(f"{rpath}.http.paths", "must give at least one path")
            for _, p, ppath in d.items(http, "paths", f"{rpath}.http"):
                d.known(p, _KNOWN["Ingress.path"], ppath)
                path_type = d.get(p, "pathType", ppath, str, None if v1 else "ImplementationSpecific", required=v1)
                if path_type not in PATH_TYPES:
                    d.fail(f"{ppath}.pathType", f"{path_type!r} is not one of {', '.join(PATH_TYPES)}")
                value = d.get(p, "path", ppath, str, "")
                if not value and path_type == "ImplementationSpecific":
                    value = "/"                  # an omitted path means every path
                value = _ingress_path(d, value, path_type, f"{ppath}.path")
                backend = _backend(d, d.get(p, "backend", ppath, dict, required=True), f"{ppath}.backend", v1)
                paths.append(IngressPath(value, path_type, backend))
        rules.append(IngressRule(host, paths))
    if default is None and not rules:
        d.fail("spec", f"either {default_key} or rules must be given")
    tls = []
    for _, t, tpath in d.items(spec, "tls", "spec"):
        d.known(t, _KNOWN["Ingress.tls"], tpath)
        hosts = [_host(d, h, f"{tpath}.hosts[{j}]") for j, h in enumerate(d.get(t, "hosts", tpath, list, []))]
        secret = d.get(t, "secretName", tpath, str, "")
        if secret:
            _name(d, secret, f"{tpath}.secretName")
        tls.append(IngressTLS(hosts, secret))
    if class_name is None:
        class_name = annotations.get(CLASS_ANNOTATION)
    return Ingress(name, ns, class_name, annotations, rules, tls, default, _labels(d, meta, "metadata"))


DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"


def _ingress_class(d: Reader) -> IngressClass:
    name, _, meta = _meta(d, "IngressClass")
    if "namespace" in meta:
        d.warn("metadata.namespace was ignored: IngressClass is cluster-scoped")
    annotations = _annotations(d, meta)
    spec = d.get(d.doc, "spec", "", dict, required=True)
    d.known(spec, _KNOWN["IngressClass.spec"], "spec")
    controller = d.get(spec, "controller", "spec", str, required=True)
    domain, slash, rest = controller.partition("/")
    if len(controller) > 250 or not slash or not names.is_dns1123_subdomain(domain) \
            or not _CONTROLLER_PATH.match(rest):
        d.fail("spec.controller", f"{controller!r} must be a domain-prefixed path of at most 250 characters "
                                  "(such as k8s.io/ingress-nginx)")
    return IngressClass(name, controller, annotations.get(DEFAULT_CLASS_ANNOTATION) == "true")


def _network_policy(d: Reader) -> NetworkPolicy:
    name, ns, meta = _meta(d, "NetworkPolicy")
    return netpol.read(d, name, ns, _labels(d, meta, "metadata"))


def _namespace(d: Reader) -> Namespace:
    name, _, meta = _meta(d, "Namespace")
    labels = _labels(d, meta, "metadata")
    for k, v in labels.items():
        d.check("metadata.labels", selectors.key_problem(k))
        d.check(f"metadata.labels[{k}]", selectors.value_problem(v))
    return Namespace(name, {**labels, NAMESPACE_NAME_LABEL: name})


# ---------------------------------------------------------------- documents and files

_READERS = {"Service": _service, "Endpoints": _endpoints, "Deployment": _deployment, "Pod": _pod,
            "Secret": _secret, "ConfigMap": _config_map, "EndpointSlice": _endpoint_slice,
            "Ingress": _ingress, "IngressClass": _ingress_class, "NetworkPolicy": _network_policy,
            "Namespace": _namespace}


def parse_document(doc, where: str) -> Manifest | None:
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise ModelError(f"{where}: must be a mapping (a Kubernetes object)")
    d = Reader(where, doc, reasons=_WHY)
    api, kind = doc.get("apiVersion"), doc.get("kind")
    if not kind:
        d.fail("kind", "required field is missing")
    if (api, kind) not in KINDS:
        known = ", ".join(f"{a} {k}" for a, k in sorted(KINDS))
        d.fail("kind", f"{api} {kind} is not supported (known: {known})")
    obj = _READERS[kind](d)
    return Manifest(kind, obj, where, d.warnings, given(doc))


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def last_applied(m: Manifest) -> Manifest:
    """`m` as `kubectl apply` stores it: its document with the annotation that holds the
    document itself (compact JSON, keys sorted, as kubectl writes it), so that kubectl and
    netlab apply find the same object unchanged."""
    meta = m.doc.setdefault("metadata", {})
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    meta["annotations"] = annotations           # (kubectl's text holds "annotations":{} when there are none)
    text = json.dumps(m.doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for ch, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):     # as Go's encoder escapes them
        text = text.replace(ch, escaped)
    meta["annotations"] = {**annotations, LAST_APPLIED: text + "\n"}
    return m


# metadata the API server sets: never kept from what a client sends
SERVER_METADATA = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink",
                   "deletionTimestamp", "deletionGracePeriodSeconds")


def given(doc: dict) -> dict:
    """What a document says of its object as a user wrote it: no status, no server metadata;
    as JSON holds it (YAML's dates become text), to go into the lab's record."""
    out = json.loads(json.dumps({k: v for k, v in doc.items() if k != "status"}, default=str))
    if isinstance(out.get("metadata"), dict):
        out["metadata"] = {k: v for k, v in out["metadata"].items() if k not in SERVER_METADATA}
    return out


def files(path: str | Path) -> list[Path]:
    if yamlio.is_stdin(path):
        return [Path(yamlio.STDIN)]
    p = Path(path)
    if p.is_dir():
        return sorted(x for x in p.iterdir() if x.suffix in (".yaml", ".yml", ".json"))
    if not p.exists():
        raise ModelError(f"{p}: no such file or directory")
    return [p]


def load(path: str | Path) -> list[Manifest]:
    """Every object of a file (multi-document), a directory of files or standard input (`-`),
    in order. All or nothing: the first invalid document raises before anything is returned."""
    out = []
    for f in files(path):
        for i, doc in enumerate(yamlio.read(f, all_documents=True), 1):
            m = parse_document(doc, f"{yamlio.name(f)}: document {i}")
            if m is not None:
                out.append(m)
    return out
