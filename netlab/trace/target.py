"""What `netlab trace FROM TO` names, resolved against the cluster (pure).

FROM: a pod (by name, `-n` namespace as kubectl), a node or an outside host.
TO:   a pod; a Service by name (`data-product`, `data-product.default`, the FQDN, with
      `:PORT`), resolved by DNS from the source as the pod would; a ClusterIP or any
      address with `:PORT`; a NodePort URL (`http://192.168.0.21:30799/path`); an Ingress
      host (`business-manager.default`, `http://business-manager.default/path`), which an
      outside host reaches through the ingress controller's NodePort on the first node.
"""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_address
from urllib.parse import urlsplit

from netlab import layout
from netlab.errors import NetlabError
from netlab.model.objects import Cluster, Pod, Service

PROTOCOLS = ("tcp", "udp", "icmp")


@dataclass(frozen=True)
class Source:
    label: str
    kind: str                   # pod | node | host
    netns: str
    ip: str
    node: str | None            # the node a pod runs on, or the node itself


@dataclass(frozen=True)
class Destination:
    label: str                  # as the user wrote it
    kind: str                   # pod | service | address | nodeport | ingress
    ip: str | None              # None until DNS answers (a Service by name)
    port: int
    protocol: str
    dns_name: str | None = None       # the name the source resolves
    service: str | None = None        # namespace/name of the Service it is
    host_header: str | None = None    # HTTP Host (ingress)
    path: str = "/"


def _pod(c: Cluster, name: str, namespace: str | None) -> Pod | None:
    found = [p for p in c.pods if p.name == name and (namespace is None or p.namespace == namespace)]
    if len(found) > 1:
        found = [p for p in found if p.namespace == "default"]
    return found[0] if len(found) == 1 else None


def source(c: Cluster, text: str, namespace: str | None) -> Source:
    for n in c.nodes:
        if text == n.name:
            return Source(n.name, "node", layout.node_ns(c.name, n.name), n.ip, n.name)
    for h in c.hosts:
        if text == h.name:
            return Source(h.name, "host", layout.host_ns(c.name, h.name), h.ip, None)
    pod = _pod(c, text, namespace)
    if pod is None:
        raise NetlabError(f"trace: FROM {text!r}: no pod, node or outside host of that name in lab {c.name!r}"
                          + (f" (namespace {namespace})" if namespace else "") + " (netlab get pods -A)")
    return Source(f"{pod.namespace}/{pod.name}", "pod", layout.pod_ns(c.name, pod), pod.ip, pod.node)


def _port(text: str, given: int | None, where: str) -> int | None:
    if given is not None:
        return given
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise NetlabError(f"trace: TO {where!r}: port {text!r} must be a number 1-65535")
    return int(text)


def _service_by_name(c: Cluster, name: str, namespace: str) -> tuple[Service, str] | None:
    """`svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.<zone>` -> the Service and its FQDN."""
    parts = name.rstrip(".").split(".")
    zone = c.dns_domain.split(".")
    svc, ns = parts[0], namespace
    if len(parts) >= 2:
        ns = parts[1]
    rest = parts[2:]
    if rest and (rest[0] != "svc" or (rest[1:] and rest[1:] != zone)):
        return None
    for s in c.services:
        if s.name == svc and s.namespace == ns:
            return s, f"{svc}.{ns}.svc.{c.dns_domain}"
    return None


def _ingress_port(c: Cluster) -> int | None:
    from netlab.ingress import controller
    for s in c.services:
        if any(controller.is_controller(p) and all(p.labels.get(k) == v for k, v in (s.selector or {}).items())
               for p in c.pods) and s.selector:
            for p in s.ports:
                if p.node_port and p.port == 80:
                    return p.node_port
    return None


def destination(c: Cluster, text: str, src: Source, protocol: str = "tcp", port: int | None = None,
                namespace: str | None = None) -> Destination:
    if protocol not in PROTOCOLS:
        raise NetlabError(f"trace: --proto {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    ns = namespace or (src.label.split("/")[0] if src.kind == "pod" else "default")
    hosts = {r.host for i in c.ingresses for r in i.rules if r.host}
    if "://" in text:
        url = urlsplit(text)
        host, path = url.hostname or "", url.path or "/"
        if host in hosts:
            return _ingress(c, text, host, path, protocol)
        try:
            ip_address(host)
        except ValueError:
            raise NetlabError(f"trace: TO {text!r}: {host!r} is neither an address nor an Ingress host "
                              f"({', '.join(sorted(hosts)) or 'none'})") from None
        return Destination(text, "nodeport", host, url.port or 80, protocol, path=path)
    name, _, port_text = text.rpartition(":") if ":" in text else (text, "", "")
    number = _port(port_text, port, text)
    try:
        ip_address(name)
        if number is None and protocol != "icmp":
            raise NetlabError(f"trace: TO {text!r}: give the port (ADDRESS:PORT, or --port)")
        svc = next((s for s in c.services for p in s.ports if s.cluster_ip == name), None)
        return Destination(text, "address", name, number or 0, protocol,
                           service=f"{svc.namespace}/{svc.name}" if svc else None)
    except ValueError:
        pass
    if src.kind == "host" and name in hosts:
        return _ingress(c, text, name, "/", protocol)
    pod = _pod(c, name, namespace)
    if pod is not None:
        ports = sorted(set(pod.container_ports.values()))
        chosen = 0 if protocol == "icmp" else number if number is not None else (ports[0] if ports else 0)
        if not chosen and protocol != "icmp":
            raise NetlabError(f"trace: TO {text!r}: pod {pod.name} declares no port: give --port")
        return Destination(text, "pod", pod.ip, chosen, protocol)
    found = _service_by_name(c, name, ns)
    if found is None:
        raise NetlabError(f"trace: TO {text!r}: no pod, Service, address or Ingress host of that name "
                          f"(netlab get svc -A, netlab get ingress -A)")
    svc, _ = found
    if src.kind != "pod":
        raise NetlabError(f"trace: TO {text!r}: only a pod resolves Service names (cluster DNS); from "
                          f"{src.label} give its ClusterIP:PORT ({svc.cluster_ip})")
    wanted = [p for p in svc.ports if p.protocol.lower() == protocol]
    if number is None:
        if not wanted:
            raise NetlabError(f"trace: TO {text!r}: Service {svc.namespace}/{svc.name} has no {protocol.upper()} port")
        number = wanted[0].port
    return Destination(text, "service", None, number, protocol, dns_name=name,
                       service=f"{svc.namespace}/{svc.name}")


def _ingress(c: Cluster, text: str, host: str, path: str, protocol: str) -> Destination:
    port = _ingress_port(c)
    if port is None or not c.nodes:
        raise NetlabError(f"trace: TO {text!r}: the lab has no ingress controller Service with a NodePort")
    return Destination(text, "ingress", c.nodes[0].ip, port, protocol, host_header=host, path=path)
