"""Services as the API server admits them: validation, ClusterIP and NodePort allocation.

Pure. Every problem is a ModelError whose one line names the service, the field, the
value and the reason, e.g.
    service default/web: spec.ports[0].nodePort: 40000 is outside the NodePort range 30000-32767

Allocation is deterministic, not random as in Kubernetes: the first candidate is
derived from a hash of "<namespace>/<name>" (and the port) and the search goes up
from there, wrapping around, so the same lab gets the same addresses every time.
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn, TypeGuard
from ipaddress import IPv4Address, ip_network

from netlab.errors import ModelError
from netlab.model import fields, names
from netlab.model.endpoints import KUBERNETES, container_port, selected_pods
from netlab.model.objects import Cluster, Service, ServicePort

SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
PROTOCOLS = ("TCP", "UDP", "SCTP")
AFFINITIES = ("None", "ClientIP")
TRAFFIC_POLICIES = ("Cluster", "Local")
NODE_PORTS = range(30000, 32768)                 # kube-apiserver's --service-node-port-range
LB_POOL = ("192.168.0.200", "192.168.0.250")     # the simulated cloud provider's addresses (seed underlay)


def lb_pool(underlay_cidr: str) -> tuple[str, str]:
    """The cloud's pool on the lab's underlay: .200-.250 of its network, as in the seed."""
    net = ip_network(underlay_cidr)
    return (str(net.network_address + 200), str(net.network_address + 250))
MAX_AFFINITY_TIMEOUT = 86400                     # seconds, as Kubernetes validates it
# KUBERNETES (the API service) owns the range's first address



def _key(svc: Service) -> tuple[str, str]:
    return (svc.namespace, svc.name)


def _where(svc: Service) -> str:
    return f"service {svc.namespace}/{svc.name}"


def _fail(svc: Service, field: str, message: str) -> NoReturn:
    raise ModelError(f"{_where(svc)}: {field}: {message}")


def _check(svc: Service, field: str, problem: str | None) -> None:
    if problem:
        _fail(svc, field, problem)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _ipv4(value) -> IPv4Address | None:
    try:
        return IPv4Address(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def is_headless(svc: Service) -> bool:
    return svc.cluster_ip == "None"


def wants_node_ports(svc: Service) -> bool:
    return svc.type in ("NodePort", "LoadBalancer")


def wants_health_check(svc: Service) -> bool:
    """A LoadBalancer with externalTrafficPolicy Local: the cloud asks each node's kube-proxy
    on spec.healthCheckNodePort whether it has a local endpoint."""
    return svc.type == "LoadBalancer" and svc.external_traffic_policy == "Local"


_HEALTH_CHECK = ServicePort(0, name="health-check")     # what its allocation hashes


# --- what is in use ---------------------------------------------------------------

def _holder(svc: Service) -> str:
    return f"{svc.namespace}/{svc.name}"


class Taken:
    """The cluster IPs, node ports and load balancer IPs the services hold, each with the
    "ns/name" of its holders: built once and kept as services are admitted, so that checking
    and allocating for every service is linear in their number, not quadratic."""

    def __init__(self, services: Iterable[Service] = ()):
        self.cluster_ips: dict[str, list[str]] = {}
        self.node_ports: dict[int, list[str]] = {}
        self.lb_ips: dict[str, list[str]] = {}
        for s in services:
            self.add(s)

    def add(self, svc: Service) -> None:
        holder = _holder(svc)
        if svc.cluster_ip and not is_headless(svc):
            self.cluster_ips.setdefault(svc.cluster_ip, []).append(holder)
        for p in svc.ports:
            if p.node_port:
                self.node_ports.setdefault(p.node_port, []).append(holder)
        if svc.health_check_node_port:
            self.node_ports.setdefault(svc.health_check_node_port, []).append(holder)
        if svc.load_balancer_ip:
            self.lb_ips.setdefault(svc.load_balancer_ip, []).append(holder)

    @staticmethod
    def other(table: dict, value, svc: Service) -> str | None:
        """The service that held `value` in `table` before `svc`, if any: of two services
        stating one value, the later (the one being applied) is refused, naming the first."""
        holders = table.get(value, ())
        me = _holder(svc)
        return holders[0] if holders and holders[0] != me else None

    def others(self, table: dict, svc: Service) -> _Others:
        """The values of `table` held by a service other than `svc` (what an allocation avoids)."""
        return _Others(table, _holder(svc))


class _Others:
    """`value in taken`: is it held by a service other than one? (a view, nothing copied)"""

    def __init__(self, table: dict, me: str):
        self.table, self.me = table, me

    def __contains__(self, value) -> bool:
        return any(h != self.me for h in self.table.get(value, ()))


# --- allocation ---------------------------------------------------------------------

def _first_free(candidates: Sequence, start: int, taken) -> Any:
    n = len(candidates)
    for i in range(n):
        value = candidates[(start + i) % n]
        if value not in taken:
            return value
    return None


def allocate_cluster_ip(service_cidr: str, namespace: str, name: str, taken) -> str:
    """A free address of the service range for ns/name.

    Skips the network and broadcast addresses, and keeps the range's first address
    for default/kubernetes, as Kubernetes does (10.254.0.1 in the seed).
    """
    net = ip_network(service_cidr)
    first = net.network_address + 1
    if (namespace, name) == KUBERNETES and str(first) not in taken:
        return str(first)
    size = net.num_addresses - 3          # network, broadcast and the reserved first
    if size <= 0:
        raise ModelError(f"service {namespace}/{name}: spec.clusterIP: "
                         f"service range {service_cidr} is too small to allocate from")
    start = _hash(f"{namespace}/{name}") % size
    for i in range(size):
        candidate = str(first + 1 + (start + i) % size)
        if candidate not in taken:
            return candidate
    raise ModelError(f"service {namespace}/{name}: spec.clusterIP: "
                     f"no free address left in service range {service_cidr}")


def allocate_node_port(namespace: str, name: str, port: ServicePort, taken,
                       port_range: range = NODE_PORTS) -> int:
    start = _hash(f"{namespace}/{name}:{port.name}/{port.protocol}") % len(port_range)
    found = _first_free(port_range, start, taken)
    if found is None:
        raise ModelError(f"service {namespace}/{name}: spec.ports.nodePort: "
                         f"no free port left in {port_range.start}-{port_range.stop - 1}")
    return found


def allocate_lb_ip(namespace: str, name: str, taken, pool: tuple[str, str] = LB_POOL) -> str:
    """An external IP from the simulated cloud provider's pool (for type=LoadBalancer)."""
    low, high = (int(IPv4Address(a)) for a in pool)
    candidates = [str(IPv4Address(i)) for i in range(low, high + 1)]
    found = _first_free(candidates, _hash(f"{namespace}/{name}") % len(candidates), taken)
    if found is None:
        raise ModelError(f"service {namespace}/{name}: status.loadBalancer: "
                         f"no free address left in pool {pool[0]}-{pool[1]}")
    return found


