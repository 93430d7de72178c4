"""Cluster objects, plain data that round-trips through JSON (the lab's store)."""
from __future__ import annotations

import copy
import dataclasses
import functools
from dataclasses import dataclass, field
from ipaddress import ip_network


@dataclass
class Node:
    name: str
    ip: str                 # address on the underlay (eth0)
    pod_cidr: str           # e.g. 172.30.76.0/24, docker0 takes .1, flannel.1 takes .0

    @property
    def gateway(self) -> str:
        return str(ip_network(self.pod_cidr)[1])

    @property
    def vtep_ip(self) -> str:
        return str(ip_network(self.pod_cidr)[0])


@dataclass
class Host:
    """A machine on the underlay outside the cluster (client, db, the router)."""
    name: str
    ip: str
    command: list[str] = field(default_factory=list)     # a server it runs, if any


@dataclass
class KeyRef:
    """env[].valueFrom.secretKeyRef / configMapKeyRef: one key of a Secret or ConfigMap."""
    kind: str                         # Secret | ConfigMap
    name: str
    key: str
    optional: bool = False


@dataclass
class EnvFrom:
    """envFrom[]: every key of a Secret or ConfigMap as a variable."""
    kind: str                         # Secret | ConfigMap
    name: str
    prefix: str = ""
    optional: bool = False


@dataclass
class Volume:
    """A Secret or ConfigMap volume joined with its volumeMount (first container)."""
    name: str
    kind: str                         # Secret | ConfigMap
    source: str                       # the Secret's or ConfigMap's name
    mount_path: str
    items: dict[str, str] = field(default_factory=dict)   # key -> file path; empty: every key
    optional: bool = False


@functools.cache
def _field_names(cls) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def plain(x):
    """A dataclass (and what it holds) as dicts and lists, as dataclasses.asdict gives it,
    about four times faster: the store's 2,000 objects are written at every change."""
    if isinstance(x, (str, int, float)) or x is None:
        return x
    if isinstance(x, list):
        return [plain(v) for v in x]
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, tuple):
        return tuple(plain(v) for v in x)
    return {name: plain(getattr(x, name)) for name in _field_names(type(x))}


def _typed(items: list, kind) -> list:
    return [x if isinstance(x, kind) else kind(**x) for x in items]


