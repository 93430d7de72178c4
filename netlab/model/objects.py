"""Cluster objects, plain data that round-trips through JSON (the lab's store)."""
from __future__ import annotations

import dataclasses
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
class Pod:
    name: str
    namespace: str
    node: str
    ip: str
    labels: dict[str, str] = field(default_factory=dict)
    owner: str | None = None          # deployment name
    created: float = 0.0              # unix time, for AGE
    container_ports: dict[str, int] = field(default_factory=dict)   # name -> number ("" if unnamed)
    command: list[str] = field(default_factory=list)                # run inside the pod, if any
    ready: bool = True
    restarts: int = 0
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Deployment:
    name: str
    namespace: str
    replicas: int
    labels: dict[str, str]            # selector == pod template labels
    template_hash: str = ""           # the 10 hex characters in pod names
    next_ordinal: int = 0             # seeds the next generated pod name
    container_ports: dict[str, int] = field(default_factory=dict)   # the pod template's
    command: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


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
class Cluster:
    name: str = "seed"
    cluster_cidr: str = "172.30.0.0/16"
    service_cidr: str = "10.254.0.0/16"
    dns_domain: str = "cluster.local"
    underlay_cidr: str = "192.168.0.0/24"
    router: str = "192.168.0.1"
    flannel_mode: str = "routes"      # routes (current flannel) | seed (walk-through's)
    probability_decimals: int = 5     # kube-proxy's statistic probabilities: 5 (walk-through) or 10
    dns_upstream: str | None = None   # "IP[:port]" the cluster DNS forwards other names to; none by default
    nodes: list[Node] = field(default_factory=list)
    hosts: list[Host] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    endpoints: list[Endpoints] = field(default_factory=list)

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def pods_on(self, node: str) -> list[Pod]:
        return [p for p in self.pods if p.node == node]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Cluster":
        d = dict(d)
        lists = {"nodes": Node, "hosts": Host, "deployments": Deployment, "pods": Pod}
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