def admit(cluster: Cluster, svc: Service, taken: Taken | None = None) -> Service:
    """Validate `svc` against the cluster and return a copy with clusterIP and node ports set.

    `svc` may or may not already be in cluster.services (an update replaces it); `taken`
    is what the cluster's services hold (built from them when not given), and gets what
    is allocated here.
    """
    taken = Taken(cluster.services) if taken is None else taken
    validate_service(cluster, svc, taken)
    # a copy of what admission changes (deepcopy is a quarter of a 2,000-object apply)
    out = dataclasses.replace(svc, ports=[dataclasses.replace(p) for p in svc.ports])
    holder = _holder(out)
    if out.type != "ExternalName" and not out.cluster_ip:
        out.cluster_ip = allocate_cluster_ip(cluster.service_cidr, out.namespace, out.name,
                                             taken.others(taken.cluster_ips, out))
        taken.cluster_ips.setdefault(out.cluster_ip, []).append(holder)
    if wants_node_ports(out):
        for port in out.ports:              # its own stated ports are not to be given again
            if port.node_port and holder not in taken.node_ports.get(port.node_port, ()):
                taken.node_ports.setdefault(port.node_port, []).append(holder)
        for port in out.ports:
            if not port.node_port:
                port.node_port = allocate_node_port(out.namespace, out.name, port, taken.node_ports)
                taken.node_ports.setdefault(port.node_port, []).append(holder)
    if wants_health_check(out) and not out.health_check_node_port:
        # the API server gives it one from the node-port range, as it gives node ports
        out.health_check_node_port = allocate_node_port(out.namespace, out.name, _HEALTH_CHECK, taken.node_ports)
        taken.node_ports.setdefault(out.health_check_node_port, []).append(holder)
    return out


