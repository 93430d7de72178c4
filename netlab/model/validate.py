"""Validation of a cluster: the first problem found, as one line naming the field."""
from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from netlab import layout
from netlab.cni import ipam
from netlab.errors import ModelError
from netlab.model import fields, names
from netlab.model.objects import Cluster, ConfigMap, EndpointSlice, Host, Ingress, Node, Secret
from netlab.model.services import validate_services

FLANNEL_MODES = ("routes", "seed")
POLICY_MODES = ("none", "enforce")


def lab_name(name: str) -> str:
    if not (names.is_dns1123_label(name) and len(name) <= 32):
        raise ModelError(f"lab name {name!r}: must be a DNS-1123 label of at most 32 characters")
    return name


def _net(value, field: str):
    try:
        return ip_network(value)
    except (ValueError, TypeError):
        raise ModelError(f"{field}: {value!r} is not a network in CIDR form") from None


def _ip(value, field: str):
    try:
        return ip_address(value)
    except (ValueError, TypeError):
        raise ModelError(f"{field}: {value!r} is not an IPv4 address") from None


def _unique(items, field: str, namespaced: bool = False):
    seen: dict = {}
    for i, item in enumerate(items):
        k = f"{item.namespace}/{item.name}" if namespaced else item.name
        if k in seen:
            raise ModelError(f"{field}[{i}].name: {k!r} is already used by {field}[{seen[k]}]")
        seen[k] = i


def _dns_name(value, field: str, label: bool = False):
    fields.check(field, fields.dns1123(value, label))


def validate(c: Cluster, where: str = "") -> Cluster:
    """Raise ModelError on the first problem; `where` prefixes the message (a file name)."""
    try:
        _check(c)
    except ModelError as e:
        raise ModelError(f"{where}: {e}" if where else str(e)) from None
    return c


def unknown_node(c: Cluster, name: str) -> str | None:
    if name in {n.name for n in c.nodes}:
        return None
    return f"{name!r} is not a node of this cluster (nodes: {', '.join(n.name for n in c.nodes)})"


def pod_name(c: Cluster, name: str) -> str | None:
    """A pod may not take the name of a node, an outside host or netlab's own namespaces:
    `netlab exec NAME` and `netlab logs NAME` find those first, and could never reach the pod."""
    what = ("a node" if name in {n.name for n in c.nodes} else "an outside host" if name in {h.name for h in c.hosts}
            else "one of netlab's own namespaces" if name in layout.RESERVED else None)
    if what is None:
        return None
    return (f"{name!r} is the name of {what} of the lab: netlab exec {name} and netlab logs {name} "
            "would reach that, never the pod (choose another name)")


def _disjoint(*nets: tuple[str, IPv4Network | IPv6Network]) -> None:
    """The pod network, the services' range and the underlay share no address: a packet's
    destination must say which it is for (routes, kube-proxy's rules, the VXLAN)."""
    for i, (field, net) in enumerate(nets):
        for other_field, other in nets[:i]:
            if net.version == other.version and net.overlaps(other):
                raise ModelError(f"{field}: {net} overlaps {other_field} {other}")