@dataclass(kw_only=True)
class PodSpec:
    """What pods and pod templates share: the first container's command, ports, env and
    volumes, and the pod's user (keyword arguments, after the object's own fields)."""
    container_ports: dict[str, int] = field(default_factory=dict)   # name -> number ("" if unnamed)
    command: list[str] = field(default_factory=list)                # run inside the pod, if any
    image: str = ""                   # the first container's image: named, never pulled
    env: dict[str, str] = field(default_factory=dict)               # literal values
    env_refs: dict[str, KeyRef] = field(default_factory=dict)       # name -> valueFrom
    env_from: list[EnvFrom] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)
    run_as_user: int | None = None    # None: the pod's own user (netlab gives each pod one)
    cap_add: list[str] = field(default_factory=list)     # securityContext.capabilities, as
    cap_drop: list[str] = field(default_factory=list)    # capabilities.name() spells them
    # seconds between the SIGTERM that ends the pod and the SIGKILL, if it has not exited by then
    termination_grace_period: int = 30
    # the pod's containers when there are several: `command` is then the pod's runtime,
    # which starts them (netlab-kube-dns-pod); empty: one container, the command itself
    containers: list[str] = field(default_factory=list)

    def container_names(self, default: str) -> list[str]:
        return list(self.containers) or [default]

    def __post_init__(self):          # read back from JSON: the nested objects again
        self.env_refs = {k: v if isinstance(v, KeyRef) else KeyRef(**v) for k, v in self.env_refs.items()}
        self.env_from = _typed(self.env_from, EnvFrom)
        self.volumes = _typed(self.volumes, Volume)

    def template(self) -> dict:
        """The spec alone, as keyword arguments (a Deployment's for each new pod); the
        container names only when the pod has several (one container is the default)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(PodSpec)
                if f.name != "containers" or self.containers}

    def spec(self) -> tuple:
        """What makes two pods the same workload (a change means a new pod)."""
        return tuple(self.template().values())


@dataclass
class Pod(PodSpec):
    name: str
    namespace: str
    node: str
    ip: str
    labels: dict[str, str] = field(default_factory=dict)
    owner: str | None = None          # deployment name
    created: float = 0.0              # unix time, for AGE
    ready: bool = True
    restarts: int = 0


@dataclass
class Deployment(PodSpec):
    name: str
    namespace: str
    replicas: int
    labels: dict[str, str]            # selector == pod template labels
    template_hash: str = ""           # the 10 hex characters in pod names
    next_ordinal: int = 0             # seeds the next generated pod name
    created: float = 0.0              # unix time it was stored (its uid and creationTimestamp)


@dataclass
class ServicePort:
    port: int
    name: str = ""
    protocol: str = "TCP"
    target_port: int | str = 0        # number or a named container port
    node_port: int | None = None


@dataclass
class Service:
    name: str
    namespace: str
    type: str = "ClusterIP"           # ClusterIP NodePort LoadBalancer ExternalName
    cluster_ip: str | None = None     # "None" for headless
    ports: list[ServicePort] = field(default_factory=list)
    selector: dict[str, str] | None = None
    session_affinity: str = "None"    # None | ClientIP
    affinity_timeout: int = 10800
    external_traffic_policy: str = "Cluster"
    external_ips: list[str] = field(default_factory=list)
    external_name: str | None = None
    load_balancer_ip: str | None = None
    load_balancer_source_ranges: list[str] = field(default_factory=list)   # CIDRs; none: anyone
    health_check_node_port: int | None = None     # LoadBalancer + Local: kube-proxy answers there
    internal_traffic_policy: str = "Cluster"      # Cluster | Local (cluster-IP traffic to own node's pods)
    labels: dict[str, str] = field(default_factory=dict)
    created: float = 0.0


@dataclass
class EndpointAddress:
    ip: str
    node: str | None = None           # None for addresses outside the cluster
    pod: str | None = None
    ready: bool = True
    hostname: str | None = None       # for headless services' per-endpoint DNS names


@dataclass
class EndpointPort:
    port: int
    name: str = ""
    protocol: str = "TCP"


@dataclass
class Endpoints:
    name: str
    namespace: str
    addresses: list[EndpointAddress] = field(default_factory=list)
    ports: list[EndpointPort] = field(default_factory=list)


@dataclass
class EndpointSlice:
    """discovery.k8s.io/v1: endpoints of the Service named by its kubernetes.io/service-name label."""
    name: str
    namespace: str
    service: str
    addresses: list[EndpointAddress] = field(default_factory=list)
    ports: list[EndpointPort] = field(default_factory=list)

    def __post_init__(self):
        self.addresses = _typed(self.addresses, EndpointAddress)
        self.ports = _typed(self.ports, EndpointPort)


@dataclass
class Secret:
    name: str
    namespace: str
    type: str = "Opaque"              # Opaque | kubernetes.io/tls | ...
    data: dict[str, str] = field(default_factory=dict)     # key -> base64, as the API server stores it
    labels: dict[str, str] = field(default_factory=dict)
    created: float = 0.0


@dataclass
class ConfigMap:
    name: str
    namespace: str
    data: dict[str, str] = field(default_factory=dict)     # key -> text
    labels: dict[str, str] = field(default_factory=dict)
    created: float = 0.0


@dataclass
class IngressBackend:
    service: str
    port: int | str                   # number or the service port's name


@dataclass
class IngressPath:
    path: str
    path_type: str                    # Exact | Prefix | ImplementationSpecific
    backend: IngressBackend

    def __post_init__(self):
        if isinstance(self.backend, dict):
            self.backend = IngressBackend(**self.backend)


@dataclass
class IngressRule:
    host: str                         # "" matches every host
    paths: list[IngressPath] = field(default_factory=list)

    def __post_init__(self):
        self.paths = _typed(self.paths, IngressPath)


@dataclass
class IngressTLS:
    hosts: list[str]
    secret: str                       # a kubernetes.io/tls Secret in the Ingress's namespace


@dataclass
class Ingress:
    name: str
    namespace: str
    class_name: str | None = None     # spec.ingressClassName, else the kubernetes.io/ingress.class annotation
    annotations: dict[str, str] = field(default_factory=dict)
    rules: list[IngressRule] = field(default_factory=list)
    tls: list[IngressTLS] = field(default_factory=list)
    default_backend: IngressBackend | None = None
    labels: dict[str, str] = field(default_factory=dict)
    created: float = 0.0

    def __post_init__(self):
        self.rules = _typed(self.rules, IngressRule)
        self.tls = _typed(self.tls, IngressTLS)
        if isinstance(self.default_backend, dict):
            self.default_backend = IngressBackend(**self.default_backend)


@dataclass
class IngressClass:
    name: str
    controller: str                   # k8s.io/ingress-nginx for netlab's controller
    default: bool = False             # ingressclass.kubernetes.io/is-default-class


NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"   # every namespace carries its name as a label


@dataclass
class Namespace:
    """A Namespace manifest: its labels (kubernetes.io/metadata.name is added, as the API server does)."""
    name: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Requirement:
    """One matchExpressions entry of a label selector."""
    key: str
    operator: str                     # In | NotIn | Exists | DoesNotExist
    values: list[str] = field(default_factory=list)


@dataclass
class LabelSelector:
    """matchLabels and matchExpressions, ANDed; empty selects everything."""
    match_labels: dict[str, str] = field(default_factory=dict)
    match_expressions: list[Requirement] = field(default_factory=list)

    def __post_init__(self):
        self.match_expressions = _typed(self.match_expressions, Requirement)


@dataclass
class IPBlock:
    cidr: str
    excepts: list[str] = field(default_factory=list)   # spec's `except`


@dataclass
class PolicyPeer:
    """One `from` / `to` entry: pods by selector (in the policy's namespace, or in the namespaces
    the namespace selector picks, both ANDed), or an address block."""
    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None

    def __post_init__(self):
        for attr, kind in (("pod_selector", LabelSelector), ("namespace_selector", LabelSelector),
                           ("ip_block", IPBlock)):
            value = getattr(self, attr)
            if isinstance(value, dict):
                setattr(self, attr, kind(**value))


@dataclass
class PolicyPort:
    protocol: str = "TCP"
    port: int | str | None = None     # number, a named container port, or None: every port
    end_port: int | None = None       # with a numeric port: the range port..end_port


@dataclass
class PolicyRule:
    """An ingress or egress rule: no peers means every peer, no ports every port."""
    peers: list[PolicyPeer] = field(default_factory=list)
    ports: list[PolicyPort] = field(default_factory=list)

    def __post_init__(self):
        self.peers = _typed(self.peers, PolicyPeer)
        self.ports = _typed(self.ports, PolicyPort)


@dataclass
class NetworkPolicy:
    name: str
    namespace: str
    pod_selector: LabelSelector = field(default_factory=LabelSelector)
    policy_types: list[str] = field(default_factory=lambda: ["Ingress"])   # as the API server defaults them
    ingress: list[PolicyRule] = field(default_factory=list)
    egress: list[PolicyRule] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    created: float = 0.0

    def __post_init__(self):
        if isinstance(self.pod_selector, dict):
            self.pod_selector = LabelSelector(**self.pod_selector)
        self.ingress = _typed(self.ingress, PolicyRule)
        self.egress = _typed(self.egress, PolicyRule)


def document_key(kind: str, namespace: str, name: str) -> str:
    """Cluster.documents' key: Kind/namespace/name (namespace "" for cluster-scoped kinds)."""
    return f"{kind}/{namespace}/{name}"


