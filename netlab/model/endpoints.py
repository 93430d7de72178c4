"""What the endpoints controller does: a Service's selector becomes its Endpoints.

Pure: reads a cluster, returns Endpoints objects; the caller stores them
(`cluster.endpoints = derive_endpoints(cluster)`).

- A Service with a selector gets one Endpoints object of the same name: every pod of
  its namespace whose labels include the selector and that has an IP, each address
  carrying ip, node and pod, and `ready` copied from the pod (a pod without a
  `ready` attribute is ready). kube-proxy uses only ready addresses.
- Addresses are sorted by IP compared as text, byte by byte, as the endpoints
  controller sorts them (so 172.30.76.3 comes before 172.30.9.2); kube-proxy keeps
  that order.
- Ports come from the service ports, in spec order: name and protocol of the service
  port, number of its targetPort (0 means "same as port"). A named targetPort is
  looked up in the pods' container ports; netlab pods do not describe container ports
  yet (no `container_ports` attribute), so a named targetPort resolves to nothing and
  that port is left out, which kube-proxy then treats as "no endpoints".
- A selected set of no pods gives an Endpoints object with no addresses and no ports,
  as Kubernetes stores an Endpoints object with no subsets.
- Services without a selector (None or empty, like the seed's `mysql`) keep the
  Endpoints written by hand; so do Endpoints objects that belong to no Service.
  ExternalName services get none: they are a DNS alias and kube-proxy ignores them.
"""
from __future__ import annotations

from netlab.model.objects import Cluster, EndpointAddress, EndpointPort, Endpoints, Pod, Service


def has_selector(svc: Service) -> bool:
    return bool(svc.selector) and svc.type != "ExternalName"


def selects(selector: dict[str, str], pod: Pod) -> bool:
    return all(pod.labels.get(k) == v for k, v in selector.items())


def selected_pods(cluster: Cluster, svc: Service) -> list[Pod]:
    if not has_selector(svc):
        return []
    return [p for p in cluster.pods
            if p.namespace == svc.namespace and p.ip and selects(svc.selector, p)]


def container_port(pod: Pod, name: str) -> int | None:
    """The number of the pod's container port called `name`, if the pod says."""
    ports = getattr(pod, "container_ports", None) or {}
    return ports.get(name)


def _target(port_target: int | str, port: int, pods: list[Pod]) -> int | None:
    if isinstance(port_target, int):
        return port_target or port
    # One Endpoints object holds one set of ports for all its addresses, so a named
    # port is usable only when every selected pod gives it the same number.
    numbers = {container_port(p, port_target) for p in pods}
    return numbers.pop() if len(numbers) == 1 and None not in numbers else None


def endpoints_for(cluster: Cluster, svc: Service) -> Endpoints | None:
    """The Endpoints the controller writes for `svc`; None for a selector-less service."""
    if not has_selector(svc):
        return None
    pods = sorted(selected_pods(cluster, svc), key=lambda p: p.ip.encode())
    if not pods:
        return Endpoints(svc.name, svc.namespace)
    addresses = [EndpointAddress(p.ip, node=p.node, pod=p.name, ready=getattr(p, "ready", True))
                 for p in pods]
    ports = []
    for sp in svc.ports:
        number = _target(sp.target_port, sp.port, pods)
        if number is not None:
            ports.append(EndpointPort(number, sp.name, sp.protocol))
    return Endpoints(svc.name, svc.namespace, addresses, ports)


def derive_endpoints(cluster: Cluster) -> list[Endpoints]:
    """Every Endpoints object of the cluster, sorted by namespace and name."""
    derived = {}
    controlled = set()
    for svc in cluster.services:
        if has_selector(svc):
            controlled.add((svc.namespace, svc.name))
            derived[(svc.namespace, svc.name)] = endpoints_for(cluster, svc)
    for ep in cluster.endpoints:
        key = (ep.namespace, ep.name)
        if key not in controlled:
            derived[key] = ep
    return [derived[k] for k in sorted(derived)]


def find(endpoints: list[Endpoints], namespace: str, name: str) -> Endpoints | None:
    for ep in endpoints:
        if ep.namespace == namespace and ep.name == name:
            return ep
    return None
