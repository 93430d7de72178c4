"""What a proxier sees: Services and their endpoints as kube-proxy holds them, one entry per
service port, and the node it runs on. Plain data, shared by every flavour's rule builder
(the walk-through's iptables proxier, today's iptables and nftables proxiers).

kube-proxy receives Services and EndpointSlices from the API server and keeps, per
ServicePortName ("namespace/name:portname" and protocol), the service's settings and the
endpoints for that port name, whatever slice they came from. No defaulting happens here:
a NodePort service whose port has no nodePort has node_port 0, load-balancer addresses are
status.loadBalancer.ingress's, as kube-proxy reads them.
"""
from __future__ import annotations

from dataclasses import dataclass

from netlab.errors import ModelError
from netlab.model.names import host_port
from netlab.model.objects import Cluster


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of one service port (EndpointSlice endpoint address + the port's number)."""
    ip: str
    port: int
    node: str | None = None         # nodeName; the endpoint is local when it is this node's
    ready: bool = True              # conditions.ready (unset counts as true, as kube-proxy)
    serving: bool = True            # conditions.serving (unset: as ready)
    terminating: bool = False       # conditions.terminating (unset: false)


@dataclass(frozen=True)
class ServicePort:
    """One port of one Service, with everything of the Service a proxier uses."""
    namespace: str
    name: str
    port_name: str                  # "" for an unnamed port
    protocol: str                   # "TCP" | "UDP" | "SCTP", as the API spells it
    port: int
    cluster_ip: str                 # spec.clusterIP (IPv4 only)
    type: str = "ClusterIP"         # ClusterIP | NodePort | LoadBalancer
    node_port: int = 0              # 0: none
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()        # status.loadBalancer.ingress[].ip
    source_ranges: tuple[str, ...] = ()            # spec.loadBalancerSourceRanges
    external_policy_local: bool = False            # externalTrafficPolicy Local, where it applies
    internal_policy_local: bool = False            # internalTrafficPolicy Local
    affinity_seconds: int = 0                      # ClientIP affinity timeout; 0: no affinity
    health_check_node_port: int = 0                # spec.healthCheckNodePort; 0: none
    endpoints: tuple[Endpoint, ...] = ()           # in the order kube-proxy got them

    @property
    def service_port_name(self) -> str:
        """Today's kube-proxy's ServicePortName.String(): "namespace/name:portname", or
        "namespace/name" for an unnamed port (the 2018 one wrote the colon always)."""
        return f"{self.namespace}/{self.name}:{self.port_name}" if self.port_name else f"{self.namespace}/{self.name}"

    @property
    def proto(self) -> str:
        """The protocol in lower case, as the rules spell it."""
        return self.protocol.lower()


@dataclass(frozen=True)
class NodeConfig:
    """The node a proxier runs on and the flags it was started with."""
    name: str
    ips: tuple[str, ...]                            # the node's addresses (the first: its primary IP)
    pod_cidr: str | None = None                     # --detect-local-mode=NodeCIDR: this node's pods
    cluster_cidr: str | None = None                 # --detect-local-mode=ClusterCIDR (used if no pod_cidr)
    localhost_nodeports: bool = True                # iptables mode: NodePorts on 127.0.0.1 too
    masquerade_bit: int = 14                        # --iptables-masquerade-bit: mark 1 << bit
    node_port_addresses: tuple[str, ...] = ()       # --nodeport-addresses CIDRs; (): every local address

    @property
    def local_cidr(self) -> str | None:
        """The range whose sources count as this cluster's pods (none: every source is 'local')."""
        return self.pod_cidr or self.cluster_cidr

    @property
    def masquerade_mark(self) -> str:
        return f"{1 << self.masquerade_bit:#x}"


# --- from the lab's cluster ----------------------------------------------------------------

def _sorted(endpoints) -> tuple[Endpoint, ...]:
    # kube-proxy's endpoint-slice cache hands a port's endpoints sorted by "ip:port" as text
    return tuple(sorted(endpoints, key=lambda e: host_port(e.ip, e.port)))


def _external_local(svc_type: str, external_ips, policy: str) -> bool:
    """externalTrafficPolicy Local counts only where there is external traffic."""
    return policy == "Local" and (svc_type in ("NodePort", "LoadBalancer") or bool(external_ips))


def from_cluster(c: Cluster) -> list[ServicePort]:
    """The lab's Services and Endpoints as today's kube-proxy receives them, sorted by
    namespace, name and port order."""
    by_name = {(e.namespace, e.name): e for e in c.endpoints}
    out = []
    for svc in sorted(c.services, key=lambda s: (s.namespace, s.name)):
        if svc.type == "ExternalName" or not svc.cluster_ip or svc.cluster_ip == "None":
            continue
        ep = by_name.get((svc.namespace, svc.name))
        lb = (svc.load_balancer_ip,) if svc.type == "LoadBalancer" and svc.load_balancer_ip else ()
        for sp in svc.ports:
            number = next((p.port for p in ep.ports if p.name == sp.name and p.port), None) if ep else None
            eps = [Endpoint(a.ip, number, a.node, a.ready, a.ready) for a in ep.addresses] if ep and number else []
            out.append(ServicePort(
                svc.namespace, svc.name, sp.name, sp.protocol, sp.port, svc.cluster_ip, svc.type,
                sp.node_port or 0 if svc.type in ("NodePort", "LoadBalancer") else 0,
                tuple(svc.external_ips), lb, tuple(svc.load_balancer_source_ranges),
                _external_local(svc.type, svc.external_ips, svc.external_traffic_policy),
                svc.internal_traffic_policy == "Local",
                svc.affinity_timeout if svc.session_affinity == "ClientIP" else 0,
                svc.health_check_node_port or 0, _sorted(eps)))
    return out


def node_configs(c: Cluster) -> list[NodeConfig]:
    """Each node's kube-proxy as netlab runs today's: local traffic is the pod network's
    (--detect-local-mode=ClusterCIDR), NodePorts on every local address."""
    return [NodeConfig(n.name, (n.ip,), cluster_cidr=c.cluster_cidr) for n in c.nodes]


# --- from manifests, as the API server hands them over ------------------------------------

def from_objects(objects: list[tuple[str, dict]]) -> list[ServicePort]:
    """(where, document) pairs -> the Services' ports, in the order the Services come; their
    endpoints from the EndpointSlices (other kinds are ignored; a List's items count). Nothing
    is defaulted beyond what kube-proxy itself assumes for an unset field; a field of the
    wrong type is one ModelError naming the document and the field."""
    services, slices = [], []
    for where, doc in _items(objects):
        kind = doc.get("kind")
        if kind == "Service":
            services.append(_Doc(doc, f"{where} (Service)"))
        elif kind == "EndpointSlice":
            slices.append(_Doc(doc, f"{where} (EndpointSlice)"))
    endpoints: dict[tuple[str, str], dict[tuple[str, str], dict[str, Endpoint]]] = {}
    for d in slices:
        _slice(d, endpoints)
    out = []
    for d in services:
        out += _service(d, endpoints)
    return out


def _items(objects):
    for where, doc in objects:
        if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            yield from ((f"{where}: items[{i}]", x) for i, x in enumerate(doc["items"]) if isinstance(x, dict))
        elif isinstance(doc, dict):
            yield where, doc


class _Doc:
    """Typed reads of one document, each failure one line naming the document and field."""

    def __init__(self, doc: dict, where: str):
        self.doc, self.where = doc, where

    def get(self, obj, path: str, kind, default):
        value = obj
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
            if value is None:
                return default
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ModelError(f"{self.where}: {path}: {value!r} is not {_KIND_NAMES.get(kind, kind)}")
        return value


_KIND_NAMES = {str: "a string", int: "a whole number", list: "a list", dict: "a mapping", bool: "true or false"}


def _name(d: _Doc) -> tuple[str, str]:
    name = d.get(d.doc, "metadata.name", str, "")
    if not name:
        raise ModelError(f"{d.where}: metadata.name: missing")
    return d.get(d.doc, "metadata.namespace", str, "default"), name


def _slice(d: _Doc, into: dict) -> None:
    ns, name = _name(d)
    if d.get(d.doc, "addressType", str, "IPv4") != "IPv4":
        return                                   # an IPv4 proxier watches IPv4 slices only
    service = d.get(d.doc, "metadata.labels", dict, {}).get("kubernetes.io/service-name")
    if not service:
        raise ModelError(f"{d.where}: metadata.labels: kubernetes.io/service-name missing (which Service?)")
    ports = into.setdefault((ns, service), {})
    for j, p in enumerate(d.get(d.doc, "ports", list, [])):
        number = d.get(p, "port", int, 0)
        if not number:
            continue
        key = (d.get(p, "name", str, ""), d.get(p, "protocol", str, "TCP"))
        for k, e in enumerate(d.get(d.doc, "endpoints", list, [])):
            addresses = d.get(e, "addresses", list, [])
            if not addresses:
                raise ModelError(f"{d.where}: endpoints[{k}].addresses: empty")
            ready = d.get(e, "conditions.ready", bool, True)
            ep = Endpoint(str(addresses[0]), number, d.get(e, "nodeName", str, None), ready,
                          d.get(e, "conditions.serving", bool, ready),
                          d.get(e, "conditions.terminating", bool, False))
            ports.setdefault(key, {})[host_port(ep.ip, number)] = ep


def _service(d: _Doc, endpoints: dict) -> list[ServicePort]:
    ns, name = _name(d)
    spec = d.get(d.doc, "spec", dict, {})
    svc_type = d.get(spec, "type", str, "ClusterIP")
    cluster_ip = d.get(spec, "clusterIP", str, "")
    if svc_type == "ExternalName" or cluster_ip in ("", "None"):
        return []                                 # kube-proxy skips these
    external_ips = tuple(str(x) for x in d.get(spec, "externalIPs", list, []))
    lb = tuple(str(i["ip"]) for i in d.get(d.doc, "status.loadBalancer.ingress", list, [])
               if isinstance(i, dict) and i.get("ip"))
    affinity = (d.get(spec, "sessionAffinityConfig.clientIP.timeoutSeconds", int, 10800)
                if d.get(spec, "sessionAffinity", str, "None") == "ClientIP" else 0)
    mine = endpoints.get((ns, name), {})
    out = []
    for j, p in enumerate(d.get(spec, "ports", list, [])):
        if not isinstance(p, dict) or not isinstance(p.get("port"), int):
            raise ModelError(f"{d.where}: spec.ports[{j}].port: missing or not a whole number")
        port_name, proto = d.get(p, "name", str, ""), d.get(p, "protocol", str, "TCP")
        out.append(ServicePort(
            ns, name, port_name, proto, p["port"], cluster_ip, svc_type,
            d.get(p, "nodePort", int, 0) if svc_type in ("NodePort", "LoadBalancer") else 0,
            external_ips, lb if svc_type == "LoadBalancer" else (),
            tuple(str(x) for x in d.get(spec, "loadBalancerSourceRanges", list, [])),
            _external_local(svc_type, external_ips, d.get(spec, "externalTrafficPolicy", str, "Cluster")),
            d.get(spec, "internalTrafficPolicy", str, "Cluster") == "Local", affinity,
            d.get(spec, "healthCheckNodePort", int, 0), _sorted(mine.get((port_name, proto), {}).values())))
    return out