@dataclass
class Cluster:
    name: str = "seed"
    cluster_cidr: str = "172.30.0.0/16"
    service_cidr: str = "10.254.0.0/16"
    dns_domain: str = "cluster.local"
    underlay_cidr: str = "192.168.0.0/24"
    router: str = "192.168.0.1"
    flannel_mode: str = "routes"      # routes (current flannel) | seed (walk-through's)
    probability_decimals: int = 5     # kube-proxy's statistic probabilities: 5 (walk-through) or 10
    proxy_cluster_cidr: str | None = None   # kube-proxy's --cluster-cidr; None: the pod network's
    proxy_mode: str = "iptables-seed"     # kube-proxy flavour: iptables-seed | iptables | nftables
    iptables_backend: str = "legacy"      # the nodes' iptables: legacy (x_tables) | nft (iptables-nft)
    dns_upstream: str | None = None   # "IP[:port]" the cluster DNS forwards other names to; none by default
    nodes: list[Node] = field(default_factory=list)
    hosts: list[Host] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    endpoints: list[Endpoints] = field(default_factory=list)
    endpoint_slices: list[EndpointSlice] = field(default_factory=list)
    secrets: list[Secret] = field(default_factory=list)
    config_maps: list[ConfigMap] = field(default_factory=list)
    ingresses: list[Ingress] = field(default_factory=list)
    ingress_classes: list[IngressClass] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)     # made by Namespace manifests (others: by use)
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)   # theirs, as given
    network_policies: list[NetworkPolicy] = field(default_factory=list)
    policy: str = "none"              # NetworkPolicy enforcement: none (flannel alone) | enforce
    # each applied object's document as given (its status left out), by document_key: what the
    # API serves back of it beyond what netlab models (annotations, a container's name, the
    # fields netlab ignores), so that `kubectl apply` finds what it applied
    documents: dict[str, dict] = field(default_factory=dict)

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def namespace_labels_of(self, namespace: str) -> dict[str, str]:
        """A namespace's labels: a Namespace manifest's, or (made by use) its name label alone."""
        return {**self.namespace_labels.get(namespace, {}), NAMESPACE_NAME_LABEL: namespace}

    def document(self, kind: str, namespace: str, name: str) -> dict | None:
        return self.documents.get(document_key(kind, namespace, name))

    def pods_on(self, node: str) -> list[Pod]:
        return [p for p in self.pods if p.node == node]

    def to_dict(self) -> dict:
        return plain(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Cluster":
        d = dict(d)
        # its own copies, not the record's: a change made to the cluster must not reach the
        # record it was read from (the record is saved only if the change is admitted)
        d["namespaces"] = list(d.get("namespaces", []))
        d["namespace_labels"] = {k: dict(v) for k, v in d.get("namespace_labels", {}).items()}
        d["documents"] = copy.deepcopy(d.get("documents", {}))
        lists = {"nodes": Node, "hosts": Host, "deployments": Deployment, "pods": Pod,
                 "endpoint_slices": EndpointSlice, "secrets": Secret, "config_maps": ConfigMap,
                 "ingresses": Ingress, "ingress_classes": IngressClass, "network_policies": NetworkPolicy}
        for key, kind in lists.items():
            d[key] = [kind(**x) for x in d.get(key, [])]
        d["services"] = [
            Service(**{**s, "ports": [ServicePort(**p) for p in s.get("ports", [])]})
            for s in d.get("services", [])
        ]
        d["endpoints"] = [
            Endpoints(name=e["name"], namespace=e["namespace"],
                      addresses=[EndpointAddress(**a) for a in e.get("addresses", [])],
                      ports=[EndpointPort(**p) for p in e.get("ports", [])])
            for e in d.get("endpoints", [])
        ]
        return cls(**d)
