"""The API inside the lab, as pods reach a real cluster's: the `kubernetes` Service
(10.254.0.1:443 in the seed) whose Endpoints are the first node's address and the API
server's port (model/endpoints.api_endpoints: 192.168.0.21:6443), the server's certificate
valid for every name a pod may use, and what the kubelet gives every container: its service
account's token, the CA and its namespace at /var/run/secrets/kubernetes.io/serviceaccount,
and the KUBERNETES_SERVICE_* variables.

The API server runs in the host's namespace (its loopback port for kubectl); the socket it
serves the lab on is made inside the first node's namespace (`listener`), where it stays.
"""
from __future__ import annotations

import os
import socket

from netlab import layout
from netlab.api import auth
from netlab.kernel import netns
from netlab.model.endpoints import KUBERNETES, api_endpoints
from netlab.model.objects import Cluster, Service

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def mount_path() -> str:
    """Where the service account's files are bound in a pod: SA_DIR with /var/run resolved (a
    link to /run on Debian), so the bind lands in the pod's own /run and no layer covers /var."""
    head, tail = SA_DIR.split("/secrets/", 1)
    return os.path.join(os.path.realpath(head), "secrets", tail)


def service(c: Cluster) -> Service | None:
    """The `kubernetes` Service, if the lab has it with a cluster IP."""
    svc = next((s for s in c.services if (s.namespace, s.name) == KUBERNETES), None)
    return svc if svc and svc.cluster_ip not in (None, "", "None") and svc.ports else None


def hosts(c: Cluster) -> list[str]:
    """The names and addresses the server's certificate is for: the host's loopback (kubectl),
    the Service's cluster IP and names, the first node's address (its Endpoints)."""
    svc, ep = service(c), api_endpoints(c)
    names = ["127.0.0.1"]
    if svc is not None:
        names.append(str(svc.cluster_ip))
    if ep is not None:
        names.append(ep.addresses[0].ip)
    names += ["kubernetes", "kubernetes.default", "kubernetes.default.svc",
              f"kubernetes.default.svc.{c.dns_domain.rstrip('.')}", "localhost"]
    return list(dict.fromkeys(names))


def environment(c: Cluster) -> dict[str, str]:
    """The variables the kubelet sets in every container for the master Service (docker links'
    form), whatever the pod's namespace; none if the lab has no such Service."""
    svc = service(c)
    if svc is None:
        return {}
    ip, first = svc.cluster_ip, svc.ports[0]
    env = {"KUBERNETES_SERVICE_HOST": str(ip), "KUBERNETES_SERVICE_PORT": str(first.port),
           "KUBERNETES_PORT": f"{first.protocol.lower()}://{ip}:{first.port}"}
    for p in svc.ports:
        if p.name:
            env[f"KUBERNETES_SERVICE_PORT_{p.name.upper().replace('-', '_')}"] = str(p.port)
        prefix = f"KUBERNETES_PORT_{p.port}_{p.protocol.upper()}"
        env.update({prefix: f"{p.protocol.lower()}://{ip}:{p.port}", f"{prefix}_PROTO": p.protocol.lower(),
                    f"{prefix}_PORT": str(p.port), f"{prefix}_ADDR": str(ip)})
    return env


def service_account_files(lab_token: str, ca: bytes, namespace: str) -> dict[str, bytes]:
    """The projected volume's files of the namespace's `default` service account."""
    return {"token": auth.service_account_token(lab_token, namespace).encode(), "ca.crt": ca,
            "namespace": namespace.encode()}


def address(c: Cluster) -> tuple[str, str, int] | None:
    """(node, IP, port) where the API server listens inside the lab; None: nowhere."""
    ep = api_endpoints(c) if service(c) is not None else None
    if ep is None or not ep.ports:
        return None
    ip = ep.addresses[0].ip
    node = next(n.name for n in c.nodes if n.ip == ip)
    return node, ip, ep.ports[0].port


def _bind(ip: str, port: int) -> socket.socket:
    netns.guard_not_root()          # (this thread entered the node's namespace: never the host's)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)     # a restarted server binds at once
        s.bind((ip, port))
        s.listen(128)
    except OSError:
        s.close()
        raise
    return s


def listener(lab: str, c: Cluster) -> socket.socket | None:
    """A listening socket at the lab's API address, made in the first node's namespace by a
    thread that entered it (the caller's own namespace is left as it is): a socket keeps the
    namespace it was made in. None if the lab has no such address."""
    where = address(c)
    if where is None:
        return None
    node, ip, port = where
    return netns.run_in(layout.node_ns(lab, node), _bind, ip, port)
