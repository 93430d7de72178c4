"""The seed cluster of ../shared/SEED.md: every name and address as the walk-through has them."""
from __future__ import annotations

import copy
import secrets as random
from typing import cast

from netlab import tls
from netlab.dns import addon
from netlab.model.objects import (
    Cluster, Deployment, EndpointAddress, EndpointPort, Endpoints, Host, Ingress, IngressBackend, IngressClass,
    IngressPath, IngressRule, IngressTLS, KeyRef, Node, Pod, Secret, Service, ServicePort, Volume,
)
from netlab.model.secrets import encode

NODE1, NODE2 = "192.168.0.21", "192.168.0.22"

_DEPLOYMENTS = [
    # name, namespace, template hash, labels, container ports, pods (suffix, ip, node)
    ("business-manager", "default", "666f454f7f", {"app": "business-manager"}, {"http": 8080},
     [("7l86b", "172.30.76.7", "node1"), ("h5tvw", "172.30.76.6", "node1"),
      ("zxmsx", "172.30.9.3", "node2")]),
    ("data-product", "default", "6664c6dcb9", {"app": "data-product"}, {"grpc": 50051},
     [("4zk27", "172.30.76.5", "node1"), ("7bn7p", "172.30.76.3", "node1"),
      ("tkmms", "172.30.9.2", "node2")]),
    ("nginx-ingress-controller", "ingress-nginx", "546bfbff9",
     {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/part-of": "ingress-nginx"},
     {"http": 80, "https": 443}, [("hpwsz", "172.30.76.2", "node1")]),
    ("kube-dns", "kube-system", "7cd94476cd", {"k8s-app": "kube-dns"}, addon.CONTAINER_PORTS,
     [("kr76t", "172.30.9.4", "node2")]),
]
# The walk-through's request: business-manager -> data-product (by name) -> mysql -> db;
# the cluster DNS serves the lab's own store.
COMMANDS = {"kube-dns": ["netlab-kube-dns-pod"], "business-manager": ["netlab-business-manager"],
            "data-product": ["netlab-data-product"], "nginx-ingress-controller": ["nginx-ingress-controller"]}
# Appendix C: the database password is a Secret, given to data-product as a variable and
# as a file (the application reads the file, which follows the Secret when it changes).
ENV = {"data-product": {"DB_HOST": "mysql", "DB_PORT": "3306", "DB_NAME": "shop", "DB_USER": "data-product",
                        "DB_PASSWORD_FILE": "/etc/db-secret/password"}}
ENV_REFS = {"data-product": {"DB_PASSWORD": KeyRef("Secret", "mysql", "password")}}
VOLUMES = {"data-product": [Volume("db-secret", "Secret", "mysql", "/etc/db-secret")]}
# the add-on's pod of the walk-through's era: kubedns, dnsmasq, dnsmasq-metrics, healthz (its runtime starts them)
CONTAINERS = {"kube-dns": list(addon.NAMES)}
HOST = "business-manager.default"     # the walk-through's URL, routed by the ingress


def whoami(ports) -> list[str]:
    """Until the real workloads arrive, each pod answers with its name on its ports."""
    return ["netlab-whoami"] + [arg for p in sorted(set(ports)) for arg in ("--port", str(p))]


PLATFORM = {"nginx-ingress-controller", "kube-dns"}     # what the cluster runs for everyone


SERVICE_CIDR = "10.254.0.0/16"


def platform(name: str = "seed", now: float = 0.0) -> Cluster:
    """The seed's cluster without the shop: nodes, the client host, kube-dns, the ingress
    controller and their Services. `netlab up -f MANIFESTS` builds this, then applies."""
    # The walk-through's kube-proxy was started with the service network as its --cluster-cidr:
    # its KUBE-FORWARD rules read "-s 10.254.0.0/16" (so pods' traffic to cluster IPs is masqueraded)
    c = Cluster(name=name, flannel_mode="seed", proxy_cluster_cidr=SERVICE_CIDR)
    c.nodes = [Node("node1", NODE1, "172.30.76.0/24"), Node("node2", NODE2, "172.30.9.0/24")]
    c.hosts = [Host("client", "192.168.0.100")]
    _deployments(c, PLATFORM, now)
    c.services = [
        Service("kubernetes", "default", cluster_ip="10.254.0.1",
                ports=[ServicePort(443, "https", "TCP", 6443)], created=now),
        Service("kube-dns", "kube-system", cluster_ip="10.254.0.2",
                ports=[ServicePort(53, "dns", "UDP", 53), ServicePort(53, "dns-tcp", "TCP", 53)],
                selector={"k8s-app": "kube-dns"}, created=now),
        Service("ingress-nginx", "ingress-nginx", type="NodePort", cluster_ip="10.254.189.164",
                ports=[ServicePort(80, "http", "TCP", 80, 30799),
                       ServicePort(443, "https", "TCP", 443, 31522)],
                selector={"app.kubernetes.io/name": "ingress-nginx",
                          "app.kubernetes.io/part-of": "ingress-nginx"}, created=now),
    ]
    c.ingress_classes = [IngressClass("nginx", "k8s.io/ingress-nginx", default=True)]
    return c


def seed_cluster(name: str = "seed", now: float = 0.0) -> Cluster:
    """The walk-through's cluster: the platform and the shop (figure 1, appendices A and C)."""
    c = platform(name, now)
    c.hosts.append(Host("db", "192.168.0.103",       # MariaDB, the shop's database (appendix A)
                        ["netlab-db", "--password-secret", "default/mysql/password"]))
    _deployments(c, {d[0] for d in _DEPLOYMENTS} - PLATFORM, now)
    order = [d[0] for d in _DEPLOYMENTS]          # as the walk-through lists them
    c.deployments.sort(key=lambda d: order.index(d.name))
    c.pods.sort(key=lambda p: order.index(cast(str, p.owner)))   # every seed pod belongs to a deployment
    c.services[:0] = [
        Service("business-manager", "default", cluster_ip="10.254.80.22",
                ports=[ServicePort(80, "business-manager", "TCP", 8080)],
                selector={"app": "business-manager"}, created=now),
        Service("data-product", "default", cluster_ip="10.254.116.224",
                ports=[ServicePort(50051, "data-product", "TCP", 50051)],
                selector={"app": "data-product"}, created=now)]
    c.services.append(Service("mysql", "default", cluster_ip="10.254.84.209",
                              ports=[ServicePort(3306, "", "TCP", 3306)], created=now))
    # Appendix A: a selector-less service whose Endpoints are written by hand.
    c.endpoints = [Endpoints("mysql", "default", [EndpointAddress("192.168.0.103")],
                             [EndpointPort(3306)])]
    # Each lab gets its own password and certificate.
    c.secrets = [Secret("mysql", "default", data=encode({"password": random.token_urlsafe(12)}), created=now),
                 Secret("business-manager-tls", "default", "kubernetes.io/tls", encode(tls.self_signed([HOST])),
                        created=now)]
    # Figure 1's way in: plain HTTP on 30799 as in the walk-through, and HTTPS on 31522.
    c.ingresses = [Ingress("business-manager", "default", "nginx",
                           {"nginx.ingress.kubernetes.io/ssl-redirect": "false"},
                           [IngressRule(HOST, [IngressPath("/", "Prefix", IngressBackend("business-manager", 80))])],
                           [IngressTLS([HOST], "business-manager-tls")], created=now)]
    return c


def _deployments(c: Cluster, names: set[str], now: float) -> None:
    """The seed's deployments of these names, with their pods as the walk-through lists them."""
    for dep_name, ns, tmpl, labels, ports, pods in _DEPLOYMENTS:
        if dep_name not in names:
            continue
        spec = dict(container_ports=ports, command=COMMANDS.get(dep_name) or whoami(ports.values()),
                    env=ENV.get(dep_name, {}), env_refs=ENV_REFS.get(dep_name, {}),
                    volumes=VOLUMES.get(dep_name, []),
                    containers=CONTAINERS.get(dep_name, []))
        c.deployments.append(Deployment(dep_name, ns, len(pods), dict(labels), tmpl, len(pods), **_copy(spec)))
        for suffix, ip, node in pods:
            c.pods.append(Pod(f"{dep_name}-{tmpl}-{suffix}", ns, node, ip, dict(labels), owner=dep_name,
                              created=now, **_copy(spec)))


def _copy(spec: dict) -> dict:
    """Each pod its own lists and dicts (they are changed one pod at a time)."""
    return {k: copy.deepcopy(v) for k, v in spec.items()}