def _check(c: Cluster) -> None:
    cluster = _net(c.cluster_cidr, "cluster.clusterCIDR")
    service = _net(c.service_cidr, "cluster.serviceCIDR")
    underlay = _net(c.underlay_cidr, "underlay.cidr")
    _disjoint(("cluster.clusterCIDR", cluster), ("cluster.serviceCIDR", service), ("underlay.cidr", underlay))
    if c.flannel_mode not in FLANNEL_MODES:
        raise ModelError(f"cluster.flannelMode: {c.flannel_mode!r} is not one of {', '.join(FLANNEL_MODES)}")
    if c.policy not in POLICY_MODES:
        raise ModelError(f"policy: {c.policy!r} is not one of {', '.join(POLICY_MODES)}")
    if not c.nodes:
        raise ModelError("nodes: a cluster needs at least one node")
    if _ip(c.router, "underlay.router") not in underlay:
        raise ModelError(f"underlay.router: {c.router} is outside underlay.cidr {underlay}")

    _unique(c.nodes, "nodes")
    _unique(c.hosts, "underlay.hosts")
    taken_underlay = {c.router: "underlay.router"}
    underlay_items: tuple[tuple[str, Sequence[Node | Host]], ...] = (("nodes", c.nodes), ("underlay.hosts", c.hosts))
    for field, items in underlay_items:
        for i, item in enumerate(items):
            _dns_name(item.name, f"{field}[{i}].name", label=True)
            if item.name in layout.RESERVED:
                raise ModelError(f"{field}[{i}].name: {item.name!r} is reserved by netlab")
            addr = _ip(item.ip, f"{field}[{i}].ip")
            if addr not in underlay:
                raise ModelError(f"{field}[{i}].ip: {item.ip} is outside underlay.cidr {underlay}")
            if item.ip in taken_underlay:
                raise ModelError(f"{field}[{i}].ip: {item.ip} is already used by {taken_underlay[item.ip]}")
            taken_underlay[item.ip] = f"{field}[{i}]"
    names_all = [n.name for n in c.nodes] + [h.name for h in c.hosts]
    if len(set(names_all)) != len(names_all):
        dup = next(n for n in names_all if names_all.count(n) > 1)
        raise ModelError(f"underlay.hosts: name {dup!r} is already used by a node")

    subnets: list[tuple[int, IPv4Network | IPv6Network]] = []
    for i, node in enumerate(c.nodes):
        field = f"nodes[{i}].podCIDR"
        net = _net(node.pod_cidr, field)
        if not net.subnet_of(cluster):
            raise ModelError(f"{field}: {node.pod_cidr} is outside cluster.clusterCIDR {cluster}")
        if net.prefixlen > 30:
            raise ModelError(f"{field}: {node.pod_cidr} is too small for pods (at most /30)")
        for j, other in subnets:
            if net.overlaps(other):
                raise ModelError(f"{field}: {node.pod_cidr} overlaps nodes[{j}].podCIDR {other}")
        subnets.append((i, net))

    node_names = {n.name: n for n in c.nodes}
    for i, dep in enumerate(c.deployments):
        _dns_name(dep.name, f"deployments[{i}].name")
        _dns_name(dep.namespace, f"deployments[{i}].namespace", label=True)
        if not isinstance(dep.replicas, int) or dep.replicas < 0:
            raise ModelError(f"deployments[{i}].replicas: {dep.replicas!r} must be a whole number >= 0")
    _unique(c.deployments, "deployments", namespaced=True)

    ips: dict[str, str] = {}
    for i, pod in enumerate(c.pods):
        _dns_name(pod.name, f"pods[{i}].name")
        _dns_name(pod.namespace, f"pods[{i}].namespace", label=True)
        fields.check(f"pods[{i}].name", pod_name(c, pod.name))
        if pod.node:
            fields.check(f"pods[{i}].node", unknown_node(c, pod.node))
        if not pod.ip:
            continue  # IPAM fills it in
        _ip(pod.ip, f"pods[{i}].ip")
        owner = [n for n in c.nodes if ipam.in_subnet(pod.ip, n.pod_cidr)]
        pod_node = node_names[pod.node] if pod.node else (owner[0] if owner else None)
        if pod_node is None:
            raise ModelError(f"pods[{i}].ip: {pod.ip} is in no node's podCIDR")
        if not ipam.in_subnet(pod.ip, pod_node.pod_cidr):
            raise ModelError(f"pods[{i}].ip: {pod.ip} is outside node {pod_node.name}'s podCIDR {pod_node.pod_cidr}")
        if pod.ip in ipam.reserved(pod_node.pod_cidr):
            raise ModelError(f"pods[{i}].ip: {pod.ip} is reserved (subnet, gateway or broadcast address)")
        if pod.ip in ips:
            raise ModelError(f"pods[{i}].ip: {pod.ip} is already used by {ips[pod.ip]}")
        ips[pod.ip] = f"pods[{i}] ({pod.namespace}/{pod.name})"
    _unique(c.pods, "pods", namespaced=True)
    if c.probability_decimals not in (5, 10):
        raise ModelError(f"cluster.probabilityDecimals: {c.probability_decimals!r} must be 5 (the walk-through's "
                         "kube-proxy) or 10 (kube-proxy 1.17 and later)")
    check_proxy(c.proxy_mode, c.iptables_backend, "cluster.proxyMode", "cluster.iptablesBackend")
    if c.dns_upstream is not None:
        host, _, port = c.dns_upstream.partition(":")
        _ip(host, "cluster.dnsUpstream")
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise ModelError(f"cluster.dnsUpstream: {c.dns_upstream!r}: the port must be 1-65535")
    validate_services(c)
    _check_objects(c)


PROXY_MODES = {"iptables-seed": "the walk-through's iptables proxier (2018)",
               "iptables": "today's iptables proxier", "nftables": "today's nftables proxier"}
IPTABLES_BACKENDS = ("legacy", "nft")


def check_proxy(mode: str, backend: str, mode_field: str = "proxy mode",
                backend_field: str = "iptables backend") -> None:
    if mode not in PROXY_MODES:
        raise ModelError(f"{mode_field}: {mode!r} is not one of {', '.join(PROXY_MODES)}")
    if backend not in IPTABLES_BACKENDS:
        raise ModelError(f"{backend_field}: {backend!r} is not one of {', '.join(IPTABLES_BACKENDS)}")


def _check_objects(c: Cluster) -> None:
    """Secrets, ConfigMaps, EndpointSlices, Ingresses and IngressClasses (a state file's: manifests
    are checked as they are read)."""
    objects: tuple[tuple[str, Sequence[Secret | ConfigMap | EndpointSlice | Ingress]], ...] = (
        ("secrets", c.secrets), ("configMaps", c.config_maps),
        ("endpointSlices", c.endpoint_slices), ("ingresses", c.ingresses))
    for field, items in objects:
        for i, item in enumerate(items):
            _dns_name(item.name, f"{field}[{i}].name")
            _dns_name(item.namespace, f"{field}[{i}].namespace", label=True)
        _unique(items, field, namespaced=True)
    for i, ic in enumerate(c.ingress_classes):
        _dns_name(ic.name, f"ingressClasses[{i}].name")
    _unique(c.ingress_classes, "ingressClasses")
    first: dict[tuple[str, str], tuple[str, set]] = {}
    for s in sorted(c.endpoint_slices, key=lambda s: (s.namespace, s.service, s.name)):
        ports = {(p.name, p.port, p.protocol) for p in s.ports}
        key = (s.namespace, s.service)
        if key not in first:
            first[key] = (s.name, ports)
        elif first[key][1] != ports:
            raise ModelError(f"endpointSlices: {s.namespace}/{s.name}: ports differ from those of "
                             f"{s.namespace}/{first[key][0]}, another slice of service {s.service!r} "
                             "(netlab keeps one set of ports per Service; give its slices the same ports)")