def admit_all(cluster: Cluster) -> None:
    """Every service admitted (validated, addresses and ports allocated), then the load
    balancers' addresses from the cloud's pool: what the API server and the cloud
    controller do, in one pass. Values a service states are held before any allocation."""
    taken = Taken(cluster.services)
    cluster.services = [admit(cluster, s, taken) for s in cluster.services]
    pool = lb_pool(cluster.underlay_cidr)
    for s in cluster.services:
        if s.type == "LoadBalancer" and not s.load_balancer_ip:
            s.load_balancer_ip = allocate_lb_ip(s.namespace, s.name, taken.lb_ips, pool)
            taken.lb_ips.setdefault(s.load_balancer_ip, []).append(_holder(s))


# --- validation ---------------------------------------------------------------------

def validate_services(cluster: Cluster) -> None:
    """Raise ModelError on the first problem among all services."""
    seen = set()
    taken = Taken(cluster.services)
    for svc in cluster.services:
        if _key(svc) in seen:
            _fail(svc, "metadata.name", f"{svc.name!r} is already used by another service "
                                        f"in namespace {svc.namespace!r}")
        seen.add(_key(svc))
        validate_service(cluster, svc, taken)


def validate_service(cluster: Cluster, svc: Service, taken: Taken | None = None) -> None:
    """Raise ModelError on the first problem of `svc`, checked against the other services
    (`taken`: what they hold, built from them when not given)."""
    taken = Taken(cluster.services) if taken is None else taken
    _check_meta(svc)
    if svc.type not in SERVICE_TYPES:
        _fail(svc, "spec.type", f"{svc.type!r} is not one of {', '.join(SERVICE_TYPES)}")
    if svc.type == "ExternalName":
        _check_external_name(svc)
    else:
        _check_cluster_ip(cluster, svc, taken)
    _check_ports(cluster, svc, taken)
    _check_selector(svc)
    _check_affinity(svc)
    _check_traffic_policy(svc, taken)
    _check_external_ips(svc)
    _check_lb_ip(cluster, svc, taken)


def _check_meta(svc: Service) -> None:
    # Kubernetes wants service names to be DNS-1035 labels: they become DNS names.
    _check(svc, "metadata.name", fields.service_name(svc.name))
    _check(svc, "metadata.namespace", fields.dns1123(svc.namespace, label=True))


def _check_external_name(svc: Service) -> None:
    if not svc.external_name or not names.is_dns1123_subdomain(svc.external_name.rstrip(".")):
        _fail(svc, "spec.externalName", f"{svc.external_name!r} must be a DNS name "
                                        "(required for type ExternalName)")
    if svc.cluster_ip:
        _fail(svc, "spec.clusterIP", f"{svc.cluster_ip!r} must be empty for type ExternalName")


