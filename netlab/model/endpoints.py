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
- A Service without a selector and without a hand-written Endpoints object gets its
  Endpoints from the EndpointSlices of its namespace labelled with its name
  (kubernetes.io/service-name), as kube-proxy reads them: the slices in name order,
  merged; an address (by IP) given by two slices counts once, the first slice's;
  addresses sorted by IP as text as above, each with the ip, node, pod (targetRef),
  ready and hostname of its slice endpoint. Ports are the first slice's (one
  Endpoints object holds one set of ports; the validation refuses slices of one
  Service with different ports; should some differ anyway, only the slices with the
  first slice's ports count). Slices with no endpoints give no addresses and no ports,
  as above. The lab stores derived Endpoints next to hand-written ones; when a slice
  changes, `store.apply`/`delete` drop the Endpoints that equal what the
  old slices gave, so that they are derived again.
- `default/kubernetes` (selector-less) gets the API server's address as the real API
  server keeps it (its endpoint reconciler, which overwrites any other): the first node's
  IP, where netlab's API server listens in the lab, with the Service's port name and
  target port (https, 6443), no node and no pod. A cluster without nodes gives it none.
"""
from __future__ import annotations

from netlab.model.objects import Cluster, EndpointAddress, EndpointPort, Endpoints, EndpointSlice, Pod, Service


def has_selector(svc: Service) -> bool:
    return bool(svc.selector) and svc.type != "ExternalName"


def selects(selector: dict[str, str], pod: Pod) -> bool:
    return all(pod.labels.get(k) == v for k, v in selector.items())


def selected_pods(cluster: Cluster, svc: Service, pods: list[Pod] | None = None) -> list[Pod]:
    """The pods `svc` selects, among `pods` (those of its namespace, when the caller has them
    grouped) or the cluster's."""
    selector = svc.selector
    if not has_selector(svc) or selector is None:   # has_selector implies a selector
        return []
    return [p for p in (cluster.pods if pods is None else pods)
            if p.namespace == svc.namespace and p.ip and selects(selector, p)]


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


def endpoints_for(cluster: Cluster, svc: Service, pods: list[Pod] | None = None) -> Endpoints | None:
    """The Endpoints the controller writes for `svc`; None for a selector-less service."""
    if not has_selector(svc):
        return None
    pods = sorted(selected_pods(cluster, svc, pods), key=lambda p: p.ip.encode())
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


def _port_set(ports: list[EndpointPort]) -> set[tuple[str, int, str]]:
    return {(p.name, p.port, p.protocol) for p in ports}


def slice_endpoints(svc: Service, slices: list[EndpointSlice]) -> Endpoints | None:
    """The Endpoints that `svc`'s EndpointSlices (among `slices`) give; None if it has none
    (or a selector, or is an ExternalName service)."""
    if has_selector(svc) or svc.type == "ExternalName":
        return None
    slices = sorted((s for s in slices if s.namespace == svc.namespace and s.service == svc.name),
                    key=lambda s: s.name)
    if not slices:
        return None
    ports = slices[0].ports
    seen: dict[str, EndpointAddress] = {}
    for s in slices:
        if _port_set(s.ports) != _port_set(ports):
            continue
        for a in s.addresses:
            seen.setdefault(a.ip, a)
    if not seen:
        return Endpoints(svc.name, svc.namespace)
    addresses = [EndpointAddress(a.ip, node=a.node, pod=a.pod, ready=a.ready, hostname=a.hostname)
                 for a in sorted(seen.values(), key=lambda a: a.ip.encode())]
    return Endpoints(svc.name, svc.namespace, addresses,
                     [EndpointPort(p.port, p.name, p.protocol) for p in ports])


KUBERNETES = ("default", "kubernetes")


def api_endpoints(cluster: Cluster) -> Endpoints | None:
    """The `default/kubernetes` Endpoints: the first node's IP and the Service's target port
    (what the API server listens on inside the lab); None without that Service or a node."""
    svc = next((s for s in cluster.services if (s.namespace, s.name) == KUBERNETES), None)
    if svc is None or has_selector(svc) or svc.type == "ExternalName" or not cluster.nodes:
        return None
    ports = [EndpointPort(p.target_port if isinstance(p.target_port, int) and p.target_port else p.port,
                          p.name, p.protocol) for p in svc.ports]
    return Endpoints(svc.name, svc.namespace, [EndpointAddress(cluster.nodes[0].ip)], ports)


def derive_endpoints(cluster: Cluster) -> list[Endpoints]:
    """Every Endpoints object of the cluster, sorted by namespace and name."""
    derived: dict[tuple[str, str], Endpoints] = {}
    controlled: set[tuple[str, str]] = set()
    pods_in: dict[str, list[Pod]] = {}        # grouped once: each service looks at its namespace only
    for p in cluster.pods:
        pods_in.setdefault(p.namespace, []).append(p)
    slices_of: dict[tuple[str, str], list[EndpointSlice]] = {}
    for s in getattr(cluster, "endpoint_slices", []):
        slices_of.setdefault((s.namespace, s.service), []).append(s)
    for svc in cluster.services:
        if has_selector(svc):
            controlled.add((svc.namespace, svc.name))
            own = endpoints_for(cluster, svc, pods_in.get(svc.namespace, []))
            assert own is not None   # has_selector(svc), so endpoints_for gives Endpoints
            derived[(svc.namespace, svc.name)] = own
    api = api_endpoints(cluster)
    if api is not None:
        controlled.add(KUBERNETES)
        derived[KUBERNETES] = api
    for ep in cluster.endpoints:
        key = (ep.namespace, ep.name)
        if key not in controlled:
            derived[key] = ep
    for svc in cluster.services:
        key = (svc.namespace, svc.name)
        if key not in derived:
            sliced = slice_endpoints(svc, slices_of.get(key, []))
            if sliced is not None:
                derived[key] = sliced
    return [derived[k] for k in sorted(derived)]


def find(endpoints: list[Endpoints], namespace: str, name: str) -> Endpoints | None:
    for ep in endpoints:
        if ep.namespace == namespace and ep.name == name:
            return ep
    return None