def _check_cluster_ip(cluster: Cluster, svc: Service, taken: Taken) -> None:
    value = svc.cluster_ip
    if not value:
        return  # allocated by admit()
    if value == "None":
        if wants_node_ports(svc):
            _fail(svc, "spec.clusterIP", f"'None' (headless) is not allowed for type {svc.type}")
        return
    addr = _ipv4(value)
    if addr is None:
        _fail(svc, "spec.clusterIP", f"{value!r} is not an IPv4 address (or 'None' for headless)")
    net = ip_network(cluster.service_cidr)
    if addr not in net:
        _fail(svc, "spec.clusterIP", f"{value} is outside the service range {net}")
    if addr in (net.network_address, net.broadcast_address):
        _fail(svc, "spec.clusterIP", f"{value} is the network or broadcast address of {net}")
    holder = taken.other(taken.cluster_ips, value, svc)
    if holder:
        _fail(svc, "spec.clusterIP", f"{value} is already allocated to service {holder}")


def _check_ports(cluster: Cluster, svc: Service, taken: Taken) -> None:
    if not svc.ports and svc.type != "ExternalName" and not is_headless(svc):
        _fail(svc, "spec.ports", "a service needs at least one port")
    seen_names: dict[str, int] = {}
    seen_ports: dict[tuple, int] = {}
    seen_node_ports: dict[tuple, int] = {}
    for j, port in enumerate(svc.ports):
        field = f"spec.ports[{j}]"
        if not isinstance(port.name, str) or port.name:
            _check(svc, f"{field}.name", fields.dns1123(port.name, label=True))
        if len(svc.ports) > 1 and not port.name:
            _fail(svc, f"{field}.name", "a name is required when a service has more than one port")
        if port.name in seen_names:
            _fail(svc, f"{field}.name", f"{port.name!r} is already used by spec.ports[{seen_names[port.name]}]")
        seen_names[port.name] = j
        if port.protocol not in PROTOCOLS:
            _fail(svc, f"{field}.protocol", f"{port.protocol!r} is not one of {', '.join(PROTOCOLS)}")
        _check(svc, f"{field}.port", fields.port_number(port.port))
        if (port.port, port.protocol) in seen_ports:
            _fail(svc, f"{field}.port", f"{port.port}/{port.protocol} is already used by "
                                        f"spec.ports[{seen_ports[(port.port, port.protocol)]}]")
        seen_ports[(port.port, port.protocol)] = j
        _check_target_port(cluster, svc, port, f"{field}.targetPort")
        _check_node_port(svc, port, f"{field}.nodePort", taken, seen_node_ports, j)


def _check_target_port(cluster: Cluster, svc: Service, port: ServicePort, field: str) -> None:
    target = port.target_port
    if _is_int(target):
        if target != 0:     # 0 is the port itself, as the API server's defaulting makes it
            _check(svc, field, fields.port_number(target))
        return
    if not isinstance(target, str) or not names.is_port_name(target):
        _fail(svc, field, f"{target!r} must be a port number or a port name (at most 15 lower case "
                          "letters, digits and '-', with at least one letter)")
    pods = selected_pods(cluster, svc)
    # Only judged when some pod is selected: a Service may be created before its pods.
    if pods and all(container_port(p, target) is None for p in pods):
        _fail(svc, field, f"{target!r} is not a container port of any pod the selector selects")


def _check_node_port(svc: Service, port: ServicePort, field: str, taken: Taken,
                     seen: dict[tuple, int], j: int) -> None:
    value = port.node_port
    if value is None or value == 0:
        return  # allocated by admit() for NodePort and LoadBalancer
    if not wants_node_ports(svc):
        _fail(svc, field, f"{value!r} may not be set for type {svc.type} (only NodePort and LoadBalancer)")
    if not _is_int(value) or value not in NODE_PORTS:
        _fail(svc, field, f"{value!r} is outside the NodePort range "
                          f"{NODE_PORTS.start}-{NODE_PORTS.stop - 1}")
    holder = taken.other(taken.node_ports, value, svc)
    if holder:
        _fail(svc, field, f"{value} is already allocated to service {holder}")
    if (value, port.protocol) in seen:
        _fail(svc, field, f"{value}/{port.protocol} is already used by spec.ports[{seen[(value, port.protocol)]}]")
    seen[(value, port.protocol)] = j


def _check_selector(svc: Service) -> None:
    if svc.selector is None:
        return
    if not isinstance(svc.selector, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in svc.selector.items()):
        _fail(svc, "spec.selector", f"{svc.selector!r} must map label names to string values")


def _check_affinity(svc: Service) -> None:
    if svc.session_affinity not in AFFINITIES:
        _fail(svc, "spec.sessionAffinity", f"{svc.session_affinity!r} is not one of {', '.join(AFFINITIES)}")
    timeout = svc.affinity_timeout
    if not _is_int(timeout) or not 0 < timeout <= MAX_AFFINITY_TIMEOUT:
        _fail(svc, "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
              f"{timeout!r} must be 1-{MAX_AFFINITY_TIMEOUT} seconds")


def _check_traffic_policy(svc: Service, taken: Taken) -> None:
    if svc.internal_traffic_policy not in TRAFFIC_POLICIES:
        _fail(svc, "spec.internalTrafficPolicy", f"{svc.internal_traffic_policy!r} is not one of "
                                                 f"{', '.join(TRAFFIC_POLICIES)}")
    for i, cidr in enumerate(svc.load_balancer_source_ranges):
        try:
            ip_network(cidr, strict=False)
        except ValueError:
            _fail(svc, f"spec.loadBalancerSourceRanges[{i}]", f"{cidr!r} is not a CIDR (a.b.c.d/n)")
    hc = svc.health_check_node_port
    if hc:
        if not wants_health_check(svc):
            _fail(svc, "spec.healthCheckNodePort", "may only be set for type LoadBalancer with "
                                                   "externalTrafficPolicy Local")
        if not _is_int(hc) or hc not in NODE_PORTS:
            _fail(svc, "spec.healthCheckNodePort", f"{hc!r} is outside the NodePort range "
                                                   f"{NODE_PORTS.start}-{NODE_PORTS.stop - 1}")
        holder = taken.other(taken.node_ports, hc, svc)
        if holder:
            _fail(svc, "spec.healthCheckNodePort", f"{hc} is already allocated to service {holder}")
        if any(p.node_port == hc for p in svc.ports):
            _fail(svc, "spec.healthCheckNodePort", f"{hc} is already used by one of spec.ports' nodePort")
    policy = svc.external_traffic_policy
    if policy not in TRAFFIC_POLICIES:
        _fail(svc, "spec.externalTrafficPolicy", f"{policy!r} is not one of {', '.join(TRAFFIC_POLICIES)}")
    if policy == "Local" and not wants_node_ports(svc):
        _fail(svc, "spec.externalTrafficPolicy", f"'Local' is only for types NodePort and LoadBalancer, "
                                                 f"not {svc.type}")


def _check_external_ips(svc: Service) -> None:
    for k, value in enumerate(svc.external_ips):
        field = f"spec.externalIPs[{k}]"
        _check(svc, field, fields.endpoint_ip(value))
        if svc.external_ips.index(value) != k:
            _fail(svc, field, f"{value} is listed twice")


def _check_lb_ip(cluster: Cluster, svc: Service, taken: Taken) -> None:
    value = svc.load_balancer_ip
    if not value:
        return
    if svc.type != "LoadBalancer":
        _fail(svc, "spec.loadBalancerIP", f"{value!r} may only be set for type LoadBalancer")
    if _ipv4(value) is None:
        _fail(svc, "spec.loadBalancerIP", f"{value!r} is not an IPv4 address")
    holder = taken.other(taken.lb_ips, value, svc)
    if holder:
        _fail(svc, "spec.loadBalancerIP", f"{value} is already used by service {holder}")
    low, high = (int(IPv4Address(a)) for a in lb_pool(cluster.underlay_cidr))
    if not low <= int(IPv4Address(value)) <= high:
        _fail(svc, "spec.loadBalancerIP", f"{value} is outside the load balancer pool "
                                          f"{IPv4Address(low)}-{IPv4Address(high)}")
